"""The demo's stand-in stages (contrastive small CLIP, Image2Prompt on generated pairs), on a
tiny spec: they run, are cached, and hand their checkpoints to the fine-tuning model."""

import json

import pytest
import torch

from methods.ipiqa.image2prompt import load_checkpoint
from methods.ipiqa.model import IPIQA, build_clip, load_i2p_state_dict
from methods.ipiqa.standin import StandinSpec, ensure_standin, retrieval_accuracy, stage_records, standin_dirs

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# at 96 px, the demo stand-in's resolution (the small CLIP's default is 64)
TINY = StandinSpec(image_size=96, render_size=96, clip_pairs=64, clip_epochs=2, clip_batch_size=16, i2p_pairs=24,
                   i2p_epochs=1, i2p_batch_size=8, threshold=-1.0, eval_pairs=12)


def test_a_method_that_reads_only_the_clip_builds_only_the_clip_stage(offline_cache):
    from methods.ipiqa.standin_files import standin_built

    paths = ensure_standin(TINY, image2prompt=False)
    assert paths.clip.is_file() and not paths.i2p.exists()
    assert standin_built(TINY, image2prompt=False) and not standin_built(TINY)
    clip_made = paths.clip.stat().st_mtime_ns
    ensure_standin(TINY)  # IP-IQA then adds stage 2 on the same stage 1
    assert paths.i2p.is_file() and paths.clip.stat().st_mtime_ns == clip_made


def test_stages_are_built_once_and_cached(offline_cache):
    paths = ensure_standin(TINY)
    folders = standin_dirs(TINY)
    assert paths.clip.parent == folders["clip"] and paths.i2p.parent == folders["i2p"]
    assert str(offline_cache) in str(paths.clip)
    records = stage_records(TINY)
    clip_record, i2p_record = records["clip"], records["i2p"]
    assert len(clip_record["losses"]) == 2
    assert set(clip_record["retrieval"]) == {"top1", "n", "colour", "object", "count"}
    assert i2p_record["filter"]["pairs"] == 24 and i2p_record["filter"]["kept"] == 24  # threshold -1 keeps all
    wrong = i2p_record["filter"]["wrong_prompts"]  # ~30% of the pairs got a wrong prompt, all kept here
    assert 0 < wrong["total"] < 24 and wrong["kept"] == wrong["total"] and wrong["removed"] == 0
    assert (folders["i2p"] / "i2p-pairs" / "metadata.parquet").exists()  # DiffusionDB's layout

    # stage 2 started from stage 1 and changed the image tower only
    clip = build_clip("small", str(paths.clip))
    assert clip.visual.image_size == 96  # trained at the spec's resolution, read back from the file
    i2p = load_checkpoint(paths.i2p, "small")
    assert i2p["base_clip"]["sha256"] == paths.record()["standin_clip"]["sha256"]
    start = clip.visual.state_dict()
    assert any(not torch.equal(start[k], v) for k, v in i2p["visual"].items() if v.is_floating_point())
    model = IPIQA(clip, image_size=96, n_outputs=3)
    load_i2p_state_dict(model, i2p["visual"])

    before = {p: p.stat().st_mtime_ns for p in (paths.clip, paths.i2p)}
    again = ensure_standin(TINY)
    assert again == paths and {p: p.stat().st_mtime_ns for p in before} == before  # reused, not rebuilt
    assert json.loads((folders["clip"] / "clip.json").read_text()) == clip_record
    # new Image2Prompt settings reuse the stand-in CLIP
    from dataclasses import replace

    other = replace(TINY, i2p_epochs=2)
    assert standin_dirs(other)["clip"] == folders["clip"] and standin_dirs(other)["i2p"] != folders["i2p"]


class Oracle(torch.nn.Module):
    """Embeds image i and the i-th prompt onto the same axis; every other prompt elsewhere."""

    def __init__(self, prompts, context_length):
        super().__init__()
        from methods.ipiqa.model import get_tokenizer

        self.context_length = context_length
        self.index = {tuple(t.tolist()): i for i, t in enumerate(get_tokenizer(self)(prompts))}
        self.size = len(prompts) + 1

    def encode_image(self, x, normalize=True):
        return torch.eye(self.size)[: len(x)]

    def encode_text(self, tokens, normalize=True):
        return torch.eye(self.size)[[self.index.get(tuple(t.tolist()), self.size - 1) for t in tokens]]


def test_retrieval_accuracy_scores_a_perfect_and_a_blind_model():
    from methods.ipiqa.standin import pair_tensors

    images, prompts = pair_tensors(8, seed=5, spec=TINY)
    perfect = retrieval_accuracy(Oracle(prompts, 32), images, prompts)
    assert perfect == {"top1": 1.0, "n": 8, "colour": 1.0, "object": 1.0, "count": 1.0}
    torch.manual_seed(0)
    blind = retrieval_accuracy(build_clip("small", image_size=TINY.image_size), images, prompts)
    assert blind["top1"] < 1.0 and all(0 <= blind[k] <= 1 for k in ("colour", "object", "count"))


def test_corrupted_pairs_change_exactly_the_named_attribute():
    from bench.datasets.demo_generator import generate_pairs
    from methods.ipiqa.standin import _prompt_parts, corrupted_pairs

    parts_of = _prompt_parts()
    originals = [p for _, p in generate_pairs(40, 3, 16)]
    items = list(corrupted_pairs(generate_pairs(40, 3, 16), 0.5, seed=3))
    wrong = [extra["wrong_attribute"] for _, _, extra in items]
    assert 5 < sum(w is not None for w in wrong) < 35
    for original, (_, prompt, extra) in zip(originals, items):
        before, after = parts_of[original], parts_of[prompt]
        changed = {k for k in before if before[k] != after[k]}
        assert changed == ({extra["wrong_attribute"]} if extra["wrong_attribute"] else set())


def test_a_stand_in_is_named_in_the_config_and_each_name_has_its_own_cache(offline_cache):
    from methods.ipiqa.standin import DEFAULT_SPEC, STANDIN_SPECS, standin_spec

    assert standin_spec(None) is standin_spec("full") is DEFAULT_SPEC
    demo = standin_spec("demo")
    assert demo is STANDIN_SPECS["demo"] and demo.clip_pairs < DEFAULT_SPEC.clip_pairs
    assert standin_dirs("demo")["clip"] != standin_dirs("full")["clip"] == standin_dirs(None)["clip"]
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="unknown stand-in 'tiny'; expected full or demo"):
        standin_spec("tiny")


def test_clipscore_on_the_demo_scores_with_the_stand_in_clip(offline_cache, monkeypatch):
    """No pretrained CLIP offline: on the demo CLIPScore takes the stand-in (stage 1), needs
    no download (so `offline` selects it), and computes Hessel et al.'s formula on it."""
    import numpy as np
    import torch.nn.functional as F

    import methods.ipiqa.standin as standin
    from bench.registry import get_method_info
    from bench.run.runner import RunOptions, method_config
    from methods.alignment.clipscore import PREFIX, STANDIN
    from methods.ipiqa.image2prompt import image_transform
    from methods.ipiqa.model import get_tokenizer

    monkeypatch.setitem(standin.STANDIN_SPECS, "demo", TINY)  # the demo preset's stand-in
    info = get_method_info("clipscore")
    config = method_config(info, RunOptions(results_dir=offline_cache, device="cpu"), "demo")
    assert config["model"] == STANDIN and config["standin"] == "demo"
    assert method_config(info, RunOptions(results_dir=offline_cache), "agiqa3k")["model"] == "ViT-B-32"
    method = info.cls(**config)
    assert method.required_assets() == ()

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (80, 96, 3), dtype=np.uint8) for _ in range(3)]
    prompts = ["two red circles on a plain background", "a blue star", "three green squares"]
    scores = [method.score(image, prompt) for image, prompt in zip(images, prompts)]

    clip = build_clip("small", str(ensure_standin(TINY).clip)).eval()
    from PIL import Image

    pixels = torch.stack([image_transform(clip.visual.image_size, train=False)(Image.fromarray(x)) for x in images])
    with torch.no_grad():
        cosine = (F.normalize(clip.encode_image(pixels), dim=-1)
                  * F.normalize(clip.encode_text(get_tokenizer(clip)([PREFIX + p for p in prompts])), dim=-1)).sum(-1)
    np.testing.assert_allclose(scores, 2.5 * cosine.clamp(min=0).numpy(), atol=1e-5)
