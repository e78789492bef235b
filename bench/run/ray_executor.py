"""Run the benchmark's units of work (bench.run.tasks) as Ray tasks, on a local Ray or a cluster.

Workers only compute and return data; the driver writes every result and cache file
(bench.run.runner), so no shared filesystem is needed for results and the atomic-write and
resume guarantees are those of the local executor. Workers must have the project installed
and read the images (and pretrained files) at the paths the driver sees.

Faults: a task whose worker dies (killed, out of memory, node lost) is rerun up to
``max_retries`` times; an exception raised by the method itself is not retried, it is the
method's failure, reported with the original exception as with the local executor.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable, Iterable, Iterator

from bench.errors import BenchError
from bench.registry import family_resources
from bench.run.executors import register_executor

log = logging.getLogger("ipiqa_bench")
MAX_RETRIES = 3
# On a cluster, the harness's own settings (asset cache, offline mode, plugin modules) are
# handed to every worker, so it builds the same methods and looks for the same files as the
# driver. A local Ray started here inherits them anyway (and a runtime env costs seconds).
FORWARDED_ENV_PREFIX = "IPIQA_BENCH_"


class TaskDied(Exception):
    """A task whose worker died on every try."""


class Cancelled(Exception):
    """The run was interrupted; no new task is submitted."""


def _call(fn: Callable, *args):
    return fn(*args)


def task_resources(declared: dict | None, family: str | None, cluster_has_gpus: bool) -> dict:
    """Ray options for one task: the method's declared resources, else its family's (one GPU
    for network families), else one CPU; on a cluster without GPUs a GPU request becomes one
    CPU (the method then runs on the CPU, as it does locally without a GPU)."""
    request = dict(declared or family_resources(family) or {"num_cpus": 1})
    if request.get("num_gpus") and not cluster_has_gpus:
        request.pop("num_gpus")
        request.setdefault("num_cpus", 1)
    return request


@register_executor("ray", "Ray tasks on a local Ray or a cluster (--ray-address); pip install 'ipiqa-bench[ray]'")
def _ray(jobs: int | None, address: str | None) -> "RayExecutor":
    return RayExecutor(jobs=jobs, address=address)


class RayExecutor:
    name = "ray"
    concurrent = True  # the runner may keep several methods' tasks in flight at once

    def __init__(self, jobs: int | None = None, address: str | None = None, max_retries: int = MAX_RETRIES):
        try:
            import ray
        except ImportError:
            raise BenchError("--executor ray needs Ray: pip install 'ipiqa-bench[ray]'") from None
        self.max_retries = max_retries
        self._lock = threading.Lock()
        self._pending: set = set()  # submitted and not yet collected, for cancel()
        self._cancelled = False
        self._owns_ray = not ray.is_initialized()
        address = address or os.environ.get("RAY_ADDRESS")
        if self._owns_ray:
            _start_ray(ray, jobs, address)
        elif jobs or address:
            log.warning("ray: already initialised in this process; --jobs/--ray-address are ignored")
        self._resources = ray.cluster_resources()
        self._remote = ray.remote(_call)
        log.info("ray: %g CPU(s), %g GPU(s)%s", self._resources.get("CPU", 0), self._resources.get("GPU", 0),
                 f" on the cluster at {address}" if address else " on a local Ray")

    def map(self, fn: Callable, items: Iterable[tuple], kind: str = "cpu", resources: dict | None = None,
            family: str | None = None) -> Iterator[tuple[int, object]]:
        """Yield ``(index, result)`` as tasks finish; a failure is yielded as the exception.

        Closing the iterator early (the runner stops a failed method) cancels what is left.
        """
        import ray

        has_gpus = self._resources.get("GPU", 0) > 0
        request = task_resources(resources, family, has_gpus)
        if not has_gpus and task_resources(resources, family, True).get("num_gpus"):
            log.warning("ray: the cluster has no GPU; %s tasks run on one CPU each", family)
        self._check_feasible(request)
        remote = self._remote.options(max_retries=self.max_retries, retry_exceptions=False, **request)
        with self._lock:
            if self._cancelled:
                raise Cancelled("run interrupted")
            index = {remote.remote(fn, *args): i for i, args in enumerate(items)}
            self._pending.update(index)
        waiting = list(index)
        try:
            while waiting:
                ready, waiting = ray.wait(waiting, num_returns=1)
                with self._lock:
                    self._pending.difference_update(ready)
                for ref in ready:
                    yield index[ref], self._result(ref, kind)
        finally:
            if waiting:
                self._cancel(waiting)

    def cancel(self) -> None:
        """Ctrl-C: cancel every outstanding task; finished results stay with the driver."""
        with self._lock:
            self._cancelled = True
            refs = list(self._pending)
        self._cancel(refs)

    def close(self) -> None:
        import ray

        self.cancel()
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def _cancel(self, refs: list) -> None:
        import ray

        with self._lock:
            self._pending.difference_update(refs)
        for ref in refs:
            try:
                ray.cancel(ref, force=True)  # force: a task inside C code would not see the interrupt
            except Exception:  # already finished or gone: nothing to cancel
                log.debug("ray: cancel failed", exc_info=True)
        if refs:
            log.info("ray: cancelled %d outstanding task(s)", len(refs))

    def _result(self, ref, kind: str):
        import ray

        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the method raised: report its own exception
            return exc.cause if isinstance(exc.cause, Exception) else RuntimeError(str(exc))
        except ray.exceptions.TaskCancelledError:
            return Cancelled("run interrupted")
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return TaskDied(f"a {kind} task's worker died on all {self.max_retries + 1} tries: {first_line}")
        except ray.exceptions.RayError as exc:
            return exc

    def _check_feasible(self, request: dict) -> None:
        """A request no node can meet would wait forever: fail the method instead."""
        for option, resource in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
            wanted = request.get(option, 0)
            if wanted and self._resources.get(resource, 0) < wanted:
                raise BenchError(f"the method asks Ray for {option}={wanted}, but the cluster has "
                                 f"{self._resources.get(resource, 0):g} {resource}(s)")


def _start_ray(ray, jobs: int | None, address: str | None) -> None:
    try:
        if address:
            if jobs:
                log.warning("ray: --jobs is ignored on an existing cluster (its nodes declare their CPUs)")
            ray.init(address=address, logging_level=logging.WARNING,
                     runtime_env={"env_vars": _forwarded_env()})
        else:
            # "local": a new Ray of our own, even where `ray start` left a cluster to find.
            ray.init(address="local", num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING)
    except ConnectionError as exc:
        raise BenchError(f"cannot reach the Ray cluster at {address}: {exc} (check the address; a cluster with "
                         "token authentication also needs RAY_AUTH_MODE=token and its token on the driver)") from None


def _forwarded_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIX)}
