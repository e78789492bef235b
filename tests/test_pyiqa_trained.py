"""TOPIQ-NR trained in place: the authors' recipe, a tiny fit from random weights, the
offline error for its ImageNet backbone, and a checkpoint that restores the same predictions."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import AssetMissing
from bench.registry import create_method, get_method_info

TINY = {"pretrained": False, "image_size": 64, "train_crop": 48, "epochs": 1, "batch_size": 16, "device": "cpu",
        "num_workers": 0}


def test_registered_as_a_trainable_table1_row_with_the_authors_recipe():
    info = get_method_info("topiq-nr")
    assert info.family == "deep" and info.trains and info.targets == ("quality", "mos")
    assert "PolyForm" in info.licence
    config = create_method("topiq-nr").train_config()
    assert (config.optimizer, config.lr, config.weight_decay, config.batch_size, config.train_crop) == \
        ("adamw", 3e-5, 1e-5, 16, 384)
    assert create_method("topiq-nr", lr=1e-3).train_config().lr == 1e-3  # the CLI still overrides it


def test_tiny_fit_from_random_weights_predicts_and_restores(tiny_dataset, one_torch_thread):
    train, test = tiny_dataset.iloc[:16], tiny_dataset.iloc[32:]  # one step of batch 16
    method = create_method("topiq-nr", **TINY).fit(train, ["mos"])
    model = method.models_[0][1]
    frozen = [p for m in model.semantic_model.modules() if m.__class__.__name__ == "BatchNorm2d" for p in m.parameters()]
    assert frozen and not any(p.requires_grad for p in frozen)  # the authors' frozen BatchNorm
    report = method.report_["models"]["mos"]
    assert len(report["epoch_loss"]) == 1 and np.isfinite(report["epoch_loss"][0])
    pred = method.predict(test)["mos"].to_numpy()
    assert pred.shape == (8,) and np.all(np.isfinite(pred)) and np.ptp(pred) > 0
    restored = create_method("topiq-nr", **TINY).load_checkpoint(method.checkpoint())
    np.testing.assert_allclose(restored.predict(test)["mos"].to_numpy(), pred, atol=1e-5)


def test_missing_backbone_fails_with_the_offline_message(offline_cache, tiny_dataset):
    with pytest.raises(AssetMissing) as info:
        create_method("topiq-nr", **dict(TINY, pretrained=True)).fit(tiny_dataset, ["mos"])
    message = str(info.value)
    assert "timm--resnet50.a1_in1k.safetensors" in message
    assert "https://huggingface.co/timm/resnet50.a1_in1k/resolve/main/model.safetensors" in message
    assert str(offline_cache / "assets") in message
