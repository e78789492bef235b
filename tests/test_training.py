"""The shared training loop: config, data, seeding, epoch selection (tiny CPU models)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from bench.errors import BenchError
from bench.testing.images import write_image_set
from bench.train.loop import (
    PAPER,
    ImageDataset,
    TrainConfig,
    carve_validation,
    default_config,
    image_transform,
    make_loader,
    predict_model,
    selection_score,
    train_model,
)
from bench.train.torch_method import TorchMethod


def test_defaults_are_the_papers_protocol_with_documented_departures():
    assert (PAPER.optimizer, PAPER.batch_size, PAPER.lr, PAPER.epochs, PAPER.image_size) == ("adam", 40, 1e-5, 100, 512)
    assert default_config("resnet50") == PAPER
    assert default_config("hypernet").train_crop == 224
    assert default_config("clipiqa").optimizer == "sgd"
    assert PAPER.with_overrides(epochs=3, lr=None).epochs == 3 and PAPER.with_overrides(lr=None).lr == 1e-5


@pytest.mark.parametrize("field, value", [("selection", "best"), ("optimizer", "rmsprop"), ("loss", "huber"),
                                         ("lr_schedule", "cyclic")])
def test_config_rejects_unknown_choices(field, value):
    with pytest.raises(BenchError, match=f"unknown {field}"):
        TrainConfig(**{field: value})


def test_validation_part_is_carved_by_content_group():
    frame = pd.DataFrame({"group": [str(g) for g in range(20) for _ in range(3)], "x": range(60)})
    train, val = carve_validation(frame, 0.1, seed=0)
    assert len(train) + len(val) == 60 and set(train["group"]).isdisjoint(val["group"])
    assert val["group"].nunique() == 2
    again = carve_validation(frame, 0.1, seed=0)[1]
    assert again.equals(val)
    with pytest.raises(BenchError, match="at least 2 content groups"):
        carve_validation(frame[frame["group"] == "0"], 0.1, seed=0)


def test_selection_score_is_srcc_plcc_krcc_and_never_nan():
    truth = np.arange(10.0)[:, None]
    assert selection_score(truth * 2, truth) == pytest.approx(3.0)
    assert selection_score(-truth, truth) == pytest.approx(-3.0)
    assert selection_score(np.ones((10, 1)), truth) == float("-inf")


class _Brightness(torch.nn.Module):
    """Predicts from the mean pixel value: learnable in a few steps."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(3, 1)

    def forward(self, x):
        return self.head(x.mean(dim=(2, 3)))


def _forward(model, batch):
    return model(batch["image"])


def _frame(tmp_path):
    frame = write_image_set(tmp_path / "img", n_groups=4, per_group=3)
    return frame, (frame["mos"] - frame["mos"].min()).to_numpy()[:, None] / np.ptp(frame["mos"])


def _fit(frame, y, config, select=None):
    torch.manual_seed(config.seed)
    model = _Brightness()
    loader = make_loader(ImageDataset(frame, image_transform(config, train=True), y), config.batch_size, config,
                         shuffle=True, device="cpu")
    report = train_model(model, _forward, [{"params": model.parameters(), "lr": config.lr}], loader, config, "cpu", select)
    return model, report


def test_loop_trains_is_seeded_and_restores_the_selected_epoch(tmp_path):
    frame, y = _frame(tmp_path)
    config = TrainConfig(epochs=6, batch_size=4, image_size=16, lr=0.05, num_workers=0)
    model, report = _fit(frame, y, config)
    assert report.selected_epoch == 6 and len(report.epoch_loss) == 6
    assert report.epoch_loss[-1] < report.epoch_loss[0]
    eval_loader = make_loader(ImageDataset(frame, image_transform(config, train=False)), 5, config, False, "cpu")
    first = predict_model(model, _forward, eval_loader, "cpu")
    assert first.shape == (len(frame), 1)
    assert np.array_equal(first, predict_model(_fit(frame, y, config)[0], _forward, eval_loader, "cpu"))

    # A selection hook whose favourite epoch is the 2nd: those weights must come back.
    snapshots = []

    def select(m):
        snapshots.append(predict_model(m, _forward, eval_loader, "cpu"))
        return 1.0 if len(snapshots) == 2 else 0.0

    selected, report = _fit(frame, y, config, select)
    assert report.selected_epoch == 2 and report.selection_scores == [0, 1, 0, 0, 0, 0]
    assert np.array_equal(predict_model(selected, _forward, eval_loader, "cpu"), snapshots[1])
    assert not np.array_equal(snapshots[1], snapshots[-1])


def test_cosine_schedule_anneals_every_group_to_zero_and_constant_keeps_the_lr(tmp_path):
    frame, y = _frame(tmp_path)
    config = TrainConfig(epochs=3, batch_size=4, image_size=16, lr=0.05, num_workers=0)
    assert config.lr_schedule == "constant"  # the paper's
    assert _fit(frame, y, config)[1].lr_end == [0.05]
    report = _fit(frame, y, replace(config, lr_schedule="cosine"))[1]
    assert report.lr_end[0] == pytest.approx(0.0, abs=1e-12)
    assert report.epoch_loss[-1] < report.epoch_loss[0]


def test_train_crop_is_an_option_and_resnet50_trains_on_native_crops_on_the_demo(tmp_path):
    from PIL import Image

    import methods  # noqa: F401  (registers the adapters)
    from bench.registry import create_method, get_method_info
    from bench.run.runner import RunOptions, method_config

    info = get_method_info("resnet50")
    demo = method_config(info, RunOptions(results_dir=tmp_path), "demo")
    assert (demo["image_size"], demo["train_crop"], demo["joint_targets"]) == (256, 64, True)
    assert method_config(info, RunOptions(results_dir=tmp_path), "agiqa3k")["train_crop"] is None
    overridden = method_config(info, RunOptions(results_dir=tmp_path, overrides={"train_crop": 96}), "demo")
    method = create_method("resnet50", **overridden)
    config = method.train_config()
    assert config.train_crop == 96
    image = Image.new("RGB", (256, 256))
    assert method.transform(config, train=True)(image).shape == (3, 96, 96)
    assert method.transform(config, train=False)(image).shape == (3, 256, 256)  # inference: the whole image


def test_train_model_reports_a_train_result_the_manifest_records_as_before(tmp_path):
    from bench.train.result import TrainResult

    frame, y = _frame(tmp_path)
    report = _fit(frame, y, TrainConfig(epochs=2, batch_size=4, image_size=16, lr=0.05, num_workers=0))[1]
    assert isinstance(report, TrainResult) and report.selected_epoch == 2 and report.resumed_at_epoch is None
    recorded = report.as_dict()  # without a selection or a resume, those keys are left out, as the dict was
    assert "selection_scores" not in recorded and "resumed_at_epoch" not in recorded
    assert list(recorded)[:6] == ["epoch_loss", "amp", "precision", "channels_last", "compile", "loader_workers"]
    assert recorded["speed"]["images"] == 2 * len(frame)  # 12 images in batches of 4 on each of 2 epochs


class _Tiny(TorchMethod):
    def build_model(self, n_outputs, pretrained):
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                   torch.nn.Linear(4, n_outputs))


@pytest.mark.parametrize("selection", ["val", "best-on-test"])
def test_recording_each_epochs_test_metrics_changes_neither_the_choice_nor_the_predictions(tmp_path, selection):
    frame = write_image_set(tmp_path, n_groups=6, per_group=4)
    train, test = frame.iloc[:16], frame.iloc[16:]
    runs = {}
    for record in ("on", "off"):
        method = _Tiny(epochs=4, batch_size=4, image_size=16, lr=0.05, num_workers=0, device="cpu",
                       image_cache=False, selection=selection, val_fraction=0.4, record_epoch_metrics=record)
        assert method.takes_test_side == (record == "on" or selection == "best-on-test")
        method.fit(train, ["mos"], test=test)
        runs[record] = (method.report_, method.predict(test)["mos"].to_numpy())
    on, off = runs["on"][0]["models"]["mos"], runs["off"][0]["models"]["mos"]
    assert on["selected_epoch"] == off["selected_epoch"] and on["selection_scores"] == off["selection_scores"]
    assert np.array_equal(runs["on"][1], runs["off"][1])
    assert len(on["epoch_test"]) == 4 and "epoch_test" not in off
    assert set(on["epoch_test"][0]["mos"]) == {"srcc", "krcc", "plcc_raw", "plcc_logistic"}
    assert runs["off"][0]["epoch_test_not_recorded"] == "record_epoch_metrics is off"
    if selection == "best-on-test":  # the same criterion on the same side: the record agrees with the choice
        recorded = [e["mos"]["srcc"] + e["mos"]["plcc_raw"] + e["mos"]["krcc"] for e in on["epoch_test"]]
        assert on["selection_scores"] == pytest.approx(recorded, abs=1e-5)


def test_auto_records_only_when_the_test_pass_is_cheap():
    from bench.train.epoch_metrics import recording_decision

    auto = TrainConfig(record_epoch_metrics="auto")
    assert recording_decision(auto, 100, 50) == ""
    assert "more than 0.5 of an epoch's training pixels (100 x 1 draws at 512 px)" in recording_decision(auto, 100, 51)
    cropped = replace(auto, image_size=256, train_crop=64)  # the test pass sees 16x the pixels of a crop
    assert "(480 x 1 draws at 64 px)" in recording_decision(cropped, 480, 120)
    assert recording_decision(cropped, 480, 120, train_draws=16) == ""  # unless many crops are drawn
    assert recording_decision(replace(auto, record_epoch_metrics="on"), 100, 500) == ""
    assert recording_decision(auto, 100, None) == "the test side was not handed to training"


def test_recording_epochs_is_not_part_of_a_results_identity():
    from bench.results.manifest import SCHEMA, RunManifest

    def manifest(record):
        return RunManifest.from_dict({"schema": SCHEMA, "method": "cnniqa", "dataset": "demo", "targets": ["mos"],
                                      "config": {"epochs": 3, "record_epoch_metrics": record}})

    assert manifest("off").changed_identity(manifest("auto")) == []
    assert "config" in RunManifest.from_dict({"schema": SCHEMA, "method": "cnniqa", "dataset": "demo",
                                              "targets": ["mos"], "config": {"epochs": 4}}).changed_identity(
        manifest("auto"))


@pytest.mark.parametrize("schedule, extra, expected", [
    ("step", {"lr_milestones": "1", "lr_step_factor": "0.1"}, 0.005),
    ("cosine-periodic", {"lr_period": 2}, 0.025),  # T_max 2 stepped after each of 3 epochs: 0.025, 0, 0.025
])
def test_train_model_steps_a_per_epoch_schedule_once_an_epoch(tmp_path, schedule, extra, expected):
    frame, y = _frame(tmp_path)
    config = TrainConfig(epochs=3, batch_size=4, image_size=16, lr=0.05, num_workers=0, lr_schedule=schedule,
                         **extra)
    report = _fit(frame, y, config)[1]
    assert report.lr_end == [pytest.approx(expected)]
