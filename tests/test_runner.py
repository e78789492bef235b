import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from bench.results.metrics import evaluate


def _calls(tmp_path):
    log = tmp_path / "feature_calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_run_writes_the_results_layout(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "test-sharpness-svr,test-lap-var", "--dataset", "tinyfiles",
                     "--splits", "3", "--results-dir", str(results_dir))
    assert result.exit_code == 0, result.output
    base = results_dir / "tinyfiles"
    splits = pd.read_csv(base / "splits.csv")
    assert list(splits.columns) == ["image", "group", "split_0", "split_1", "split_2"]
    for method in ("test-sharpness-svr", "test-lap-var"):
        for k in range(3):
            frame = pd.read_csv(base / method / f"split_{k}.csv")
            assert list(frame.columns) == ["image", "group", "target", "mos", "pred"]
            test_images = set(splits.loc[splits[f"split_{k}"] == "test", "image"])
            assert set(frame["image"]) == test_images
        manifest = json.loads((base / method / "run.json").read_text())
        assert manifest["splits_hash"] and manifest["seed"] == 0 and manifest["n_splits"] == 3
        assert set(manifest["splits"]) == {"0", "1", "2"}
        assert manifest["versions"]["numpy"]
    assert (base / "test-sharpness-svr" / "checkpoints" / "split_0.pt").exists()


def test_features_are_computed_once_and_reruns_do_nothing(tiny_dataset, results_dir, tmp_path):
    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--results-dir", str(results_dir)]
    assert run_cli(*args, "--splits", "4").exit_code == 0
    assert _calls(tmp_path) == len(tiny_dataset)  # once per image, not per split
    before = _snapshot(results_dir)
    assert run_cli(*args, "--splits", "4").exit_code == 0
    assert _snapshot(results_dir) == before, "an identical rerun rewrote files"
    assert _calls(tmp_path) == len(tiny_dataset)
    assert run_cli(*args, "--splits", "4", "--force").exit_code == 0
    assert _calls(tmp_path) == len(tiny_dataset), "--force recomputes predictions, not cached features"


def test_table_equals_metrics_recomputed_from_split_files(tiny_dataset, results_dir):
    assert run_cli("run", "--methods", "test-sharpness-svr,test-lap-var", "--dataset", "tinyfiles",
                   "--splits", "3", "--results-dir", str(results_dir)).exit_code == 0
    table = pd.read_csv(pd.io.common.StringIO(run_cli("table", "--results-dir", str(results_dir),
                                                      "--format", "csv").output))
    assert list(table.columns) == ["method", "dataset", "target", "n_splits", "srcc_mean", "srcc_std",
                                   "plcc_mean", "plcc_std", "krcc_mean", "krcc_std", "rmse_mean", "rmse_std",
                                   "label", "n_splits_total", "plcc", "selection", "preset", "miniature", "overrides",
                                   "images", "dropped", "contamination", "note"]
    for _, row in table.iterrows():
        per_split = [evaluate(f["pred"], f["mos"]) for f in
                     (pd.read_csv(results_dir / "tinyfiles" / row["method"] / f"split_{k}.csv") for k in range(3))]
        assert row["n_splits"] == row["n_splits_total"] == 3 and row["plcc"] == "logistic"
        assert row["rmse_mean"] == pytest.approx(np.mean([m["rmse"] for m in per_split]), abs=1e-6)
        assert row["srcc_mean"] == pytest.approx(np.mean([m["srcc"] for m in per_split]), abs=1e-6)
        assert row["plcc_mean"] == pytest.approx(np.mean([m["plcc"] for m in per_split]), abs=1e-6)
        assert row["krcc_std"] == pytest.approx(np.std([m["krcc"] for m in per_split], ddof=1), abs=1e-6)
    sharp = table.set_index("method").loc["test-sharpness-svr"]
    assert sharp["srcc_mean"] > 0.5  # blur drives the tiny dataset's MOS


def test_a_failing_method_does_not_stop_the_others(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "test-broken,test-lap-var", "--dataset", "tinyfiles",
                     "--splits", "2", "--results-dir", str(results_dir))
    assert result.exit_code == 1
    assert "test-broken failed in features: RuntimeError: broken on purpose" in result.stderr
    assert (results_dir / "tinyfiles" / "test-lap-var" / "split_1.csv").exists()
    assert not list((results_dir / "tinyfiles").glob("test-broken/split_*.csv"))


def test_a_plugin_method_cannot_read_targets_in_predict(tiny_dataset, results_dir):
    result = run_cli("run", "--methods", "test-peeking", "--dataset", "tinyfiles", "--splits", "1",
                     "--results-dir", str(results_dir))
    assert result.exit_code == 1
    assert ("test-peeking failed in predict (split 0): RuntimeError: predict saw ['group', 'image', 'path', "
            "'prompt']; fit saw ['group', 'image', 'mos', 'path', 'prompt']" in result.stderr)


def test_split_sides_take_groups_from_the_split_file():
    from bench.registry import get_method_info
    from bench.run.runner import _split_task

    frame = pd.DataFrame({"image": ["a", "b", "c"], "path": ["a", "b", "c"], "prompt": "", "group": "now",
                          "mos": [1.0, 2.0, 3.0], "secret": [0, 0, 0]})
    splits = pd.DataFrame({"image": ["a", "b", "c"], "group": ["1", "2", "2"], "split_0": ["test", "train", "train"]})
    task = _split_task(get_method_info("test-peeking"), {}, frame, splits, 0, ["mos"], None)
    assert list(task.train["group"]) == ["2", "2"] and list(task.test["group"]) == ["1"]
    assert list(task.train.columns) == ["image", "path", "prompt", "group", "mos"]


def test_constant_predictions_are_reported_as_nan(tiny_dataset, results_dir):
    assert run_cli("run", "--methods", "test-constant", "--dataset", "tinyfiles", "--splits", "2",
                   "--results-dir", str(results_dir)).exit_code == 0
    result = run_cli("table", "--results-dir", str(results_dir))
    assert result.exit_code == 0
    assert "n/a (constant predictions)" in result.output  # the cell says why it is empty


def test_interrupted_run_leaves_no_partial_file_and_resumes(tiny_dataset, results_dir, tmp_path):
    """SIGKILL a real run midway; the rerun completes the remaining splits."""
    env = {**os.environ, "TEST_FEATURE_SLEEP": "0.02"}
    cmd = [sys.executable, "-m", "bench", "run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles",
           "--splits", "10", "--results-dir", str(results_dir)]
    method_dir = results_dir / "tinyfiles" / "test-sharpness-svr"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(method_dir.glob("split_*.csv")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(method_dir.glob("split_*.csv"))
    assert 1 <= len(done) < 10, "kill came too late to test resume"
    for path in done:  # every file present is complete
        frame = pd.read_csv(path)
        assert len(frame) > 0 and frame["pred"].notna().all()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(method_dir.glob("split_*.csv"))) == 10
    assert not [p for p in method_dir.iterdir() if p.name.startswith(".")]  # no temp files left visible


def test_changed_config_is_refused_without_force(tiny_dataset, results_dir):
    args = ["run", "--methods", "test-sharpness-svr", "--dataset", "tinyfiles", "--results-dir", str(results_dir)]
    assert run_cli(*args, "--splits", "2").exit_code == 0
    manifest_path = results_dir / "tinyfiles" / "test-sharpness-svr" / "run.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["config"]["epsilon"] = 0.5
    manifest_path.write_text(json.dumps(manifest))
    result = run_cli(*args, "--splits", "2")
    assert result.exit_code == 1 and "different config" in result.stderr
