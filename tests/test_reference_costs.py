"""Reference costs: every trainable torch row declares what a training sample and a
prediction cost on a stated machine, and a first run's plan prices its splits with them."""

import pytest
from helpers import run_cli

from bench.registry import get_method_info, list_methods
from bench.run.progress import duration, reference_estimate, training_estimate
from bench.train.torch_method import TorchMethod, TrainingWork

# Trainable torch rows without a figure, each with the reason it could not be measured offline.
UNMEASURED: dict[str, str] = {}
TRAINING_KEYS = {"train_s_per_image", "train_pixels", "batch_size", "predict_s_per_image", "predict_pixels", "machine"}


def _trainable_rows():
    return [info for info in list_methods() if info.trains and issubclass(info.cls, TorchMethod)]


def test_the_sweep_sees_the_trainable_rows():
    names = {info.name for info in _trainable_rows()}
    assert {"cnniqa", "cnniqa-kang", "resnet50", "dbcnn", "hypernet", "topiq-nr", "ipce", "ipiqa"} <= names


@pytest.mark.parametrize("info", _trainable_rows(), ids=lambda info: info.name)
def test_every_trainable_row_declares_a_well_formed_reference_cost(info):
    reference = info.cls.reference_cost
    if info.name in UNMEASURED:
        assert reference is None
        return
    assert reference is not None, f"{info.name} declares no reference_cost (scripts/reference_costs.py --trainable)"
    assert TRAINING_KEYS <= set(reference), sorted(TRAINING_KEYS - set(reference))
    for key in ("train_s_per_image", "predict_s_per_image"):
        assert isinstance(reference[key], float) and 0 < reference[key] < 600, (key, reference[key])
    for key in ("train_pixels", "predict_pixels", "batch_size"):
        assert isinstance(reference[key], int) and reference[key] > 0, (key, reference[key])
    assert "CPU" in reference["machine"] and "20" in reference["machine"]  # the machine and its date
    assert set(reference.get("config", {})) <= set(info.cls.config_keys())


def test_a_trainable_estimate_prices_epochs_training_images_and_predictions():
    reference = {"train_s_per_image": 0.2, "train_pixels": 128 ** 2, "batch_size": 8, "predict_s_per_image": 0.05,
                 "predict_pixels": 256 ** 2, "machine": "a test box"}
    work = TrainingWork(models=2, epochs=5, n_train=100, draws=3, n_test=20, test_passes=6, train_pixels=64 ** 2,
                        predict_pixels=512 ** 2)
    estimate = training_estimate(reference, work)
    # 2 x 5 x 100 x 3 samples at 0.2 s x (64/128)^2, + 2 x 6 x 20 predictions at 0.05 s x (512/256)^2
    assert estimate.seconds_per_split == pytest.approx(3000 * 0.05 + 240 * 0.2)
    assert estimate.total(3) == pytest.approx(3 * 198.0) and estimate.features_s == 0.0
    assert "0.2 s/training image at 128x128 px (batch 8)" in estimate.source and "a test box" in estimate.source
    assert "2 models x 5 epochs x 100 images x 3 draws at 64x64 px, 20 test images x 6 passes" in estimate.source
    # Through reference_estimate: the same figure; without planned work, or measured with another config, none.
    assert reference_estimate(reference, 0, 20, None, False, True, work).seconds_per_split == pytest.approx(198.0)
    assert reference_estimate(reference, 0, 20, None, False, True, None) is None
    other = reference_estimate({**reference, "config": {"clip": "RN50"}}, 0, 20, None, False, True, work,
                               {"clip": "small"})
    assert other.seconds_per_split is None and "measured with clip 'RN50', not 'small'" in other.source


def test_planned_work_follows_the_config():
    cnniqa = get_method_info("cnniqa").cls(epochs=7, image_size=96, record_epoch_metrics="off")
    work = cnniqa.planned_work(40, 10, ["mos_quality", "mos"])
    assert (work.models, work.epochs, work.train_samples, work.predicted_images) == (2, 7, 2 * 7 * 40, 2 * 10)
    assert (work.train_pixels, work.predict_pixels) == (96 ** 2, 96 ** 2)
    joint = get_method_info("cnniqa").cls(epochs=7, joint_targets=True, record_epoch_metrics="on")
    assert joint.planned_work(40, 10, ["mos_quality", "mos"]).predicted_images == 10 * 8  # a test pass an epoch
    dbcnn = get_method_info("dbcnn").cls(epochs=4, fc_epochs=3, train_crop=56, image_size=64)
    assert dbcnn.planned_work(40, 10, ["mos"]).epochs == 7 and dbcnn.input_pixels(dbcnn.train_config()) == (56 ** 2, 64 ** 2)
    hypernet = get_method_info("hypernet").cls(test_crops=25, train_crop=224)
    assert hypernet.input_pixels(hypernet.train_config()) == (224 ** 2, 25 * 224 ** 2)  # its crops, whatever the image


def test_planned_work_stops_where_max_steps_stops_each_training():
    # 40 images in batches of 8: 5 steps an epoch; 6 steps reach into a second epoch, 48 samples.
    capped = get_method_info("cnniqa").cls(epochs=7, batch_size=8, max_steps=6, record_epoch_metrics="on")
    work = capped.planned_work(40, 10, ["mos_quality", "mos"])
    assert (work.epochs, work.train_samples, work.predicted_images) == (2, 2 * 48, 2 * 10 * (1 + 2))
    assert "max_steps: 48 samples" in work.describe()
    # A cap beyond the protocol changes nothing.
    loose = get_method_info("cnniqa").cls(epochs=7, batch_size=8, max_steps=1000, record_epoch_metrics="off")
    assert (loose.planned_work(40, 10, ["mos"]).epochs, loose.planned_work(40, 10, ["mos"]).train_samples) == (7, 280)
    # DBCNN: the cap holds per stage (its fc stage, then every layer).
    dbcnn = get_method_info("dbcnn").cls(epochs=4, fc_epochs=3, batch_size=8, max_steps=6, record_epoch_metrics="off")
    work = dbcnn.planned_work(40, 10, ["mos"])
    assert (work.epochs, work.train_samples) == (2 + 2, 48 + 48)


def test_the_plan_says_dbcnns_fc_stage_is_priced_as_full_training_steps():
    # Its branches are frozen (forward only but the fc layer), yet each of its samples is priced
    # at the whole network's training step: the plan's source text says it is an upper bound.
    reference = get_method_info("dbcnn").cls.reference_cost
    staged = get_method_info("dbcnn").cls(epochs=4, fc_epochs=3).planned_work(40, 10, ["mos"])
    assert "fc stage priced as full training steps (an upper bound)" in training_estimate(reference, staged).source
    one_stage = get_method_info("dbcnn").cls(epochs=4, fc_epochs=0).planned_work(40, 10, ["mos"])
    assert "upper bound" not in training_estimate(reference, one_stage).source


def test_planned_work_counts_the_selection_sides_prediction_every_epoch():
    cnniqa = get_method_info("cnniqa").cls
    final = cnniqa(epochs=7, record_epoch_metrics="off").planned_work(40, 10, ["mos"])
    assert final.predicted_images == 10
    # best-on-test predicts the test side after every epoch, besides the final test pass.
    on_test = cnniqa(epochs=7, selection="best-on-test", record_epoch_metrics="off").planned_work(40, 10, ["mos"])
    assert on_test.predicted_images == 10 + 7 * 10 and on_test.train_samples == 7 * 40
    # val carves its part off the training side (about val_fraction of it) and predicts it every epoch.
    val = cnniqa(epochs=7, selection="val", val_fraction=0.25, record_epoch_metrics="off").planned_work(
        40, 10, ["mos_quality", "mos"])
    assert val.predicted_images == 2 * (10 + 7 * 10) and val.train_samples == 2 * 7 * 30
    assert "10 selection images x 7 passes" in val.describe()
    # DBCNN's fc stage keeps its last epoch: only the second stage's epochs select.
    dbcnn = get_method_info("dbcnn").cls(epochs=4, fc_epochs=3, selection="best-on-test", record_epoch_metrics="off")
    assert dbcnn.planned_work(40, 10, ["mos"]).predicted_images == 10 + 4 * 10


def test_the_contract_documents_pixel_counts_scaled_linearly():
    # TorchMethod.input_pixels returns pixel counts (side ** 2, or views x side ** 2) and the plan
    # scales by their ratio: the documented example and wording say so, not "the side" squared.
    import inspect
    import re
    from pathlib import Path

    import bench.method

    comment = inspect.getsource(bench.method.Method)
    example = dict(re.findall(r'"(train_pixels|predict_pixels)": ([0-9* ]+)[,}]', comment))
    config = get_method_info("cnniqa").cls(image_size=256).train_config()
    assert {k: eval(v) for k, v in example.items()} == dict(zip(("train_pixels", "predict_pixels"),
                                                               TorchMethod.input_pixels(None, config)))
    assert "square of the side" not in comment and "scaled linearly" in comment
    extending = Path(__file__).parents[1].joinpath("docs", "extending.md").read_text()
    row = next(line for line in extending.splitlines() if line.startswith("| `input_pixels(config)`"))
    assert "the side" not in row and "their squares" not in row and "pixels" in row


def test_a_first_plan_gives_a_deep_row_an_estimate(tiny_dataset, results_dir, monkeypatch):
    from bench.run import runner

    monkeypatch.setattr(runner, "_run_method", lambda plan, *args: runner.MethodOutcome(plan.info.name, "skipped",
                                                                                         "not run by this test"))
    result = run_cli("run", "--methods", "cnniqa", "--dataset", "tinyfiles", "--splits", "3", "--preset", "demo",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "cnniqa: 3 of 3 split(s) to run" in line)
    assert "estimate unknown" not in line and "s/training image at" in line, line
    # 40 images in 10 groups, 2 held out a split: 32 to train on, 8 to test; one target (mos);
    # the demo preset's 5 epochs at 64 px, and a test pass an epoch recorded.
    assert "for 5 epochs x 32 images at 64x64 px, 8 test images x 6 passes at 64x64 px)" in line, line
    config = runner.method_config(get_method_info("cnniqa"), runner.RunOptions(preset="demo"), "tinyfiles")
    work = get_method_info("cnniqa").cls(**config).planned_work(32, 8, ["mos"])
    seconds = training_estimate(get_method_info("cnniqa").cls.reference_cost, work).total(3)
    assert f"estimate {duration(seconds)} (reference " in line, line


def test_a_row_on_an_earlier_rows_features_is_not_priced_for_extracting_them(tiny_dataset, results_dir, monkeypatch):
    from bench.run import runner

    monkeypatch.setattr(runner, "_run_method", lambda plan, *args: runner.MethodOutcome(plan.info.name, "skipped",
                                                                                         "not run by this test"))
    result = run_cli("run", "--methods", "niqe,niqe-svr", "--dataset", "tinyfiles", "--splits", "2",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    niqe = next(line for line in lines if "  niqe: 2 of 2 split(s) to run" in line)
    svr = next(line for line in lines if "  niqe-svr: 2 of 2 split(s) to run" in line)
    assert "earlier row" not in niqe, niqe  # niqe extracts; niqe-svr reads niqe's cache, priced at its fits only
    assert "its features come from an earlier row's extraction" in svr, svr
