"""Executors run units of work (bench.run.tasks) and hand results back to the driver.

``LocalExecutor`` runs in-process, or in a pool of worker processes for training-free
work. Other executors (Ray) implement the same ``map`` and plug into the runner unchanged.
Executors are an open registry (bench.plugins): a module registers a factory with
``register_executor`` (third-party ones through the entry-point group
``ipiqa_bench.executors``) and `run --executor NAME` offers it.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from bench.errors import BenchError
from bench.plugins import Registry
from bench.run.allocator import keep_freed_memory_in_this_worker


@dataclass(frozen=True)
class ExecutorEntry:
    name: str
    # ``factory(jobs, address)``: jobs is --jobs (None: the executor's default), address
    # --ray-address or another scheduler's address (None if not given).
    factory: Callable[[int | None, str | None], object]
    description: str = ""


EXECUTOR_REGISTRY: Registry[ExecutorEntry] = Registry("executor", "ipiqa_bench.executors", ("bench.run.ray_executor",))


def register_executor(name: str, description: str = ""):
    """Decorator for ``factory(jobs, address) -> executor``."""

    def decorator(factory):
        EXECUTOR_REGISTRY.register(name, ExecutorEntry(name, factory, description))
        return factory

    return decorator


def executor_names() -> list[str]:
    return EXECUTOR_REGISTRY.names()


class LocalExecutor:
    name = "local"
    concurrent = False  # the runner runs one method at a time

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, jobs)

    def map(self, fn: Callable, items: Iterable[tuple], kind: str = "cpu", resources: dict | None = None,
            family: str | None = None) -> Iterator[tuple[int, object]]:
        """Yield ``(index, result)`` as items finish; a failure is yielded as the exception.

        ``kind`` is "features" (training-free, run on ``jobs`` worker processes), "fits"
        (regressors fitted on cached features: light, and libsvm/numpy release the GIL, so
        ``jobs`` threads of this process) or "split" (one at a time); ``resources`` and
        ``family`` (the method's) are for schedulers such as Ray.
        """
        items = list(items)
        if self.jobs == 1 or kind not in ("features", "fits") or len(items) < 2:
            for i, args in enumerate(items):
                try:
                    yield i, fn(*args)
                except Exception as exc:  # reported by the runner, which goes on
                    yield i, exc
            return
        pool = (ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="fit") if kind == "fits" else
                ProcessPoolExecutor(max_workers=self.jobs, initializer=_one_thread_per_worker))
        with pool:
            futures = {pool.submit(fn, *args): i for i, args in enumerate(items)}
            try:
                for future in as_completed(futures):
                    exc = future.exception()
                    yield futures[future], exc if exc is not None else future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def _one_thread_per_worker() -> None:
    """A forked worker of a process whose torch has run OpenMP threads hangs in its first
    parallel region (GNU OpenMP is not fork-safe), as a DataLoader worker would: the workers
    compute single-threaded, --jobs of them sharing the cores. They only extract features, so
    they keep freed memory for their life (bench.run.allocator)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    keep_freed_memory_in_this_worker()


@register_executor("local", "in this process (--jobs N: N worker processes for feature extraction, N threads for regressor fits)")
def _local(jobs: int | None, address: str | None) -> LocalExecutor:
    if address:
        raise BenchError("--ray-address needs --executor ray")
    return LocalExecutor(jobs or 1)


def make_executor(name: str, jobs: int | None = None, address: str | None = None):
    """``jobs``: worker count (local default 1; Ray default: every CPU of a local Ray)."""
    return EXECUTOR_REGISTRY.get(name).factory(jobs, address)
