"""Evaluations over a whole dataset instead of its splits.

* ``run --eval all``: a training-free method scored once over every image of a dataset, as
  the AGIQA-3K paper reports its alignment metrics.
* ``run --train-on A --dataset B``: a trainable method fitted on all of A, tested on all of
  B (cross-dataset), for the targets both share.

Their results live apart from the split results (bench.results.whole_dataset).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from bench.datasets import Dataset
from bench.errors import BenchError
from bench.method import FeatureMethod
from bench.registry import get_method_info
from bench.results.manifest import git_commit, jsonable, package_versions
from bench.results.store import write_predictions
from bench.results.whole_dataset import (
    ALL_IMAGES,
    CROSS,
    PREDICTIONS,
    all_images_dir,
    cross_dir,
    read_manifest,
    write_manifest,
)
from bench.run.runner import (
    MethodFailed,
    MethodOutcome,
    RunOptions,
    compute_features,
    failed_outcome,
    resolved_config,
    used_assets,
)
from bench.run.tasks import SplitTask, fit_predict
from bench.targets import TARGET_COLUMN_KINDS

log = logging.getLogger("ipiqa_bench")
# A dataset with one combined MOS (AGIQA-1k) is paired with the other's perceptual-quality
# MOS when they share no target name: the nearest score, as cross-dataset AGIQA work does.
NEAREST_TARGET = {"mos": "mos_quality", "mos_quality": "mos"}


def target_pairs(train: Dataset, test: Dataset) -> list[tuple[str, str]]:
    """(train column, test column) of every target both datasets have."""
    shared = [(t, t) for t in test.targets if t in train.targets]
    if shared:
        return shared
    nearest = [(NEAREST_TARGET[t], t) for t in test.targets if NEAREST_TARGET.get(t) in train.targets]
    if nearest:
        return nearest
    raise BenchError(f"{train.name} ({', '.join(train.targets)}) and {test.name} ({', '.join(test.targets)}) "
                     "share no target")


def run_whole(method_names: list[str], test: Dataset, options: RunOptions, executor,
              train: Dataset | None = None) -> list[MethodOutcome]:
    """``train`` None: score every image of ``test`` (training-free methods); else fit on
    all of ``train`` and test on all of ``test``."""
    pairs = [(t, t) for t in test.targets] if train is None else target_pairs(train, test)
    if train is not None:
        log.info("cross-dataset: %s", ", ".join(f"trained on {train.name}:{a}, tested on {test.name}:{b}"
                                                for a, b in pairs))
    outcomes = []
    for name in method_names:
        try:
            outcome = _run_one(get_method_info(name), test, train, pairs, options, executor)
        except Exception as exc:  # noqa: BLE001  (one adapter's bug must not cost the others)
            outcome = failed_outcome(name, exc)
        if outcome.status != "failed":  # a failure's error is printed once, by the caller
            log.info("%s: %s%s", name, outcome.status, f" ({outcome.message})" if outcome.message else "")
        outcomes.append(outcome)
    return outcomes


def _run_one(info, test, train, pairs, options, executor) -> MethodOutcome:
    if train is None and info.trains:
        return MethodOutcome(info.name, "skipped", "trains: --eval all is for training-free methods")
    if train is not None and not info.trains:
        return MethodOutcome(info.name, "skipped", "training-free: its cross-dataset score is `--eval all` "
                                                   f"on {test.name}")
    pairs = [(a, b) for a, b in pairs if TARGET_COLUMN_KINDS[b] in info.targets]
    if not pairs:
        return MethodOutcome(info.name, "skipped", f"predicts none of {list(test.targets)}")
    # A cross run trains with the training dataset's preset (e.g. the demo's miniature training).
    resolved = resolved_config(info, options, (train or test).name)
    config = resolved.values
    out_dir = (all_images_dir(options.results_dir, test.name, info.name) if train is None
               else cross_dir(options.results_dir, train.name, test.name, info.name))
    manifest = {
        "method": info.name, "display": info.display, "family": info.family, "sign": info.sign,
        "evaluation": ALL_IMAGES if train is None else CROSS,
        "dataset": test.name, "dataset_size": len(test), "dataset_labels": str(test.labels) if test.labels else None,
        "train_dataset": train.name if train is not None else None,
        "train_size": len(train) if train is not None else 0,
        "targets": [b for _, b in pairs], "target_pairs": [list(p) for p in pairs],
        "config": jsonable(config), "config_sources": resolved.sources, "preset": resolved.preset,
        "plcc_mapping": options.plcc_mapping,
    }
    existing = read_manifest(out_dir)
    if existing is not None and (out_dir / PREDICTIONS).exists() and not options.force:
        if all(existing.get(k) == v for k, v in manifest.items()):
            return MethodOutcome(info.name, "up-to-date")
        raise BenchError(f"{out_dir} holds results made otherwise; rerun with --force to replace them")
    frame_test = test.frame
    frame_train = frame_test.iloc[0:0] if train is None else train.frame.rename(columns=dict(
        (a, b) for a, b in pairs if a != b))
    assets = used_assets(info, config)
    task = SplitTask(info.name, config, 0, [b for _, b in pairs], frame_train, frame_test)
    if issubclass(info.cls, FeatureMethod):
        record = SimpleNamespace(features=None)  # the runner notes feature timings on it; not kept here
        features = compute_features(info, config, test, options, executor, record)
        task.X_test = features
        task.X_train = (features[0:0] if train is None
                        else compute_features(info, config, train, options, executor, record))
    for _, outcome in executor.map(fit_predict, [(task,)], kind="split", resources=info.resources,
                                   family=info.family):
        if isinstance(outcome, Exception):
            raise MethodFailed.of(outcome)
        write_predictions(out_dir / PREDICTIONS, outcome.predictions)
        manifest.update(fit_s=round(outcome.fit_s, 3), predict_s=round(outcome.predict_s, 3),
                        versions=package_versions(), git_commit=git_commit(), **({"assets": assets} if assets else {}))
        write_manifest(out_dir, manifest)
    return MethodOutcome(info.name, "done", f"written to {out_dir}")
