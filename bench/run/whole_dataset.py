"""Evaluations over a whole dataset instead of its splits.

* ``run --eval all``: a training-free method scored once over every image of a dataset, as
  the AGIQA-3K paper reports its alignment metrics.
* ``run --train-on A --dataset B``: a trainable method fitted on all of A, tested on all of
  B (cross-dataset), for the targets both share.

Their results live apart from the split results, so no table can average them together:

    <results>/<dataset>/all-images/<method>/predictions.csv + run.json
    <results>/cross/<train>-to-<test>/<method>/predictions.csv + run.json

``predictions.csv`` has the split files' columns (image, group, target, mos, pred);
``run.json`` says which evaluation made it (``evaluation``: ``all-images`` or ``cross``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from bench.datasets import TARGET_KINDS, Dataset
from bench.errors import BenchError
from bench.method import FeatureMethod
from bench.registry import get_method_info
from bench.results.manifest import _jsonable, git_commit, package_versions
from bench.results.metrics import evaluate
from bench.results.store import MANIFEST, atomic_write_text, read_predictions, write_predictions
from bench.run.runner import MethodFailed, MethodOutcome, RunOptions, _describe, _features, resolved_config, used_assets
from bench.run.tasks import SplitTask, fit_predict

log = logging.getLogger("ipiqa_bench")
ALL_IMAGES = "all-images"
CROSS = "cross"
PREDICTIONS = "predictions.csv"
# A dataset with one combined MOS (AGIQA-1k) is paired with the other's perceptual-quality
# MOS when they share no target name: the nearest score, as cross-dataset AGIQA work does.
NEAREST_TARGET = {"mos": "mos_quality", "mos_quality": "mos"}


def all_images_dir(results_dir: Path, dataset: str, method: str) -> Path:
    return Path(results_dir) / dataset / ALL_IMAGES / method


def cross_dir(results_dir: Path, train: str, test: str, method: str) -> Path:
    return Path(results_dir) / CROSS / f"{train}-to-{test}" / method


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
        except (BenchError, MethodFailed) as exc:
            outcome = MethodOutcome(name, "failed", str(exc))
        except Exception as exc:  # noqa: BLE001  (one adapter's bug must not cost the others)
            log.debug("method %s crashed", name, exc_info=True)
            outcome = MethodOutcome(name, "failed", f"{type(exc).__name__}: {exc}")
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
    pairs = [(a, b) for a, b in pairs if TARGET_KINDS[b] in info.targets]
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
        "config": _jsonable(config), "config_sources": resolved.sources, "preset": resolved.preset,
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
        features = _features(info, config, test, options, executor, record)
        task.X_test = features
        task.X_train = (features[0:0] if train is None
                        else _features(info, config, train, options, executor, record))
    for _, outcome in executor.map(fit_predict, [(task,)], kind="split", resources=info.resources,
                                   family=info.family):
        if isinstance(outcome, Exception):
            raise MethodFailed(_describe(outcome))
        write_predictions(out_dir / PREDICTIONS, outcome.predictions)
        manifest.update(fit_s=round(outcome.fit_s, 3), predict_s=round(outcome.predict_s, 3),
                        versions=package_versions(), git_commit=git_commit(), **({"assets": assets} if assets else {}))
        write_manifest(out_dir, manifest)
    return MethodOutcome(info.name, "done", f"written to {out_dir}")


def read_manifest(directory: Path) -> dict | None:
    """The run.json of a whole-dataset result (its own small format: no splits to record)."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise BenchError(f"{path} is not a run manifest; delete it, or rerun with --force")
    return data


def write_manifest(directory: Path, manifest: dict) -> None:
    atomic_write_text(Path(directory) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _metric_rows(directory: Path, extra: dict) -> list[dict]:
    manifest = read_manifest(directory)
    if manifest is None or not (directory / PREDICTIONS).exists():
        return []
    frame = read_predictions(directory / PREDICTIONS)
    rows = []
    for target, part in frame.groupby("target", sort=False):
        metrics = evaluate(part["pred"], part["mos"], manifest.get("sign", 1))
        rows.append({"method": manifest["method"], "label": manifest.get("display") or manifest["method"],
                     "family": manifest.get("family", ""), "dataset": manifest["dataset"], "target": target,
                     "n_images": part["image"].nunique(), **(extra(manifest) if callable(extra) else extra),
                     **metrics})
    return rows


def all_images_metrics(results_dir: Path, dataset: str | None = None) -> pd.DataFrame:
    """One row per method, dataset and target of the ``--eval all`` results."""
    rows = []
    for base in sorted(Path(results_dir).glob(f"{dataset or '*'}/{ALL_IMAGES}")):
        for directory in sorted(p for p in base.iterdir() if p.is_dir()):
            rows += _metric_rows(directory, {"evaluation": "all images, no split"})
    return pd.DataFrame(rows)


def cross_metrics(results_dir: Path) -> pd.DataFrame:
    """One row per method, train dataset, test dataset and (test) target."""
    rows = []
    for directory in sorted(Path(results_dir).glob(f"{CROSS}/*/*")):
        if directory.is_dir():
            rows += _metric_rows(directory, lambda m: {"train_dataset": m["train_dataset"],
                                                       "trained_on_target": dict(map(reversed, m["target_pairs"]))})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["trained_on_target"] = [pairs.get(t, t) for pairs, t in zip(frame["trained_on_target"], frame["target"])]
    return frame


def render_all_images(metrics: pd.DataFrame, fmt: str = "markdown") -> str:
    if metrics.empty:
        return ""
    body = [[r.family, r.label, r.dataset, r.target, r.n_images, *(f"{r[m]:.4f}" for m in ("srcc", "plcc", "krcc"))]
            for _, r in metrics.iterrows()]
    return _tabulate("Zero-shot on all images (one evaluation, no split; not comparable with split means)",
                     ["Family", "Method", "Dataset", "Target", "Images", "SRCC", "PLCC", "KRCC"], body, fmt)


def render_cross(metrics: pd.DataFrame, within: pd.DataFrame | None = None, fmt: str = "markdown") -> str:
    """A train x test matrix of SRCC (PLCC) per method and test target; the diagonal, where
    given, is the within-dataset mean over splits (marked)."""
    if metrics.empty:
        return ""
    parts = []
    datasets = sorted(set(metrics["train_dataset"]) | set(metrics["dataset"]))
    for (method, target), part in metrics.groupby(["method", "target"], sort=True):
        body = []
        for train in datasets:
            line = [train]
            for test in datasets:
                cell = part[(part["train_dataset"] == train) & (part["dataset"] == test)]
                if not cell.empty:
                    r = cell.iloc[0]
                    line.append(f"{r['srcc']:.4f} ({r['plcc']:.4f})" + (
                        f" [{r['trained_on_target']}]" if r["trained_on_target"] != target else ""))
                else:
                    line.append(_within(within, method, train, test, target))
            body.append(line)
        label = part["label"].iloc[0]
        parts.append(_tabulate(f"Cross-dataset: {label}, target {target} — SRCC (PLCC); rows: trained on all of, "
                               "columns: tested on all of", ["train \\ test", *datasets], body, fmt))
    return "\n".join(parts)


def _within(within, method, train, test, target) -> str:
    if within is None or train != test or within.empty:
        return "–"
    row = within[(within["method"] == method) & (within["dataset"] == test) & (within["target"] == target)]
    if row.empty:
        return "–"
    r = row.iloc[0]
    return f"{r['srcc_mean']:.4f} ({r['plcc_mean']:.4f}) [within: mean of {int(r['n_splits'])} splits]"


def _tabulate(title: str, headers, body, fmt: str) -> str:
    from tabulate import tabulate

    if fmt == "csv":
        return pd.DataFrame(body, columns=headers).to_csv(index=False, lineterminator="\n")
    text = tabulate(body, headers=headers, tablefmt="github" if fmt == "markdown" else "latex_booktabs",
                    disable_numparse=True)
    return f"### {title}\n\n{text}\n" if fmt == "markdown" else f"% {title}\n{text}\n"


def render_table(results_dir: Path, dataset: str | None, fmt: str, cross: bool) -> str:
    """``table --cross`` (the diagonal from the split results, where there are some) or ``table --eval all``."""
    if not cross:
        return render_all_images(all_images_metrics(results_dir, dataset), fmt)
    from bench.report.tables import summarise_splits
    from bench.results.loading import load_results, split_metrics

    metrics = cross_metrics(results_dir)
    if dataset:
        metrics = metrics[metrics["dataset"] == dataset] if not metrics.empty else metrics
    within = load_results(Path(results_dir))
    within = summarise_splits(split_metrics(within)) if within else None
    return render_cross(metrics, within, fmt)
