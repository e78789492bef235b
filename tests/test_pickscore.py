"""PickScore equals the authors' published scoring code (``calc_probs`` before its softmax)
on a random tiny CLIPModel of the same architecture family, and refuses missing weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.errors import AssetMissing, BenchError
from bench.registry import create_method, get_method_info

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))
from make_alignment_references import PROMPTS, images  # noqa: E402

# transformers' CLIPConfig at a tiny size: PickScore_v1 is the same class at ViT-H/14 size.
TINY = {"text_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 2},
        "vision_config": {"hidden_size": 48, "intermediate_size": 96, "num_attention_heads": 2,
                          "num_hidden_layers": 2, "image_size": 32, "patch_size": 16},
        "projection_dim": 16}


@pytest.fixture
def tiny_pickscore(tmp_path):
    """A random tiny CLIPModel saved as PickScore_v1 is published: config.json + model.safetensors."""
    from safetensors.torch import save_file
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(**TINY)
    config.to_json_file(tmp_path / "config.json")
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    with torch.no_grad():
        model.logit_scale.fill_(4.6052)  # the trained model's scale (e^4.6 = 100), not the init's
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "model.safetensors")
    paths = []
    for i, img in enumerate(images()):
        Image.fromarray(img).save(tmp_path / f"img{i}.png")
        paths.append(str(tmp_path / f"img{i}.png"))
    return model, tmp_path, paths


def published_scores(model, prompt, pil_images):
    """The published calc_probs up to its softmax, with the laion processor's settings
    (transformers' default CLIPImageProcessor at the model's image size, CLIP's BPE tokens)."""
    from transformers import CLIPImageProcessor, CLIPProcessor

    from methods.alignment.pickscore import clip_tokenizer

    size = model.config.vision_config.image_size
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": size},
                                                                 crop_size={"height": size, "width": size}),
                              tokenizer=clip_tokenizer())
    image_inputs = processor(images=pil_images, padding=True, truncation=True, max_length=77, return_tensors="pt")
    text_inputs = processor(text=prompt, padding=True, truncation=True, max_length=77, return_tensors="pt")
    with torch.no_grad():
        image_embs = model.get_image_features(**image_inputs).pooler_output
        image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
        text_embs = model.get_text_features(**text_inputs).pooler_output
        text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
        return (model.logit_scale.exp() * (text_embs @ image_embs.T)[0]).numpy()


def test_registered_as_an_alignment_row():
    info = get_method_info("pickscore")
    assert info.family == "alignment" and info.uses_prompt and not info.trains and info.display == "PickScore"
    assert info.targets == ("alignment", "mos") and info.higher_is_better


def test_tokens_are_clips_bpe_tokens():
    import open_clip

    from methods.alignment.pickscore import clip_tokenizer

    prompts = [p for p in PROMPTS] + ["a photo of a cat"]
    ours = clip_tokenizer()(prompts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    theirs = open_clip.get_tokenizer("ViT-H-14")(prompts)  # OpenAI's SimpleTokenizer, independently
    for row, ref in zip(ours["input_ids"], theirs):
        n = int((ref != 0).sum())
        assert torch.equal(row[:n], ref[:n])
    assert ours["input_ids"][-1][:7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]  # "a photo of a cat"
    assert int(ours["attention_mask"][4].sum()) == 77  # the long prompt is truncated to 77 tokens


def test_pickscore_equals_the_published_scoring_code(tiny_pickscore):
    model, folder, paths = tiny_pickscore
    ours = create_method("pickscore", pretrained=str(folder / "model.safetensors"), config=str(folder / "config.json"),
                         device="cpu").features_of_rows(paths, PROMPTS)[:, 0]
    theirs = np.array([published_scores(model, prompt, [Image.open(path)])[0] for prompt, path in zip(PROMPTS, paths)])
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert np.ptp(theirs) > 1.0  # scores spread far beyond the tolerance
    # The published softmax ranks one prompt's images by the same scores.
    ranked = published_scores(model, PROMPTS[0], [Image.open(p) for p in paths])
    again = create_method("pickscore", pretrained=str(folder / "model.safetensors"), config=str(folder / "config.json"),
                          device="cpu").features_of_rows(paths, [PROMPTS[0]] * len(paths))[:, 0]
    np.testing.assert_allclose(again, ranked, atol=1e-4)


def test_random_init_scores_generated_images(tiny_pickscore):
    _, folder, paths = tiny_pickscore
    scores = create_method("pickscore", pretrained=False, config=str(folder / "config.json"),
                           device="cpu").features_of_rows(paths, PROMPTS)
    assert scores.shape == (len(paths), 1) and np.all(np.isfinite(scores))


def test_a_checkpoint_of_another_shape_is_refused(tiny_pickscore, tmp_path):
    from safetensors.torch import save_file

    model, folder, _ = tiny_pickscore
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "visual_projection.weight"}
    save_file(state, tmp_path / "partial.safetensors")
    scorer = create_method("pickscore", pretrained=str(tmp_path / "partial.safetensors"),
                           config=str(folder / "config.json"), device="cpu")
    with pytest.raises(BenchError, match="missing.*visual_projection"):
        scorer.loaded()


def test_missing_files_fail_with_the_offline_message(offline_cache, tiny_pickscore):
    with pytest.raises(AssetMissing) as info:
        create_method("pickscore", device="cpu").loaded()
    assert "PickScore_v1.config.json" in str(info.value) and "PickScore_v1/resolve/main/config.json" in str(info.value)
    (offline_cache / "assets").mkdir(parents=True, exist_ok=True)
    (offline_cache / "assets" / "PickScore_v1.config.json").write_text((tiny_pickscore[1] / "config.json").read_text())
    with pytest.raises(AssetMissing) as info:
        create_method("pickscore", device="cpu").loaded()
    message = str(info.value)
    assert "PickScore_v1.safetensors" in message
    assert "https://huggingface.co/yuvalkirstain/PickScore_v1/resolve/main/model.safetensors" in message
    assert str(offline_cache / "assets" / "PickScore_v1.safetensors") in message


def test_runner_scores_the_tiny_dataset(tiny_pickscore, tiny_dataset, results_dir):
    from bench.datasets import load_dataset
    from bench.run.executors import LocalExecutor
    from bench.run.runner import RunOptions, run_benchmark
    from bench.splits import SplitConfig

    _, folder, _ = tiny_pickscore
    options = RunOptions(results_dir=results_dir, splits=SplitConfig(2, 0, 0.2), device="cpu",
                         overrides={"pretrained": str(folder / "model.safetensors"),
                                    "config": str(folder / "config.json")})
    outcomes = run_benchmark(["pickscore"], load_dataset("tinyfiles"), options, LocalExecutor())
    assert [o.status for o in outcomes] == ["done"], outcomes
    manifest = json.loads((results_dir / "tinyfiles" / "pickscore" / "run.json").read_text())
    assert manifest["features"]["computed"] == 40
