"""`run --eval all` (training-free methods over every image) and cross-dataset runs (`--train-on`)."""

import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from helpers import run_cli
from plugin_fixtures import load_tinyfiles
from scipy import stats

from bench.datasets import Dataset, register_dataset
from bench.errors import BenchError
from bench.run.whole_dataset import all_images_dir, cross_dir, target_pairs
from bench.testing.images import write_image_set


@register_dataset("tiny-other", "a second generated dataset under $TEST_TINY_OTHER_ROOT (tests only)", needs_root=False)
def load_tiny_other(root=None):
    return replace(load_tinyfiles(root or os.environ["TEST_TINY_OTHER_ROOT"]), name="tiny-other")


@pytest.fixture
def other_dataset(tmp_path, monkeypatch):
    """Another generated dataset: other images (seed 1), other contents, 8 groups of 4."""
    frame = write_image_set(tmp_path / "other", n_groups=8, seed=1)
    frame.drop(columns="path").to_csv(tmp_path / "other" / "labels.csv", index=False)
    monkeypatch.setenv("TEST_TINY_OTHER_ROOT", str(tmp_path / "other"))
    return frame


def _run(*args):
    result = run_cli("run", *args)
    assert result.exit_code == 0, result.output
    return result


def test_eval_all_scores_every_image_once_apart_from_splits(tiny_dataset, results_dir):
    _run("--methods", "test-lap-var,test-sharpness-svr", "--dataset", "tinyfiles", "--eval", "all",
         "--results-dir", str(results_dir))
    out = all_images_dir(results_dir, "tinyfiles", "test-lap-var")
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 40 and set(predictions["image"]) == set(tiny_dataset["image"])
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["evaluation"] == "all-images" and manifest["train_size"] == 0
    assert not all_images_dir(results_dir, "tinyfiles", "test-sharpness-svr").exists()  # it trains: skipped
    assert not (results_dir / "tinyfiles" / "splits.csv").exists()

    table = run_cli("table", "--eval", "all", "--results-dir", str(results_dir), "--format", "csv")
    rows = pd.read_csv(pd.io.common.StringIO(table.output))
    expected = stats.spearmanr(predictions["pred"], predictions["mos"])[0]
    assert rows.loc[0, "Method"] == "test-lap-var" and rows.loc[0, "Images"] == 40
    assert rows.loc[0, "SRCC"] == pytest.approx(expected, abs=1e-4)
    # the split tables never see it, and after a split run they hold only split rows
    assert run_cli("table", "--results-dir", str(results_dir)).exit_code == 2
    _run("--methods", "test-lap-var", "--dataset", "tinyfiles", "--splits", "2", "--results-dir", str(results_dir))
    split_table = run_cli("table", "--results-dir", str(results_dir)).output
    assert "| 2/2 " in split_table and "all images" not in split_table  # its splits column: 2 of 2
    # an identical rerun is up to date and rewrites nothing
    before = (out / "predictions.csv").stat().st_mtime_ns
    _run("--methods", "test-lap-var", "--dataset", "tinyfiles", "--eval", "all", "--results-dir", str(results_dir))
    assert (out / "predictions.csv").stat().st_mtime_ns == before


def test_cross_dataset_matrix(tiny_dataset, other_dataset, results_dir):
    for train, test in (("tinyfiles", "tiny-other"), ("tiny-other", "tinyfiles")):
        _run("--methods", "test-sharpness-svr,test-lap-var", "--dataset", test, "--train-on", train,
             "--results-dir", str(results_dir))
    out = cross_dir(results_dir, "tinyfiles", "tiny-other", "test-sharpness-svr")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["evaluation"] == "cross" and manifest["train_size"] == 40 and manifest["dataset_size"] == 32
    predictions = pd.read_csv(out / "predictions.csv")
    assert set(predictions["image"]) == set(other_dataset["image"])
    assert not cross_dir(results_dir, "tinyfiles", "tiny-other", "test-lap-var").exists()  # training-free
    _run("--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--splits", "2",
         "--results-dir", str(results_dir))

    text = run_cli("table", "--cross", "--results-dir", str(results_dir)).output
    assert "Cross-dataset: test-sharpness-svr, target mos" in text
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| tiny")}
    srcc = stats.spearmanr(predictions["pred"], predictions["mos"])[0]
    # columns sorted: tiny-other, tinyfiles; row: trained on, column: tested on
    assert f"{srcc:.4f}" in lines["tinyfiles"].split("|")[2]
    assert "within: mean of 2 splits" in lines["tinyfiles"].split("|")[3]
    assert lines["tiny-other"].split("|")[2].strip() == "–"  # no split results on tiny-other


def test_target_pairs():
    def dataset(name, targets):
        return Dataset(name, pd.DataFrame(columns=["image", "path", "prompt", "group", *targets]), targets, Path("."))

    agiqa3k, agiqa1k = dataset("a3", ("mos_quality", "mos_align")), dataset("a1", ("mos",))
    assert target_pairs(agiqa3k, agiqa1k) == [("mos_quality", "mos")]  # the nearest score
    assert target_pairs(agiqa1k, agiqa3k) == [("mos", "mos_quality")]
    assert target_pairs(agiqa3k, agiqa3k) == [("mos_quality", "mos_quality"), ("mos_align", "mos_align")]
    with pytest.raises(BenchError, match="share no target"):
        target_pairs(dataset("x", ("mos_align",)), agiqa1k)
