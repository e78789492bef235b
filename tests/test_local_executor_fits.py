"""--jobs N runs the regressor fits of feature methods on N threads, and training one at a time."""
import threading

import pytest

from bench.run.executors import LocalExecutor


def test_fits_run_side_by_side_on_jobs_threads():
    meet = threading.Barrier(2, timeout=10)  # breaks unless two fits run at once

    def fit(n):
        meet.wait()
        return n * 10

    results = dict(LocalExecutor(2).map(fit, [(i,) for i in range(4)], kind="fits"))
    assert results == {0: 0, 1: 10, 2: 20, 3: 30}


@pytest.mark.parametrize("jobs, kind", [(1, "fits"), (2, "split")])
def test_training_and_one_job_run_one_at_a_time(jobs, kind):
    meet = threading.Barrier(2, timeout=0.5)  # never met when the tasks run one after another

    def fit(n):
        meet.wait()
        return n

    results = [r for _, r in LocalExecutor(jobs).map(fit, [(i,) for i in range(2)], kind=kind)]
    assert all(isinstance(r, threading.BrokenBarrierError) for r in results), results


def test_a_failed_fit_is_yielded_as_its_exception():
    def fit(n):
        if n == 1:
            raise ValueError("bad split")
        return n

    results = dict(LocalExecutor(2).map(fit, [(i,) for i in range(3)], kind="fits"))
    assert isinstance(results[1], ValueError) and results[0] == 0 and results[2] == 2


class _Recording(LocalExecutor):
    def __init__(self):
        super().__init__(2)
        self.kinds = []

    def map(self, fn, items, **kwargs):
        self.kinds.append(kwargs.get("kind"))
        yield from super().map(fn, items, **kwargs)


@pytest.mark.parametrize("in_threads, kind", [(True, "fits"), (False, "split")])
def test_the_runner_fits_a_feature_row_on_threads_only_when_it_says_it_can(tiny_dataset, results_dir,
                                                                            monkeypatch, in_threads, kind):
    from bench.datasets import load_dataset
    from bench.registry import get_method_info
    from bench.run.runner import RunOptions, run_benchmark
    from bench.splits import SplitConfig

    method = "test-sharpness-svr"
    monkeypatch.setattr(get_method_info(method).cls, "fits_in_threads", in_threads)
    executor = _Recording()
    options = RunOptions(results_dir=results_dir, splits=SplitConfig(3))
    outcomes = run_benchmark([method], load_dataset("tinyfiles"), options, executor)
    assert [o.status for o in outcomes] == ["done"] and executor.kinds[-1] == kind
