"""The runner: for every method and split, fit on train, predict test, write the results.

Resume: a split is done when its manifest record, prediction file and checkpoint agree
(bench/results/completion.py); each split writes its checkpoint, then its record, then its
prediction file last, so a kill anywhere leaves every split complete or visibly not. An
identical rerun does no work and rewrites nothing; ``force`` moves the method's earlier
results aside and recomputes. One run writes into a dataset's folder at a time
(bench/results/locks.py). A failing method is reported and the others go on.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.assets import provenance
from bench.datasets import Dataset, target_kind
from bench.errors import BenchError
from bench.method import FeatureMethod
from bench.registry import MethodInfo, create_method, get_method_info
from bench.results import manifest as manifests
from bench.results.checkpoints import write_checkpoint
from bench.results.completion import checkpoint_path, complete_splits
from bench.results.locks import dataset_lock
from bench.results.store import atomic_write_bytes, method_dir, prediction_bytes, remove_stale_temporaries, split_path
from bench.run.config import ResolvedConfig, resolve_config
from bench.run.feature_cache import FeatureCache, fingerprint
from bench.run.tasks import INPUT_COLUMNS, SplitTask, extract_features, fit_predict
from bench.splits import SplitConfig, ensure_splits, read_splits, split_columns

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


class MethodFailed(Exception):
    pass


def run_benchmark(method_names: list[str], dataset: Dataset, options: RunOptions, executor) -> list[MethodOutcome]:
    dataset_dir = Path(options.results_dir) / dataset.name
    with dataset_lock(dataset_dir):
        for path in remove_stale_temporaries(dataset_dir):
            log.debug("removed %s, left by an interrupted run", path)
        return _run_locked(method_names, dataset, options, executor, dataset_dir)


def _run_locked(method_names, dataset, options, executor, dataset_dir) -> list[MethodOutcome]:
    path = ensure_splits(dataset_dir, dataset.frame["image"], dataset.frame["group"], options.splits)
    splits, digest = read_splits(path)
    splits = splits[["image", "group", *split_columns(splits)[:options.splits.n_splits]]]
    context = {"splits_file": str(path), "splits_hash": digest}

    def run_one(name: str) -> MethodOutcome:
        try:
            outcome = _run_method(get_method_info(name), dataset, splits, context, options, executor)
        except (BenchError, MethodFailed) as exc:
            outcome = MethodOutcome(name, "failed", str(exc))
        except Exception as exc:  # a bug in one adapter must not cost the other methods
            log.debug("method %s crashed", name, exc_info=True)
            outcome = MethodOutcome(name, "failed", f"{type(exc).__name__}: {exc}")
        log.info("%s: %s%s", name, outcome.status, f" ({outcome.message})" if outcome.message else "")
        return outcome

    if getattr(executor, "concurrent", False) and len(method_names) > 1:
        return _run_concurrently(method_names, run_one, options, executor, dataset.name)
    return [run_one(name) for name in method_names]


def _run_concurrently(method_names, run_one, options, executor, dataset_name) -> list[MethodOutcome]:
    """Keep every method's tasks in flight at once, so a scheduler (Ray) can fill its workers.

    One driver thread per group of methods that share a feature cache file (they run one
    after another, so the features are computed once); the threads only submit work, wait
    and write their own methods' files. Ctrl-C cancels the outstanding tasks, lets the
    threads save what finished, then stops the run.
    """
    groups: dict[str, list[str]] = {}
    for name in method_names:
        groups.setdefault(_feature_cache_key(name, options, dataset_name), []).append(name)
    outcomes: dict[str, MethodOutcome] = {}
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="method") as threads:
        futures = [threads.submit(lambda names: {n: run_one(n) for n in names}, names) for names in groups.values()]
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
    return [outcomes[name] for name in method_names]


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
    """The method's config for this run and the source of every value (bench.run.config)."""
    overrides = dict(options.overrides)
    if options.device not in (None, "auto"):
        overrides["device"] = options.device
    return resolve_config(info, dataset, options.preset, overrides)


def method_config(info: MethodInfo, options: RunOptions, dataset: str | None = None) -> dict:
    """The method's full config: defaults, its preset for ``dataset`` (or the run's preset),
    and the run's overrides it accepts."""
    return resolved_config(info, options, dataset).values


def _run_method(info, dataset, splits, context, options, executor) -> MethodOutcome:
    targets = [t for t in dataset.targets if target_kind(t) in info.targets]
    if not targets:
        return MethodOutcome(info.name, "skipped", f"predicts none of {list(dataset.targets)}")
    resolved = resolved_config(info, options, dataset.name)
    config = resolved.values
    out_dir = method_dir(options.results_dir, dataset.name, info.name)
    manifest = manifests.prepare(out_dir, info, dataset, config, targets, context, options,
                                 config_sources=resolved.sources, preset=resolved.preset,
                                 feature_version=_feature_version(info, config))
    n_splits = len(split_columns(splits))
    done = complete_splits(out_dir, manifest, splits, range(n_splits))
    todo = [k for k in range(n_splits) if k not in done]
    if not todo:
        manifests.save_if_changed(out_dir, manifest)
        return MethodOutcome(info.name, "up-to-date")
    manifest.executor = getattr(executor, "name", "local")  # what produced the timings below
    manifests.save(out_dir, manifest)  # before any split file: the folder always says what made it
    manifest.assets = used_assets(info, config) or None

    frame = dataset.frame
    features = None
    if issubclass(info.cls, FeatureMethod):
        features = _features(info, config, dataset, options, executor, manifest)
        manifests.save(out_dir, manifest)

    tasks = [_split_task(info, config, frame, splits, k, targets, features) for k in todo]
    bar = tqdm(total=len(tasks), desc=f"{info.name} splits", unit="split", leave=False)
    try:
        for _, outcome in executor.map(fit_predict, [(t,) for t in tasks], kind="split",
                                       resources=info.resources, family=info.family):
            if isinstance(outcome, Exception):
                raise MethodFailed(_describe(outcome))
            _write_split(out_dir, split_path(options.results_dir, dataset.name, info.name, outcome.split),
                         manifest, outcome)
            bar.update()
    finally:
        bar.close()
    return MethodOutcome(info.name, "done", f"{len(todo)} split(s) written to {out_dir}")


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


def _features(info, config, dataset, options, executor, manifest) -> np.ndarray:
    """Feature matrix of every image, computed once per image and cached."""
    from bench.registry import create_method

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
        bar = tqdm(total=len(missing), desc=f"{info.name} features", unit="img", leave=False)
        saved = 0
        try:
            for i, result in executor.map(extract_features, items, kind="features",
                                          resources=info.resources, family=info.family):
                if isinstance(result, Exception):
                    raise MethodFailed(_describe(result))
                cache.add([keys[j] for j in chunks[i]], result)
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
            "cache_file": str(cache.path),
        }
    return cache.matrix(keys)


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
