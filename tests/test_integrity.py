"""Results that survive faults and hostile files (issue 17): completion recorded per split,
split files verified, interrupted --force never mixing configs, one writer per dataset folder,
a feature cache that keeps its work and notices shuffled rows."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from bench.datasets import load_dataset
from bench.errors import BenchError
from bench.results import locks
from bench.results.loading import load_results
from bench.run.executors import LocalExecutor
from bench.run.runner import RunOptions, run_benchmark
from bench.splits import SplitConfig

SVR = "test-sharpness-svr"


def _run(results_dir, *extra, splits="3", methods=SVR):
    return run_cli("run", "--methods", methods, "--dataset", "tinyfiles", "--splits", splits,
                   "--results-dir", str(results_dir), *extra)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "run.json" and ".replaced" not in p.relative_to(folder).parts}


class StopAfter(LocalExecutor):
    """Stops the run (as Ctrl-C would) after ``n`` split results."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def map(self, fn, items, **kwargs):
        for i, result in enumerate(super().map(fn, items, **kwargs)):
            if kwargs.get("kind") in ("split", "fits") and i == self.n:
                raise KeyboardInterrupt
            yield result


def test_interrupted_force_with_another_config_never_mixes(tiny_dataset, results_dir):
    """Case 1: --force with epsilon 0.5 stopped after split 0, then a plain rerun."""
    assert _run(results_dir).exit_code == 0
    method = results_dir / "tinyfiles" / SVR
    before = _files(method)
    options = RunOptions(results_dir=results_dir, splits=SplitConfig(3), force=True, overrides={"epsilon": 0.5})
    with pytest.raises(KeyboardInterrupt):
        run_benchmark([SVR], load_dataset("tinyfiles"), options, StopAfter(1))
    assert sorted(p.name for p in method.glob("split_*.csv")) == ["split_0.csv"]  # the old ones are aside
    (aside,) = (results_dir / "tinyfiles" / ".replaced").iterdir()
    assert _files(aside) == before  # moved whole, untouched
    rerun = _run(results_dir)
    assert rerun.exit_code == 1 and "different config" in rerun.stderr  # refused, not "up-to-date"
    table = run_cli("table", "--results-dir", str(results_dir), "--format", "csv")
    assert pd.read_csv(pd.io.common.StringIO(table.stdout))["n_splits"].tolist() == [1]  # new config only
    options.force = False
    assert [o.status for o in run_benchmark([SVR], load_dataset("tinyfiles"), options, LocalExecutor())] == ["done"]
    manifest = json.loads((method / "run.json").read_text())
    assert manifest["config"]["epsilon"] == 0.5 and sorted(manifest["splits"]) == ["0", "1", "2"]


def test_lost_checkpoint_record_or_file_is_recomputed_identically(tiny_dataset, results_dir):
    """Case 4: a kill between the checkpoint, the record and the prediction file."""
    assert _run(results_dir).exit_code == 0
    method = results_dir / "tinyfiles" / SVR
    reference = _files(method)
    (method / "checkpoints" / "split_0.pt").unlink()  # killed before the checkpoint was in place
    (method / "split_1.csv").unlink()  # killed after its record, before the prediction file
    (method / ".split_2.csv.x1.tmp").write_bytes(b"half")  # a temporary file a kill left
    (method / "checkpoints" / ".split_2.pt.x2.tmp").write_bytes(b"half")
    assert len(load_results(results_dir)[0].predictions) == 2  # an unfinished split is not read
    assert _run(results_dir).exit_code == 0
    assert _files(method) == reference  # recomputed byte-identical, and no temporary file left


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_split_file_is_refused_then_recomputed(tiny_dataset, results_dir, damage, caplog):
    """Case 3: a split file that does not match its record."""
    assert _run(results_dir).exit_code == 0
    method = results_dir / "tinyfiles" / SVR
    reference = _files(method)
    path = method / "split_1.csv"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) * 4 // 10], "garbage": bytes(range(256)), "empty": b""}[damage])
    for command in (["table"], ["report", "--out", str(results_dir.parent / "report")]):
        result = run_cli(*command, "--results-dir", str(results_dir))
        assert result.exit_code == 2 and "Traceback" not in result.stderr
        assert f"{path} does not match its record in run.json" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    rerun = _run(results_dir)
    assert rerun.exit_code == 0 and "recomputing split 1" in caplog.text
    assert _files(method) == reference


def test_results_without_run_json_are_set_aside_not_adopted(tiny_dataset, results_dir):
    assert _run(results_dir).exit_code == 0
    method = results_dir / "tinyfiles" / SVR
    old = method / "split_0.csv"
    old.write_bytes(old.read_bytes().replace(b"img_", b"IMG_"))  # not what this config makes
    (method / "run.json").unlink()
    assert _run(results_dir).exit_code == 0
    (aside,) = (results_dir / "tinyfiles" / ".replaced").iterdir()
    assert b"IMG_" in (aside / "split_0.csv").read_bytes() and b"IMG_" not in old.read_bytes()


@pytest.mark.parametrize("name, content, message", [
    ("splits.csv", b"", "is not a splits file"),
    ("splits.csv", b"\x00\xff\xfe binary \x00", "is not a splits file"),
    ("splits.csv", "cut", "holds cells other than"),
    ("splits.json", b"\x89PNG\r\n\x1a\n\x00", "is not the JSON record"),
])
def test_damaged_splits_files_are_one_line_errors(tiny_dataset, results_dir, name, content, message):
    """Case 3: the dataset's splits file and its record."""
    assert _run(results_dir, splits="2").exit_code == 0
    path = results_dir / "tinyfiles" / name
    if content == "cut":
        data = path.read_bytes()
        content = data[: len(data) // 2]  # ends mid-row
    path.write_bytes(content)
    commands = [["run", "--methods", SVR, "--dataset", "tinyfiles", "--splits", "2"]]
    if name == "splits.csv":
        commands.append(["table"])
    for command in commands:
        result = run_cli(*command, "--results-dir", str(results_dir))
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert str(path) in result.stderr and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_second_writer_into_one_dataset_folder_is_refused(tiny_dataset, results_dir, monkeypatch):
    """Case 5: one writer per dataset results folder."""
    folder = results_dir / "tinyfiles"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from bench.results.locks import dataset_lock\n"
        f"with dataset_lock({str(folder)!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(locks, "WAIT_S", 0.5)
        result = _run(results_dir, "--seed", "1")
        assert result.exit_code == 2 and "is being written by another run" in result.stderr
        assert not (folder / "splits.csv").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _run(results_dir).exit_code == 0  # a dead holder's lock is gone with it


def test_feature_cache_is_saved_while_computing_and_shuffled_rows_are_recomputed(
        tiny_dataset, results_dir, tmp_path, monkeypatch):
    """Case 8: a kill keeps the features computed so far; rows that do not match their keys are dropped."""
    from bench.run import runner

    monkeypatch.setattr(runner, "FEATURE_CHUNK", 4)
    monkeypatch.setattr(runner, "SAVE_FEATURES_EVERY", 2)
    cache_dir = results_dir / "tinyfiles" / ".cache" / "features"
    seen = []

    class Watch(LocalExecutor):
        def map(self, fn, items, **kwargs):
            for i, result in super().map(fn, items, **kwargs):
                if kwargs.get("kind") == "features" and i == 5:  # chunks 0-3 done: saved twice by now
                    with np.load(next(cache_dir.glob("*.npz"))) as data:
                        seen.append(len(data["keys"]))
                yield i, result

    options = RunOptions(results_dir=results_dir, splits=SplitConfig(2))
    assert [o.status for o in run_benchmark([SVR], load_dataset("tinyfiles"), options, Watch())] == ["done"]
    assert seen == [16]
    path = next(cache_dir.glob("*.npz"))
    with np.load(path) as data:
        arrays = dict(data)
    arrays["features"] = np.roll(arrays["features"], 1, axis=0)  # every row under another image's key
    np.savez(path, **arrays)
    calls = len((tmp_path / "feature_calls.log").read_text().splitlines())
    assert _run(results_dir, "--force", splits="2").exit_code == 0
    assert len((tmp_path / "feature_calls.log").read_text().splitlines()) == calls + len(tiny_dataset)


def test_fault_injection_small(tmp_path):
    """Case 5 of the brief: kill -9 at sampled steps of a run and a --force, corrupt files,
    rerun; byte-identical to an uninterrupted run, no orphans (the full sweep: the script)."""
    spec = importlib.util.spec_from_file_location(
        "fault_injection", Path(__file__).resolve().parents[1] / "scripts" / "fault_injection.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    counts = module.sweep(tmp_path, n_images=12, n_splits=2, every=13)
    assert counts["failures"] == [] and counts["orphans"] == 0
    assert counts["kills"] >= 12 and counts["corruptions"] == len(module.CORRUPTIONS)
    assert counts["identical"] == counts["kills"] + counts["corruptions"]


def test_splits_file_is_created_exclusively_and_hashed_from_the_parsed_bytes(tmp_path):
    from bench.files import create_exclusively
    from bench.splits import ensure_splits, read_splits, splits_hash

    images = pd.Series([f"im{i}.png" for i in range(20)])
    groups = pd.Series([str(i // 2) for i in range(20)])
    first = tmp_path / "first.csv"
    assert create_exclusively(first, b"a") and not create_exclusively(first, b"b")
    assert first.read_bytes() == b"a" and not list(tmp_path.glob(".*.tmp"))
    # A writer that lost the race reads and checks the winner's file instead of replacing it.
    other = ensure_splits(tmp_path / "other", images, groups, SplitConfig(2, seed=1))
    (tmp_path / "mine").mkdir()
    for name in ("splits.csv", "splits.json"):
        (tmp_path / "mine" / name).write_bytes((tmp_path / "other" / name).read_bytes())
    with pytest.raises(BenchError, match="made with seed=1, not 0"):
        ensure_splits(tmp_path / "mine", images, groups, SplitConfig(2, seed=0))
    path = ensure_splits(tmp_path / "mine", images, groups, SplitConfig(2, seed=1))
    assert path.read_bytes() == other.read_bytes()
    frame, digest = read_splits(path)
    assert digest == splits_hash(path) and len(frame) == 20
