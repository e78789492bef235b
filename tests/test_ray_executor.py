"""`--executor ray`: the same predictions as the local executor, dead workers retried,
a method whose workers keep dying failed alone, Ctrl-C cancels and keeps what finished.

The in-process tests share one local 2-CPU Ray (starting one takes ~10 s)."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pandas as pd
import pytest
from helpers import run_cli

from bench.errors import BenchError
from bench.run.executors import make_executor
from bench.run.ray_executor import task_resources


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def test_importing_the_harness_does_not_import_ray():
    code = "import sys, bench.cli, bench.run.runner, bench.run.executors; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_without_ray_the_executor_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(BenchError, match=r"pip install 'ipiqa-bench\[ray\]'"):
        make_executor("ray")
    with pytest.raises(BenchError, match="--ray-address needs --executor ray"):
        make_executor("local", address="10.0.0.1:6379")


def test_task_resources_come_from_the_method_or_its_family():
    assert task_resources({"num_cpus": 4}, "deep", True) == {"num_cpus": 4}
    assert task_resources(None, "ipiqa", True) == {"num_gpus": 1}
    assert task_resources({}, "svr", True) == {"num_cpus": 1}
    # No GPU in the cluster: a GPU request (declared or by family) runs on one CPU instead of waiting.
    assert task_resources(None, "deep", False) == {"num_cpus": 1}
    assert task_resources({"num_gpus": 1, "memory": 2**30}, "ipiqa", False) == {"num_cpus": 1, "memory": 2**30}


def test_ray_writes_the_same_predictions_as_local(local_ray, tiny_dataset, tmp_path):
    methods = "test-lap-var,ceiq,ceiq-svr,gmlf,test-broken"  # training-free, SVR, a failing one
    written = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        result = run_cli("run", "--methods", methods, "--dataset", "tinyfiles", "--splits", "3",
                         "--results-dir", str(out), "--executor", executor)
        assert result.exit_code == 1  # test-broken fails, the same way on both
        assert "test-broken failed in features: RuntimeError: broken on purpose" in result.stderr
        written[executor] = {p.relative_to(out): p.read_bytes() for p in out.rglob("split_*.csv")}
    assert len(written["local"]) == 12
    assert written["ray"] == written["local"]
    manifests = {m: json.loads((tmp_path / "ray" / "tinyfiles" / m / "run.json").read_text()) for m in ("ceiq", "ceiq-svr")}
    assert all(m["executor"] == "ray" for m in manifests.values())
    # ceiq and ceiq-svr share a feature cache: one computed the features, the other reused them.
    assert sorted(m.get("features", {}).get("computed", 0) for m in manifests.values()) == [0, len(tiny_dataset)]


def test_a_dead_worker_is_retried_and_a_method_that_keeps_dying_fails_alone(
        local_ray, tiny_dataset, results_dir, tmp_path, monkeypatch):
    from bench.datasets import load_dataset
    from bench.run import runner
    from bench.run.ray_executor import RayExecutor
    from bench.splits import SplitConfig

    writes = Counter()
    write = runner.atomic_write_bytes  # every file the runner writes: split files, checkpoints
    monkeypatch.setattr(runner, "atomic_write_bytes", lambda path, data: (writes.update([path]), write(path, data)))
    marker = tmp_path / "worker-died"
    options = runner.RunOptions(results_dir=results_dir, splits=SplitConfig(3, 0, 0.2),
                                overrides={"death_marker": str(marker)})
    executor = RayExecutor(max_retries=1)
    try:
        outcomes = {o.method: o for o in runner.run_benchmark(
            ["test-dies-once-svr", "test-dies-always", "test-sharpness-svr"], load_dataset("tinyfiles"),
            options, executor)}
    finally:
        executor.close()  # the shared Ray stays up: this executor did not start it
    assert local_ray.is_initialized()
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker died fitting a split

    base = results_dir / "tinyfiles"
    assert outcomes["test-dies-once-svr"].status == "done"
    assert outcomes["test-sharpness-svr"].status == "done"
    for k in range(3):
        assert writes[base / "test-dies-once-svr" / f"split_{k}.csv"] == 1
        # The retried fit predicts what the same features and SVR predict without a death.
        pd.testing.assert_frame_equal(pd.read_csv(base / "test-dies-once-svr" / f"split_{k}.csv"),
                                      pd.read_csv(base / "test-sharpness-svr" / f"split_{k}.csv"))
    assert outcomes["test-dies-always"].status == "failed"
    assert "worker died on all 2 tries" in outcomes["test-dies-always"].message
    assert not list((base / "test-dies-always").glob("split_*.csv"))


def test_ctrl_c_cancels_outstanding_tasks_and_keeps_finished_splits(local_ray, tiny_dataset, results_dir, tmp_path,
                                                                    caplog):
    """Ctrl-C comes after the gated method's first split is written and while its other fits
    wait at the gate: an event, not a race with the clock."""
    from bench import api
    from bench.run.progress import RunInterrupted

    caplog.set_level(logging.INFO, logger="ipiqa_bench")
    gate = tmp_path / "gate"
    gate.mkdir()
    # Two methods: the driver waits on both from threads, the path a real grid takes.
    run = dict(methods="test-lap-var,test-gated-svr", dataset="tinyfiles", splits=10, results_dir=results_dir,
               overrides={"gate": str(gate)}, summary=False)
    method_dir = results_dir / "tinyfiles" / "test-gated-svr"
    running = threading.Event()

    def press_ctrl_c_after_the_first_split():
        deadline = time.monotonic() + 300
        while running.is_set() and time.monotonic() < deadline and not list(method_dir.glob("split_*.csv")):
            time.sleep(0.01)
        if running.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    def on_sigint(signum, frame):  # only while the run is going: never interrupt pytest itself
        if running.is_set():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    running.set()
    presser = threading.Thread(target=press_ctrl_c_after_the_first_split)
    presser.start()
    try:
        with pytest.raises(RunInterrupted, match="Rerun the same command to resume"):
            api.run(**run, executor="ray")
    finally:
        running.clear()
        presser.join()
        signal.signal(signal.SIGINT, previous)
        (gate / "open").touch()  # the cancelled fits may go on: their results are no longer read
    assert "ray: cancelled" in caplog.text
    done = {p: p.stat().st_mtime_ns for p in method_dir.glob("split_*.csv")}
    assert len(done) == 1
    time.sleep(1)
    assert len(list(method_dir.glob("split_*.csv"))) == len(done), "a split was written after Ctrl-C"
    for path in done:
        assert pd.read_csv(path)["pred"].notna().all()
    outcomes = {o.method: o.status for o in api.run(**run)}  # resumes, locally
    assert outcomes["test-gated-svr"] == "done" and outcomes["test-lap-var"] in ("done", "up-to-date")
    assert len(list(method_dir.glob("split_*.csv"))) == 10
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in done.items()), "finished splits were redone"
    assert not [p for p in method_dir.rglob(".*") if p.is_file()]  # no temp file left behind


def test_a_request_no_node_can_meet_fails_instead_of_waiting(local_ray):
    from bench.run.ray_executor import RayExecutor
    from bench.run.tasks import extract_features

    executor = RayExecutor()
    with pytest.raises(BenchError, match="num_cpus=64, but the cluster has 2 CPU"):
        next(executor.map(extract_features, [("test-lap-var", {}, [], [])], resources={"num_cpus": 64}))
