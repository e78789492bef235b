"""Table 2's alignment scorers: each equals its published scoring code on random weights
(tiny sizes of the real architectures), refuses missing weights with the offline message,
and runs through the runner and the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli, write_results
from PIL import Image

from bench.errors import AssetMissing, BenchError
from bench.registry import create_method, get_method_info

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))
from make_alignment_references import images as reference_images  # noqa: E402

# OpenAI's CLIP layout at a tiny size: heads = width // 64 as in OpenAI's build_model, QuickGELU.
OPENAI_TINY = {"embed_dim": 16, "quick_gelu": True,
               "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 64},
               "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1}}
PROMPTS = ["a red cat", "two dogs on the grass, oil painting", "an astronaut " * 40, "", "a blue car"]


@pytest.fixture(scope="module")
def open_clip_configs(tmp_path_factory):
    """Tiny open_clip architectures, registered by name as open_clip's own configs are."""
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip_configs")
    hpsv2 = torch.load(DATA / "hpsv2_published_reference.pt", weights_only=True)
    for name, config in (("ipiqa-test-openai-tiny", OPENAI_TINY),
                         ("ipiqa-test-hpsv2-tiny", hpsv2["open_clip_config"])):
        (folder / f"{name}.json").write_text(json.dumps(config))
        open_clip.add_model_config(str(folder / f"{name}.json"))


@pytest.fixture
def pairs(tmp_path):
    """Generated images of several sizes and aspect ratios, one prompt each."""
    paths = []
    for i, img in enumerate(reference_images()):
        Image.fromarray(img).save(tmp_path / f"img{i}.png")
        paths.append(str(tmp_path / f"img{i}.png"))
    return paths, PROMPTS[:len(paths)]


def openai_tiny_clip(seed: int = 0):
    """OpenAI's own CLIP class (the `clip` package, as used by Hessel et al. and HPS v1)."""
    clip = pytest.importorskip("clip")
    torch.manual_seed(seed)
    return clip, clip.model.CLIP(16, 32, 1, 64, 16, 77, 49408, 64, 1, 1).float().eval()


def openai_reference_cosine(clip, model, paths, texts):
    """Cosine of image and text embeddings exactly as Hessel et al.'s clipscore.py and
    align_sd's evaluate_hps.py compute it with the `clip` package."""
    preprocess = clip.clip._transform(model.visual.input_resolution)
    with torch.no_grad():
        image = model.encode_image(torch.stack([preprocess(Image.open(p)) for p in paths]))
        text = model.encode_text(clip.tokenize(texts, context_length=77, truncate=True))
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    return (image * text).sum(-1).numpy()


def test_table2_methods_are_registered_with_the_paper_names():
    paper = pd.read_csv(Path(__file__).resolve().parents[1] / "bench" / "data" / "paper_tables.csv")
    table2 = set(paper.loc[paper["table"] == 2, "method"])
    for name, display in (("clipscore", "CLIPScore"), ("imagereward", "ImageReward"), ("hps", "HPS")):
        info = get_method_info(name)
        assert info.display == display and display in table2
        assert info.family == "alignment" and info.uses_prompt and not info.trains
        assert info.targets == ("alignment", "mos") and info.assets
    assert get_method_info("hpsv2").display == "HPS v2"
    with pytest.raises(BenchError):  # not implemented: its published description is not available here
        get_method_info("stairreward")


def test_clipscore_equals_the_formula_computed_directly_with_open_clip(open_clip_configs, pairs, tmp_path):
    import open_clip

    paths, prompts = pairs
    torch.manual_seed(1)
    torch.save(open_clip.create_model("ipiqa-test-openai-tiny").state_dict(), tmp_path / "weights.pt")
    ours = create_method("clipscore", model="ipiqa-test-openai-tiny", pretrained=str(tmp_path / "weights.pt"),
                         device="cpu").features_of_rows(paths, prompts)[:, 0]

    model = open_clip.create_model("ipiqa-test-openai-tiny", pretrained=str(tmp_path / "weights.pt")).eval()
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
    tokenizer = open_clip.get_tokenizer("ipiqa-test-openai-tiny")
    with torch.no_grad():
        image = model.encode_image(torch.stack([preprocess(Image.open(p)) for p in paths]))
        text = model.encode_text(tokenizer(["A photo depicts " + p for p in prompts]))
    cosine = torch.nn.functional.cosine_similarity(image, text).numpy()
    np.testing.assert_allclose(ours, 2.5 * np.maximum(cosine, 0), atol=1e-6)
    assert (cosine < 0).any() and (cosine > 0).any()  # both sides of the max(·, 0) are exercised


def test_clipscore_loads_openai_release_files_like_hessel_et_al(open_clip_configs, pairs, tmp_path):
    """OpenAI's release files are TorchScript archives (the default ViT-B-32.pt is one)."""
    paths, prompts = pairs
    clip, reference = openai_tiny_clip(seed=3)
    clip.model.convert_weights(reference)  # OpenAI's release stores float16 weights; clip.load(cpu) casts up
    reference.float()
    traced = torch.jit.trace_module(reference, {"encode_image": torch.randn(1, 3, 32, 32),
                                                "encode_text": clip.tokenize(["a photo"])})
    traced.save(str(tmp_path / "openai-tiny.pt"))
    ours = create_method("clipscore", model="ipiqa-test-openai-tiny", pretrained=str(tmp_path / "openai-tiny.pt"),
                         device="cpu").features_of_rows(paths, prompts)[:, 0]
    theirs = 2.5 * np.clip(openai_reference_cosine(clip, reference, paths, ["A photo depicts " + p for p in prompts]),
                           0, None)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert (theirs > 0).sum() >= 2 and (theirs == 0).any()


def test_clipscore_runs_the_vit_b_32_architecture(pairs):
    paths, prompts = pairs
    scorer = create_method("clipscore", pretrained=False, device="cpu")
    scores = scorer.features_of_rows(paths[:2], prompts[:2])
    assert scores.shape == (2, 1) and np.all(np.isfinite(scores)) and np.all(scores >= 0)
    assert scorer.loaded()[0].visual.conv1.weight.shape == (768, 3, 32, 32)  # ViT-B/32's patch embedding


def test_hps_equals_align_sd_evaluate_hps(open_clip_configs, pairs, tmp_path):
    paths, prompts = pairs
    clip, reference = openai_tiny_clip(seed=5)
    torch.save({"state_dict": reference.state_dict()}, tmp_path / "hpc.pt")  # hpc.pt's layout
    ours = create_method("hps", model="ipiqa-test-openai-tiny", pretrained=str(tmp_path / "hpc.pt"),
                         device="cpu").features_of_rows(paths, prompts)[:, 0]
    np.testing.assert_allclose(ours, openai_reference_cosine(clip, reference, paths, prompts), atol=1e-6)


def test_hpsv2_equals_the_published_hpsv2_package(open_clip_configs, pairs, tmp_path):
    """Reference: hpsv2 1.2.0's hpsv2.img_score.score on the same random tiny weights."""
    from make_alignment_references import token_embedding

    paths, _ = pairs
    reference = torch.load(DATA / "hpsv2_published_reference.pt", weights_only=True)
    state = dict(reference["state_dict"], **{"token_embedding.weight": token_embedding(49408, 16)})
    torch.save({"state_dict": state}, tmp_path / "HPS_v2_compressed.pt")
    ours = create_method("hpsv2", model="ipiqa-test-hpsv2-tiny", pretrained=str(tmp_path / "HPS_v2_compressed.pt"),
                         device="cpu").features_of_rows(paths, reference["prompts"])[:, 0]
    np.testing.assert_allclose(ours, reference["outputs"], atol=1e-6)


def test_hpsv2_pads_non_square_images_to_a_centred_square():
    from methods.alignment.hps import hpsv2_transform

    wide = hpsv2_transform(32)(Image.fromarray(np.full((20, 80, 3), 255, np.uint8)))
    assert wide.shape == (3, 32, 32)
    rows_with_image = (wide[0] > 0).any(dim=1).nonzero().flatten()  # white image, zero (black) padding
    assert rows_with_image.min() == 12 and rows_with_image.max() == 19  # 8 rows, centred


def _imagereward_files(tmp_path, reference) -> dict:
    (tmp_path / "vocab.txt").write_text("\n".join(reference["vocab"]) + "\n")
    (tmp_path / "med_config.json").write_text(json.dumps(reference["med_config"]))
    return {"med_config": str(tmp_path / "med_config.json"), "vocab": str(tmp_path / "vocab.txt"),
            "vit": reference["vit"], "image_size": reference["image_size"], "device": "cpu"}


def test_imagereward_equals_the_published_image_reward_package(pairs, tmp_path):
    """Reference: image-reward 1.5's ImageReward.score on the same random tiny weights."""
    paths, _ = pairs
    reference = torch.load(DATA / "imagereward_published_reference.pt", weights_only=True)
    torch.save(reference["state_dict"], tmp_path / "ImageReward.pt")
    scorer = create_method("imagereward", pretrained=str(tmp_path / "ImageReward.pt"),
                           **_imagereward_files(tmp_path, reference))
    ours = scorer.features_of_rows(paths, reference["prompts"])[:, 0]
    np.testing.assert_allclose(ours, reference["outputs"], atol=1e-6)
    assert np.ptp(reference["outputs"]) > 100 * 1e-6  # the rewards differ by far more than the tolerance


def test_imagereward_refuses_a_checkpoint_with_missing_weights(tmp_path):
    reference = torch.load(DATA / "imagereward_published_reference.pt", weights_only=True)
    state = {k: v for k, v in reference["state_dict"].items() if not k.startswith("mlp.layers.7")}
    torch.save(state, tmp_path / "ImageReward.pt")
    scorer = create_method("imagereward", pretrained=str(tmp_path / "ImageReward.pt"),
                           **_imagereward_files(tmp_path, reference))
    with pytest.raises(BenchError, match="missing.*mlp.7"):
        scorer.loaded()


@pytest.mark.parametrize("method, filename, host", [
    ("clipscore", "ViT-B-32.pt", "https://openaipublic"),
    ("imagereward", "med_config.json", "https://huggingface.co/THUDM/ImageReward"),
    ("hps", "hpc.pt", "https://mycuhk-my.sharepoint.com"),
    ("hpsv2", "HPS_v2_compressed.pt", "https://huggingface.co/xswu/HPSv2"),
])
def test_missing_weights_fail_with_the_offline_message(method, filename, host):
    with pytest.raises(AssetMissing) as info:
        create_method(method, device="cpu").loaded()
    message = str(info.value)
    assert filename in message and host in message and "put it at" in message


def test_weights_shared_only_as_a_web_page_are_never_downloaded(monkeypatch):
    from bench.assets import resolve

    monkeypatch.delenv("IPIQA_BENCH_OFFLINE")
    with pytest.raises(AssetMissing, match="hpc.pt.*no direct download link"):
        resolve("hps-v1-hpc")


def test_score_command_reports_missing_weights_in_one_line(pairs):
    paths, _ = pairs
    result = run_cli("score", "--method", "clipscore", "--prompt", "a red cat", "--device", "cpu", paths[0])
    assert result.exit_code == 2
    assert "ViT-B-32.pt" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_feature_cache_key_follows_the_scoring_config():
    base = create_method("clipscore")
    assert create_method("clipscore", device="cpu", batch_size=3).feature_key == base.feature_key
    assert create_method("clipscore", model="ViT-B-16").feature_key != base.feature_key
    assert create_method("clipscore", prefix="").feature_key != base.feature_key


def test_runner_scores_every_split_with_a_local_checkpoint(open_clip_configs, tiny_dataset, results_dir, tmp_path):
    """A configured local checkpoint needs no registered asset; scores are computed once per
    (image, prompt) and reused by every split and by a rerun."""
    import open_clip

    from bench.datasets import load_dataset
    from bench.results.manifest import RunManifest
    from bench.run.executors import LocalExecutor
    from bench.run.runner import RunOptions, run_benchmark
    from bench.splits import SplitConfig

    torch.manual_seed(4)
    torch.save(open_clip.create_model("ipiqa-test-openai-tiny").state_dict(), tmp_path / "weights.pt")
    options = RunOptions(results_dir=results_dir, splits=SplitConfig(3, 0, 0.2), device="cpu",
                         overrides={"model": "ipiqa-test-openai-tiny", "pretrained": str(tmp_path / "weights.pt")})
    data = load_dataset("tinyfiles")
    assert [o.status for o in run_benchmark(["clipscore"], data, options, LocalExecutor())] == ["done"]
    out = results_dir / "tinyfiles" / "clipscore"
    manifest = RunManifest.read(out)
    assert manifest.config["model"] == "ipiqa-test-openai-tiny" and manifest.features["computed"] == 40
    predictions = pd.concat(pd.read_csv(out / f"split_{k}.csv") for k in range(3))
    direct = create_method("clipscore", model="ipiqa-test-openai-tiny", pretrained=str(tmp_path / "weights.pt"),
                           device="cpu")
    first = predictions.drop_duplicates("image").set_index("image").sort_index()
    frame = tiny_dataset.set_index("image").loc[first.index]
    expected = direct.features_of_rows(frame["path"].tolist(), frame["prompt"].tolist())[:, 0]
    np.testing.assert_allclose(first["pred"].to_numpy(), expected, atol=1e-6)
    assert [o.status for o in run_benchmark(["clipscore"], data, options, LocalExecutor())] == ["up-to-date"]


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv"])
def test_table2_renders_with_the_paper_column(results_dir, fmt):
    write_results(results_dir, "agiqa3k", "clipscore", "CLIPScore", 0.8)
    write_results(results_dir, "agiqa3k", "hpsv2", "HPS v2", 0.5)
    write_results(results_dir, "agiqa3k", "niqe", "NIQE", 0.5, family="handcrafted", target="mos_quality")
    result = run_cli("table", "--results-dir", str(results_dir), "--table", "2", "--paper", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        table = pd.read_csv(pd.io.common.StringIO(result.output)).set_index("method")
        assert set(table["target"]) == {"mos_align"} and set(table.index) == {"clipscore", "hpsv2"}  # Table 2 only
        assert table.loc["clipscore", "paper_srcc"] == 0.5972 and pd.isna(table.loc["hpsv2", "paper_srcc"])
        assert table.loc["clipscore", "delta_srcc"] == pytest.approx(table.loc["clipscore", "srcc_mean"] - 0.5972)
        return
    assert "Table 2: text-to-image alignment" in result.output
    assert ("agiqa3k mos_align SRCC" if fmt == "markdown" else "agiqa3k mos\\_align SRCC") in result.output
    clipscore = next(line for line in result.output.splitlines() if "CLIPScore" in line)
    assert "0.5972" in clipscore and "0.6839" in clipscore and "0.4591" in clipscore  # paper SRCC, PLCC, KRCC
    hpsv2 = next(line for line in result.output.splitlines() if "HPS v2" in line)
    assert "–" in hpsv2  # no paper number for the extra row
    assert not any(line.startswith("| handcrafted") for line in result.output.splitlines())  # Table 1 rows
    if fmt == "latex":
        assert "\\toprule" in result.output
