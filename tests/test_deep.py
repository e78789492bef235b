"""The deep baselines of Table 1: random-init builds, training, results, assets, selection.

Every test here runs with the network cut off: a download attempt (socket, torch hub,
pyiqa's downloader) fails the test, so nothing reaches for weights unasked.
"""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli

from bench.datasets import load_dataset
from bench.errors import AssetMissing
from bench.registry import create_method, get_method_info, resolve_method_names
from bench.run.runner import RunOptions, method_config, run_benchmark
from bench.splits import SplitConfig
from bench.testing.images import write_image_set
from bench.train.loop import ImageDataset, default_config, make_loader, train_model

pytestmark = pytest.mark.usefixtures("no_network")
DEEP = tuple(resolve_method_names("deep"))  # test_registered_as_tables_deep_rows pins the set
PRETRAINED = tuple(n for n in DEEP if get_method_info(n).assets)


def _random(name, **config):
    return {"pretrained": False, **config} if name in PRETRAINED else config


def test_registered_as_tables_deep_rows():
    displays = {name: get_method_info(name).display for name in DEEP}
    assert displays == {"dbcnn": "DBCNN", "cnniqa": "CNNIQA (pyiqa RGB variant)", "hypernet": "HyperNet", "clipiqa": "CLIPIQA",
                        "resnet50": "ResNet50", "resnet50-imagenet": "ResNet50* (ImageNet)",
                        "topiq-nr": "TOPIQ-NR", "ipce": "IPCE",  # rows after the paper
                        "cnniqa-kang": "CNNIQA"}
    assert all(get_method_info(n).family == "deep" and get_method_info(n).trains for n in DEEP)
    assert not get_method_info("resnet50").assets and not get_method_info("cnniqa").assets
    assert set(get_method_info("dbcnn").assets) == {"vgg16-imagenet", "dbcnn-scnn"}


def test_resnet50_from_scratch_starts_each_residual_block_as_the_identity():
    scratch = create_method("resnet50").build_model(1, pretrained=False)
    last_norms = [block.bn3.weight for layer in (scratch.layer1, scratch.layer4) for block in layer]
    assert all(torch.count_nonzero(w) == 0 for w in last_norms)
    assert torch.count_nonzero(scratch.bn1.weight) == scratch.bn1.weight.numel()


@pytest.mark.parametrize("name", [n for n in DEEP if not get_method_info(n).uses_prompt])  # IPCE: tests/test_ipce.py
def test_random_init_build_learns_a_fixed_batch(name, tmp_path):
    """Each network, built with random weights, lowers its loss on one repeated batch."""
    # 8 images at 64 px (HyperNet: 2 at its 224-px patch size): BatchNorm over 2 images whose
    # last feature maps are 1x1 maps every channel to +-1, and the loss then jumps around
    # whatever the step size (it went up after 3 steps with one torch thread, down with two).
    n, size, epochs = (2, 224, 3) if name == "hypernet" else (8, 64, 5)
    frame = write_image_set(tmp_path, n_groups=1, per_group=n)
    method = create_method(name, **_random(name))
    # Adam at 1e-4: small enough for a from-scratch ResNet-50; CNNIQA's dropout needs more. The
    # test's own optimiser settings (MSE, no weight decay), whatever the method's recipe.
    config = replace(default_config(name), optimizer="adam", lr=1e-3 if name == "cnniqa" else 1e-4, epochs=epochs,
                     batch_size=n, image_size=size, hflip=False, num_workers=0, loss="mse", weight_decay=0.0,
                     lr_schedule="constant")
    torch.manual_seed(0)
    model = method.build_model(1, pretrained=False)
    y = (frame["mos"] - frame["mos"].min()).to_numpy()[:, None] / np.ptp(frame["mos"])
    loader = make_loader(ImageDataset(frame, method.transform(replace(config, train_crop=None), True), y), n,
                         config, shuffle=False, device="cpu")
    report = train_model(model, method.forward, method.param_groups(model, config.lr), loader, config, "cpu")
    assert report.epoch_loss[-1] < report.epoch_loss[0], report.epoch_loss


@pytest.fixture
def micro_dataset(tmp_path, monkeypatch):
    """The 'tinyfiles' plugin dataset with 20 images in 5 groups: 1 split = 16 train, 4 test."""
    root = tmp_path / "micro"
    frame = write_image_set(root, n_groups=5, per_group=4)
    frame.drop(columns="path").to_csv(root / "labels.csv", index=False)
    monkeypatch.setenv("TEST_TINY_ROOT", str(root))
    return frame


def _run(names, overrides, results_dir):
    from bench.run.executors import LocalExecutor

    options = RunOptions(results_dir=results_dir, splits=SplitConfig(n_splits=1), device="cpu",
                         overrides={"epochs": 1, "batch_size": 8, "image_size": 32, "num_workers": 0, **overrides})
    return {o.method: o for o in run_benchmark(list(names), load_dataset("tinyfiles"), options, LocalExecutor())}


def _report(results_dir, name):
    return json.loads((results_dir / "tinyfiles" / name / "run.json").read_text())


def test_missing_weights_fail_their_method_and_the_others_complete(micro_dataset, results_dir):
    outcomes = _run(DEEP, {}, results_dir)
    for name in PRETRAINED:
        assert outcomes[name].status == "failed"
        message = outcomes[name].message
        assert "is not available" in message and "download it from https://" in message
        assert get_method_info(name).assets[0] in message
    assert {outcomes[n].status for n in ("cnniqa", "resnet50")} == {"done"}
    report = _report(results_dir, "resnet50")["splits"]["0"]["report"]
    assert report["selection"] == "final" and report["models"]["mos"]["selected_epoch"] == 1
    assert report["train_config"]["optimizer"] == "adam" and report["device"] == "cpu"
    listing = run_cli("list").output
    assert "resnet50-0676ba61.pth (missing)" in listing and "RN50.pt (missing)" in listing


# Every architecture's random-init run through the runner (results layout, checkpoint,
# "[random init]" row) is in tests/test_method_contract.py.
def test_clipiqa_keeps_its_optimiser_and_hypernet_refuses_small_images(micro_dataset, results_dir):
    config = method_config(get_method_info("clipiqa"), RunOptions(overrides={"pretrained": False}), "tinyfiles")
    assert config["pretrained"] is False and config["lr"] == 2e-3  # CLIP-IQA+'s own optimiser settings
    too_small = _run(["hypernet"], {"pretrained": False, "image_size": 64}, results_dir / "small")
    assert "at least 224" in too_small["hypernet"].message


def test_checkpoint_scores_like_the_run_and_training_is_deterministic(micro_dataset, results_dir, tmp_path):
    assert _run(["cnniqa"], {"epochs": 2}, results_dir)["cnniqa"].status == "done"
    written = pd.read_csv(results_dir / "tinyfiles" / "cnniqa" / "split_0.csv")
    checkpoint = results_dir / "tinyfiles" / "cnniqa" / "checkpoints" / "split_0.pt"
    paths = [str(tmp_path / "micro" / name) for name in written["image"]]
    result = run_cli("score", "--method", "cnniqa", "--checkpoint", str(checkpoint), "--device", "cpu", *paths)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert np.allclose(scored["mos"], written["pred"], atol=1e-5)
    # A second identical run (fresh results folder) gives the same predictions on CPU.
    assert _run(["cnniqa"], {"epochs": 2}, tmp_path / "again")["cnniqa"].status == "done"
    again = pd.read_csv(tmp_path / "again" / "tinyfiles" / "cnniqa" / "split_0.csv")
    assert np.array_equal(again["pred"], written["pred"])
    bad = run_cli("score", "--method", "resnet50", "--checkpoint", str(checkpoint), paths[0])
    assert bad.exit_code != 0 and "written by cnniqa" in bad.stderr


@pytest.mark.parametrize("selection", ["val", "best-on-test"])
def test_epoch_selection_policies(selection, micro_dataset, results_dir):
    assert _run(["cnniqa"], {"epochs": 3, "selection": selection}, results_dir)["cnniqa"].status == "done"
    manifest = _report(results_dir, "cnniqa")
    report = manifest["splits"]["0"]["report"]
    model = report["models"]["mos"]
    assert manifest["config"]["selection"] == selection and len(model["selection_scores"]) == 3
    assert model["selected_epoch"] == int(np.argmax(model["selection_scores"])) + 1
    written = pd.read_csv(results_dir / "tinyfiles" / "cnniqa" / "split_0.csv")
    if selection == "val":  # carved from the training side: fewer training images, no test image
        assert report["n_selection"] > 0 and report["n_train"] + report["n_selection"] == 20 - len(written)
    else:  # the written predictions are the selected epoch's: their score is the recorded one
        from bench.train.loop import selection_score

        score = selection_score(written[["pred"]].to_numpy(), written[["mos"]].to_numpy())
        assert score == pytest.approx(max(model["selection_scores"]), abs=1e-5)
        table = run_cli("table", "--results-dir", str(results_dir)).output
        assert "CNNIQA (pyiqa RGB variant) [best epoch on test set]" in table


def test_joint_targets_train_one_model_for_all(tmp_path):
    frame = write_image_set(tmp_path, n_groups=3, per_group=2).assign(mos_quality=lambda f: -f["mos"])
    method = create_method("cnniqa", joint_targets=True, epochs=1, batch_size=6, image_size=32, num_workers=0,
                           device="cpu").fit(frame, ["mos", "mos_quality"])
    assert len(method.models_) == 1 and list(method.report_["models"]) == ["mos,mos_quality"]
    assert list(method.predict(frame).columns) == ["mos", "mos_quality"]


def test_pretrained_files_are_loaded_from_the_asset_cache(offline_cache, monkeypatch):
    """Offline, the pretrained code path reads the files placed in the cache (checksums aside)."""
    import torchvision
    from pyiqa.archs.dbcnn_arch import SCNN

    import methods.deep as deep

    imagenet = torchvision.models.resnet50(weights=None).state_dict()
    (offline_cache / "assets").mkdir()
    torch.save(imagenet, offline_cache / "assets" / "resnet50-0676ba61.pth")
    with pytest.raises(AssetMissing, match="sha256 prefix 0676ba61"):  # a stand-in file fails verification
        create_method("resnet50-imagenet").build_model(1, pretrained=True)

    monkeypatch.setattr(deep, "check_prefix", lambda path, asset: path)
    star = create_method("resnet50-imagenet").build_model(2, pretrained=True)
    assert torch.equal(star.conv1.weight, imagenet["conv1.weight"]) and star.fc.out_features == 2
    hyper = create_method("hypernet").build_model(1, pretrained=True)
    assert torch.equal(hyper.base_model.layer4[2].conv3.weight, imagenet["layer4.2.conv3.weight"])

    scnn = {k: torch.randn_like(v) if v.is_floating_point() else v
            for k, v in SCNN().state_dict().items()}
    torch.save(scnn, offline_cache / "assets" / "DBCNN_scnn-7ea73d75.pth")
    vgg = torchvision.models.vgg16(weights=None).state_dict()
    monkeypatch.setattr(deep, "_torchvision_state", lambda asset: vgg)
    dbcnn = create_method("dbcnn").build_model(1, pretrained=True)
    assert torch.equal(dbcnn.features2[0].weight, scnn["features.0.weight"])
    assert torch.equal(dbcnn.features1[0].weight, vgg["features.0.weight"])
    assert all(p.requires_grad for p in dbcnn.parameters())

    with pytest.raises(AssetMissing, match="RN50.pt"):
        create_method("clipiqa").build_model(1, pretrained=True)
