"""The registered IP-IQA methods (Table 3's rows) on the shared training loop: registration,
the demo preset, missing files, a random-init RN50 run through the runner, and a stand-in
run whose manifest records the stand-in checkpoints. Tiny images, offline."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli

from bench.errors import AssetMissing
from bench.registry import create_method, get_method_info
from bench.run.runner import RunOptions, method_config
from bench.testing.images import write_image_set
from methods.ipiqa import standin, standin_files
from methods.ipiqa.standin import StandinSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROWS = {"ipiqa-base": (False, False, "frozen"), "ipiqa-i2p": (True, False, "frozen"),
        "ipiqa-prompt": (False, True, "frozen"), "ipiqa-i2p-prompt": (True, True, "frozen"),
        "ipiqa": (True, True, "qa_token")}
TINY = StandinSpec(render_size=64, clip_pairs=48, clip_epochs=1, clip_batch_size=16, i2p_pairs=16,
                   i2p_epochs=1, i2p_batch_size=8, threshold=-1.0, eval_pairs=6)


def test_registered_rows():
    for name, (i2p, prompt, mode) in ROWS.items():
        info = get_method_info(name)
        assert info.family == "ipiqa" and info.trains and info.uses_prompt == prompt
        assert info.targets == ("quality", "alignment", "mos") and info.assets == ("clip-rn50-openai",)
        assert info.resources == {"num_gpus": 1}
        config = info.cls().get_config()
        assert (config["image2prompt"], config["use_prompt"], config["prompt_mode"]) == (i2p, prompt, mode)
        assert config["clip"] == "RN50" and config["dropout"] == 0.5
        assert (config["lr"], config["epochs"], config["image_size"]) == (1e-5, 100, 512)  # the paper's protocol
        assert config["lr_schedule"] == "constant"
    assert get_method_info("ipiqa").display == "IP-IQA"  # the name in the paper's tables


def test_demo_preset_uses_the_stand_in_and_needs_no_download():
    info = get_method_info("ipiqa")
    demo = method_config(info, RunOptions(overrides={"epochs": 7}), "demo")
    assert demo["clip"] == "small" and demo["image_size"] == 96 and demo["lr"] == 3e-4 and demo["epochs"] == 7
    assert demo["lr_schedule"] == "cosine" and method_config(info, RunOptions(), "demo")["epochs"] == 36
    assert demo["standin"] == "demo" and demo["freeze_trunk"] and not demo["hflip"]
    assert info.cls(**demo).loader_path(info.cls(**demo).train_config()) == "trunk-features"
    full = method_config(info, RunOptions(preset="full"), "demo")
    assert (full["clip"], full["standin"], full["image_size"], full["epochs"], full["lr"]) == ("small", "full", 128, 60, 3e-4)
    assert not full["freeze_trunk"] and full["hflip"]
    constant = method_config(info, RunOptions(overrides={"lr_schedule": "constant"}), "demo")
    assert info.cls(**constant).train_config().lr_schedule == "constant"
    assert info.cls(**demo).required_assets() == ()
    assert info.cls(**demo).get_config()["dropout"] == 0.1 and info.cls(**{**demo, "dropout": 0.3}).dropout == 0.3
    real = method_config(info, RunOptions(), "agiqa3k")
    assert real["clip"] == "RN50" and info.cls(**real).required_assets() == info.assets
    assert info.cls(**{**real, "pretrained": False}).required_assets() == ()
    assert info.cls(**{**real, "clip_weights": "RN50-local.pt"}).required_assets() == ()


def test_missing_image2prompt_checkpoint_says_how_to_make_it(tmp_path):
    with pytest.raises(AssetMissing, match=r"image2prompt-RN50\.pt does not exist: `ipiqa-bench pretrain image2prompt"):
        create_method("ipiqa")._i2p_path()
    with pytest.raises(AssetMissing, match="elsewhere.pt does not exist"):
        create_method("ipiqa", i2p_checkpoint=str(tmp_path / "elsewhere.pt"))._i2p_path()


def _run(results_dir, *extra):
    return run_cli("run", "--methods", "ipiqa-i2p-prompt", "--dataset", "tinyfiles", "--splits", "1", "--epochs", "1",
                   "--batch-size", "8", "--image-size", "32", "--device", "cpu", "--results-dir", str(results_dir),
                   *extra)


def test_rn50_without_weights_fails_clearly_and_random_init_runs(tiny_dataset, results_dir):
    failed = _run(results_dir)
    assert failed.exit_code == 1
    assert "ipiqa-i2p-prompt failed: pretrained file 'RN50.pt' (clip-rn50-openai) is not available" in failed.stderr

    assert _run(results_dir / "random", "--random-init").exit_code == 0
    manifest = json.loads((results_dir / "random" / "tinyfiles" / "ipiqa-i2p-prompt" / "run.json").read_text())
    assert manifest["config"]["clip"] == "RN50" and manifest["config"]["pretrained"] is False
    report = manifest["splits"]["0"]["report"]
    assert report["backbone"] == {"clip": "RN50", "random_init": True, "seed": 0}
    assert report["models"]["mos"]["train_images_per_s"] > 0
    table = run_cli("table", "--ablation", "--results-dir", str(results_dir / "random")).output
    assert "| 4     | IP-IQA +Image2Prompt +prompt [random init]" in table  # no i2p checkpoint loaded


def test_stand_in_fit_predict_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(standin_files, "DEFAULT_SPEC", TINY)  # what standin_spec(None) reads
    frame = write_image_set(tmp_path, n_groups=4, per_group=3).assign(
        mos_align=lambda f: np.arange(len(f)) % 3, prompt=lambda f: "two red stars on a plain background, flat style")
    method = create_method("ipiqa", clip="small", epochs=1, batch_size=4, num_workers=0, device="cpu")
    assert method.train_config().image_size == 128
    method.fit(frame, ["mos", "mos_align"])
    backbone = method.report_["backbone"]
    paths = standin.ensure_standin()
    assert backbone["clip"] == "small" and backbone["sha256"] == backbone["standin"]["standin_clip"]["sha256"]
    assert backbone["image2prompt"]["path"] == str(paths.i2p)
    assert backbone["standin"]["standin_i2p"]["sha256"] == backbone["image2prompt"]["sha256"]
    predicted = method.predict(frame)
    assert list(predicted.columns) == ["mos", "mos_align"] and predicted.notna().all().all()

    again = create_method("ipiqa").load_checkpoint(method.checkpoint())
    assert again.clip == "small"
    pd.testing.assert_frame_equal(again.predict(frame), predicted, atol=1e-5, rtol=0)


def test_feature_cache_trains_as_running_the_frozen_trunk_every_step(tmp_path, monkeypatch):
    monkeypatch.setattr(standin_files, "DEFAULT_SPEC", TINY)  # what standin_spec(None) reads
    frame = write_image_set(tmp_path, n_groups=4, per_group=3).assign(
        mos_align=lambda f: np.arange(len(f)) % 3, prompt=lambda f: "two red stars on a plain background, flat style")
    config = dict(clip="small", freeze_trunk=True, hflip=False, image_size=64, epochs=2, batch_size=4,
                  num_workers=0, device="cpu")
    fitted = {}
    for cache in (True, False):
        method = create_method("ipiqa", feature_cache=cache, **config).fit(frame, ["mos", "mos_align"])
        fitted[cache] = method
    assert fitted[True].report_["loader"] == "trunk-features" and fitted[False].report_["loader"] == "image-cache"
    cached, direct = (fitted[c].report_["models"]["mos,mos_align"] for c in (True, False))
    np.testing.assert_allclose(cached["epoch_loss"], direct["epoch_loss"], rtol=1e-4)
    predicted = fitted[True].predict(frame)
    pd.testing.assert_frame_equal(predicted, fitted[False].predict(frame), atol=1e-4, rtol=0)
    # the trunk is still the Image2Prompt stage's, and a checkpoint predicts the same through the cache
    model = fitted[True].models_[0][1]
    start = create_method("ipiqa", **config).build_model(2, pretrained=True)
    for mine, theirs in zip(model.trunk_parameters(), start.trunk_parameters()):
        assert torch.equal(mine, theirs)
    again = create_method("ipiqa").load_checkpoint(fitted[True].checkpoint())
    pd.testing.assert_frame_equal(again.predict(frame), predicted, atol=1e-5, rtol=0)
    with_flips = create_method("ipiqa", **{**config, "hflip": True})
    assert with_flips.loader_path(with_flips.train_config()) == "image-cache"  # flips change the maps
