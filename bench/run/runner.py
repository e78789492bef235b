"""The runner: for every method and split, fit on train, predict test, write the results.

Resume: a split is done when its manifest record, prediction file and checkpoint agree
(bench/results/completion.py); each split writes its checkpoint, then its record, then its
prediction file last, so a kill anywhere leaves every split complete or visibly not. An
identical rerun does no work and rewrites nothing; ``force`` moves the method's earlier
results aside and recomputes. One run writes into a dataset's folder at a time
(bench/results/locks.py). A failing method is reported and the others go on.

The run first states its plan (bench/run/progress.py): every method, the splits it will run
and an estimate, or why it will not run. Ctrl-C raises ``RunInterrupted``, which says what
was kept; a trainable split's epoch state (bench/train/epoch_state.py) lets its rerun
continue from the last finished epoch, and goes once the split is written.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.assets import provenance
from bench.bars import progress_bar
from bench.config import ResolvedConfig, resolve_config
from bench.datasets import Dataset
from bench.errors import BenchError
from bench.files import (
    atomic_write_bytes,
    fingerprint,
    remove_stale_temporaries,
    sha256,
)
from bench.method import FeatureMethod
from bench.registry import MethodInfo, create_method, get_method_info
from bench.results import manifest as manifests
from bench.results.checkpoints import write_checkpoint
from bench.results.completion import checkpoint_path, complete_splits
from bench.results.cost import reset_peak
from bench.results.locks import dataset_lock
from bench.results.metrics import test_side_warning
from bench.results.store import method_dir, prediction_bytes, split_path
from bench.run.feature_cache import FeatureCache
from bench.run.progress import (
    Estimate,
    RunInterrupted,
    RunProgress,
    describe_plan,
    estimate_split_time,
    interrupted_message,
    reference_estimate,
    say,
)
from bench.run.tasks import INPUT_COLUMNS, SplitTask, extract_features, fit_predict
from bench.splits import SPLITS_FILE, SplitConfig, ensure_splits, read_splits, smallest_test_side, split_columns
from bench.targets import target_kind
from bench.train.epoch_state import STATE_DIR, split_state_dir
from bench.train.torch_method import TorchMethod

log = logging.getLogger("ipiqa_bench")
FEATURE_CHUNK = 16
SAVE_FEATURES_EVERY = 8  # chunks: a killed run keeps the features it computed


@dataclass
class RunOptions:
    results_dir: Path = Path("results")
    splits: SplitConfig = field(default_factory=SplitConfig)
    force: bool = False
    plcc_mapping: str = "logistic"
    device: str = "auto"
    # Per-method constructor overrides from the CLI (epochs, lr...); applied where accepted.
    overrides: dict = field(default_factory=dict)
    # A named preset every method that declares it uses (default: the one named after the dataset).
    preset: str | None = None


@dataclass
class MethodOutcome:
    method: str
    status: str  # "done", "up-to-date", "skipped", "failed"
    message: str = ""
    reported: bool = False  # its message was already shown to the user (the run's plan or [k/N] lines)
    stage: str = ""  # a failure: where it happened (setup, features, fit (split 0), predict (split 0), ...)

    def failure_line(self) -> str:
        """``NAME failed in STAGE: Type: message`` (a BenchError's message alone: it says what to do)."""
        return f"{self.method} failed{f' in {self.stage}' if self.stage else ''}: {self.message}"


class MethodFailed(Exception):
    """A method's task failed; ``stage`` says where (bench.run.tasks.stage)."""

    def __init__(self, message: str, stage: str = ""):
        super().__init__(message)
        self.stage = stage

    @classmethod
    def of(cls, exc: BaseException) -> MethodFailed:
        return cls(describe_failure(exc), getattr(exc, "stage", ""))


def failed_outcome(name: str, exc: BaseException, stage: str = "") -> MethodOutcome:
    """The outcome of a method that raised ``exc``, with the stage it failed in."""
    if not isinstance(exc, (BenchError, MethodFailed)):  # a bug in an adapter: -v shows where
        log.debug("method %s crashed", name, exc_info=exc)
    return MethodOutcome(name, "failed", describe_failure(exc), stage=getattr(exc, "stage", "") or stage)


def run_benchmark(method_names: list[str], dataset: Dataset, options: RunOptions, executor) -> list[MethodOutcome]:
    dataset_dir = Path(options.results_dir) / dataset.name
    with dataset_lock(dataset_dir):
        for path in remove_stale_temporaries(dataset_dir):
            log.debug("removed %s, left by an interrupted run", path)
        return _run_locked(method_names, dataset, options, executor, dataset_dir)


def _run_locked(method_names, dataset, options, executor, dataset_dir) -> list[MethodOutcome]:
    reused = (dataset_dir / SPLITS_FILE).exists()
    path = ensure_splits(dataset_dir, dataset.frame["image"], dataset.frame["group"], options.splits)
    splits, digest = read_splits(path)
    in_file = len(split_columns(splits))
    splits = splits[["image", "group", *split_columns(splits)[:options.splits.n_splits]]]
    context = {"splits_file": str(path), "splits_hash": digest}

    planned_features: set = set()  # feature caches an earlier row of this run extracts (the later ones read them)
    plans = [_plan_method(name, dataset, splits, context, options, planned_features) for name in method_names]
    n = options.splits.n_splits
    say(f"splits: reusing {path} ({in_file} split(s) in the file; this run uses the first {n})" if reused else
        f"splits: wrote {path} ({n} split(s), seed {options.splits.seed}, test size {options.splits.test_size})")
    smallest = smallest_test_side(splits)
    if test_side_warning(smallest):
        say(f"warning: the smallest test side: {test_side_warning(smallest)}")
    for line in describe_plan(plans, dataset.name, n):
        say(line)
    for plan in plans:
        if plan.outcome is not None:
            plan.outcome.reported = True  # the plan said it
    progress = RunProgress(plans)

    def run_one(plan: MethodPlan) -> MethodOutcome:
        if plan.outcome is not None:
            return plan.outcome
        progress.running(plan.info.name)
        try:
            outcome = _run_method(plan, dataset, options, executor, progress)
        except Exception as exc:  # noqa: BLE001  (one adapter's bug must not cost the others)
            outcome = failed_outcome(plan.info.name, exc)
        if outcome.status == "failed":
            progress.failed(outcome.method, outcome.failure_line(), len(plan.todo) - plan.written)
            outcome.reported = True
        return outcome

    try:
        if getattr(executor, "concurrent", False) and len(plans) > 1:
            return _run_concurrently(plans, run_one, options, executor, dataset.name)
        return [run_one(plan) for plan in plans]
    except KeyboardInterrupt:
        kept = {p.info.name: (len(p.done), len(_written(p)), p.n_splits) for p in plans if p.runnable or p.done}
        raise RunInterrupted(interrupted_message(kept)) from None
    finally:
        progress.close()


def _run_concurrently(plans, run_one, options, executor, dataset_name) -> list[MethodOutcome]:
    """Keep every method's tasks in flight at once, so a scheduler (Ray) can fill its workers.

    One driver thread per group of methods that share a feature cache file (they run one
    after another, so the features are computed once); the threads only submit work, wait
    and write their own methods' files. Ctrl-C cancels the outstanding tasks, lets the
    threads save what finished, then stops the run.
    """
    groups: dict[str, list[MethodPlan]] = {}
    for plan in plans:
        groups.setdefault(_feature_cache_key(plan.info.name, options, dataset_name), []).append(plan)
    outcomes: dict[str, MethodOutcome] = {}
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="method") as threads:
        futures = [threads.submit(lambda group: {p.info.name: run_one(p) for p in group}, group)
                   for group in groups.values()]
        try:
            for future in futures:
                while True:  # a timed wait keeps the main thread responsive to Ctrl-C
                    try:
                        outcomes.update(future.result(timeout=0.5))
                        break
                    except FutureTimeout:
                        pass
        except BaseException:
            executor.cancel()
            raise
    return [outcomes[plan.info.name] for plan in plans]


def _feature_cache_key(name: str, options: RunOptions, dataset: str) -> str:
    """The feature cache a method reads and writes (its own name if none)."""
    try:
        info = get_method_info(name)
        if issubclass(info.cls, FeatureMethod):
            return "features:" + info.cls(**method_config(info, options, dataset)).feature_key
    except Exception:  # the same error is reported when the method runs
        pass
    return "method:" + name


def resolved_config(info: MethodInfo, options: RunOptions, dataset: str | None = None) -> ResolvedConfig:
    """The method's config for this run and the source of every value (bench.config)."""
    overrides = dict(options.overrides)
    if options.device not in (None, "auto"):
        overrides["device"] = options.device
    return resolve_config(info, dataset, options.preset, overrides)


def method_config(info: MethodInfo, options: RunOptions, dataset: str | None = None) -> dict:
    """The method's full config: defaults, its preset for ``dataset`` (or the run's preset),
    and the run's overrides it accepts."""
    return resolved_config(info, options, dataset).values


@dataclass
class MethodPlan:
    """What a run will do with one method, decided before anything runs: its splits to run,
    or the outcome that stands instead (excluded, failed to prepare, already done)."""

    info: MethodInfo
    outcome: MethodOutcome | None = None
    targets: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    out_dir: Path | None = None
    manifest: object = None
    splits: pd.DataFrame | None = None
    n_splits: int = 0
    done: list = field(default_factory=list)
    todo: list = field(default_factory=list)
    estimate: Estimate | None = None
    written: int = 0  # splits written by this run

    @property
    def runnable(self) -> bool:
        return self.outcome is None


def _plan_method(name, dataset, splits, context, options, planned_features: set) -> MethodPlan:
    info = get_method_info(name)
    try:
        return _prepare_method(info, dataset, splits, context, options, planned_features)
    except Exception as exc:  # noqa: BLE001  (one adapter's bug must not cost the others)
        return MethodPlan(info, failed_outcome(name, exc, "setup"))


def _prepare_method(info, dataset, splits, context, options, planned_features: set) -> MethodPlan:
    """The method's targets, config, manifest and splits still to run; its files exist.
    ``planned_features``: the feature versions earlier rows of the run will extract (updated)."""
    targets = [t for t in dataset.targets if target_kind(t) in info.targets]
    if not targets:
        return MethodPlan(info, MethodOutcome(info.name, "skipped", f"predicts none of {list(dataset.targets)}"))
    resolved = resolved_config(info, options, dataset.name)
    config = resolved.values
    out_dir = method_dir(options.results_dir, dataset.name, info.name)
    manifest = manifests.prepare(out_dir, info, dataset, config, targets, context, options,
                                 config_sources=resolved.sources, preset=resolved.preset,
                                 feature_version=_feature_version(info, config))
    n_splits = len(split_columns(splits))
    done = sorted(complete_splits(out_dir, manifest, range(n_splits)))
    todo = [k for k in range(n_splits) if k not in done]
    plan = MethodPlan(info, None, targets, config, out_dir, manifest, splits, n_splits, done, todo)
    if not todo:
        manifests.save_if_changed(out_dir, manifest)
        plan.outcome = MethodOutcome(info.name, "up-to-date")
        _remove_epoch_states(out_dir)
        return plan
    manifest.assets = used_assets(info, config) or None  # AssetMissing names the file, URL and cache path
    plan.estimate = estimate_split_time(out_dir, manifest)
    # features are extracted once per run: an earlier run, or an earlier row of this one, may do it
    extracts = manifest.features is None and manifest.feature_version not in planned_features
    if manifest.feature_version:
        planned_features.add(manifest.feature_version)
    if plan.estimate.seconds_per_split is None:  # never run here: the method's declared reference cost
        test_sizes = [int((splits[f"split_{k}"] == "test").sum()) for k in todo]
        train_sizes = [int((splits[f"split_{k}"] == "train").sum()) for k in todo]
        to_extract = len(dataset) if extracts else 0
        plan.estimate = reference_estimate(
            getattr(info.cls, "reference_cost", None), to_extract, max(test_sizes, default=0),
            _pixels(dataset), issubclass(info.cls, FeatureMethod), info.trains,
            _training_work(info, config, max(train_sizes, default=0), max(test_sizes, default=0), targets), config,
        ) or plan.estimate
        if manifest.feature_version and not extracts and manifest.features is None:
            plan.estimate.source += "; its features come from an earlier row's extraction"
    return plan


def _training_work(info, config, n_train: int, n_test: int, targets):
    """A trainable torch row's planned work on one split (None for any other row)."""
    if not issubclass(info.cls, TorchMethod):
        return None
    return info.cls(**config).planned_work(n_train, n_test, targets)


def _pixels(dataset) -> int | None:
    """Pixels of the dataset's first image (its header only), to scale a reference cost."""
    try:
        with Image.open(dataset.frame["path"].iloc[0]) as image:
            return image.width * image.height
    except Exception:  # an unreadable image is reported where it is read; here it costs the scaling
        return None


def _run_method(plan: MethodPlan, dataset, options, executor, progress: RunProgress) -> MethodOutcome:
    info, config, out_dir, manifest = plan.info, plan.config, plan.out_dir, plan.manifest
    manifest.executor = getattr(executor, "name", "local")  # what produced the timings below
    reset_peak()  # this row's peak memory, not the previous row's
    manifests.save(out_dir, manifest)  # before any split file: the folder always says what made it

    frame = dataset.frame
    features = None
    if issubclass(info.cls, FeatureMethod):
        features = compute_features(info, config, dataset, options, executor, manifest)
        manifests.save(out_dir, manifest)

    tasks = [_split_task(info, config, frame, plan.splits, k, plan.targets, features) for k in plan.todo]
    for task in tasks:
        task.state_dir = str(split_state_dir(out_dir, task.split))
    # regressors on cached features that may fit side by side, or one split at a time
    kind = "fits" if features is not None and info.cls.fits_in_threads else "split"
    for _, outcome in executor.map(fit_predict, [(t,) for t in tasks], kind=kind,
                                   resources=info.resources, family=info.family):
        if isinstance(outcome, Exception):
            raise MethodFailed.of(outcome)
        _write_split(out_dir, split_path(options.results_dir, dataset.name, info.name, outcome.split),
                     manifest, outcome)
        shutil.rmtree(split_state_dir(out_dir, outcome.split), ignore_errors=True)  # the split is done
        plan.written += 1
        progress.split_done(info.name, outcome.split, outcome.fit_s + outcome.predict_s)
    _remove_epoch_states(out_dir)
    return MethodOutcome(info.name, "done", f"{len(plan.todo)} split(s) written to {out_dir}")


def _written(plan: MethodPlan) -> list[int]:
    """The splits this run finished: their prediction file, written last, is on disk and is
    the one the manifest recorded (asked of the files, since Ctrl-C may land between the
    write and any count)."""
    written = []
    for k in plan.todo:
        record, path = plan.manifest.splits.get(k), split_path(plan.out_dir.parent.parent, plan.out_dir.parent.name,
                                                               plan.info.name, k)
        if record is not None and path.is_file() and sha256(path.read_bytes()) == record.sha256:
            written.append(k)
    return written


def _remove_epoch_states(out_dir: Path) -> None:
    """The epoch-state folder once no split of the method is left to resume."""
    shutil.rmtree(Path(out_dir) / STATE_DIR, ignore_errors=True)


def _write_split(out_dir: Path, path: Path, manifest, outcome) -> None:
    """Checkpoint, then the manifest record, then the prediction file: the split counts as
    done only once all three exist and agree."""
    data = prediction_bytes(outcome.predictions)
    if outcome.checkpoint is not None:
        write_checkpoint(checkpoint_path(out_dir, outcome.split), outcome.checkpoint)
    manifests.record_split(manifest, outcome, data, outcome.checkpoint)
    manifests.save(out_dir, manifest)
    atomic_write_bytes(path, data)


def used_assets(info, config) -> dict:
    """{asset: its provenance} for every pretrained file this config needs, resolving each
    first (AssetMissing names the file, URL and cache path)."""
    return {asset: provenance(asset) for asset in create_method(info.name, **config).required_assets()}


def _feature_version(info, config) -> str | None:
    if not issubclass(info.cls, FeatureMethod):
        return None
    method = create_method(info.name, **config)
    return f"{method.feature_key}/{method.feature_version}"


def _split_task(info, config, frame, splits, k, targets, features) -> SplitTask:
    """The split's two sides: inputs and the run's targets only, with the split file's
    groups (SVR folds and the ``val`` carve-out group by them)."""
    side = frame["image"].map(dict(zip(splits["image"], splits[f"split_{k}"])))
    frame = frame[[*INPUT_COLUMNS, *targets]].assign(group=frame["image"].map(dict(zip(splits["image"], splits["group"]))))
    train, test = frame[side == "train"], frame[side == "test"]
    task = SplitTask(info.name, config, k, targets, train, test)
    if features is not None:
        task.X_train, task.X_test = features[train.index.to_numpy()], features[test.index.to_numpy()]
    return task


def compute_features(info, config, dataset, options, executor, manifest) -> np.ndarray:
    """Feature matrix of every image, computed once per image and cached."""
    method = create_method(info.name, **config)
    frame = dataset.frame
    prompts = frame["prompt"].fillna("").tolist()
    keys = [fingerprint(p, q if info.uses_prompt else None) for p, q in zip(frame["path"], prompts)]
    cache = FeatureCache(Path(options.results_dir) / dataset.name / ".cache" / "features",
                         method.feature_key, method.feature_version)
    missing = cache.missing(keys)
    start = time.perf_counter()
    if missing:
        chunks = [missing[i:i + FEATURE_CHUNK] for i in range(0, len(missing), FEATURE_CHUNK)]
        items = [(info.name, config, [frame["path"][j] for j in c], [prompts[j] for j in c]) for c in chunks]
        bar = progress_bar(total=len(missing), desc=f"{info.name} features", unit="img", leave=False)
        saved, workers = 0, {}
        try:
            for i, result in executor.map(extract_features, items, kind="features",
                                          resources=info.resources, family=info.family):
                if isinstance(result, Exception):
                    raise MethodFailed.of(result)
                cache.add([keys[j] for j in chunks[i]], result.features)
                workers[result.threads["pid"]] = {k: v for k, v in result.threads.items() if k != "pid"}
                bar.update(len(chunks[i]))
                saved += 1
                if saved % SAVE_FEATURES_EVERY == 0:
                    cache.save()
        finally:
            bar.close()
            cache.save()  # whatever finished is kept, even on failure or Ctrl-C
    seconds = time.perf_counter() - start
    if missing:
        manifest.features = {
            "key": method.feature_key, "version": method.feature_version,
            "computed": len(missing), "cached": len(keys) - len(missing),
            "seconds": round(seconds, 3), "images_per_s": round(len(missing) / seconds, 2) if seconds else None,
            "cache_file": str(cache.path), **worker_threads(workers),
        }
    return cache.matrix(keys)


def worker_threads(workers: dict[int, dict]) -> dict:
    """``processes`` (how many computed the features) and ``threads``: each one's torch and
    BLAS/OpenMP threads, one dict where they all agree (the workers of a pool do)."""
    distinct = [dict(t) for t in sorted({tuple(sorted(t.items())) for t in workers.values()}, key=str)]
    return {"processes": len(workers), "threads": distinct[0] if len(distinct) == 1 else distinct} if workers else {}


def describe_failure(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, (BenchError, MethodFailed)) else f"{type(exc).__name__}: {exc}"
