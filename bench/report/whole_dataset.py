"""Tables of the whole-dataset evaluations: ``table --eval all`` and ``table --cross``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.tables import summarise_splits
from bench.results.loading import load_results, split_metrics
from bench.results.metrics import evaluate
from bench.results.store import read_predictions
from bench.results.whole_dataset import ALL_IMAGES, CROSS, PREDICTIONS, read_manifest


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
    metrics = cross_metrics(results_dir)
    if dataset:
        metrics = metrics[metrics["dataset"] == dataset] if not metrics.empty else metrics
    within = load_results(Path(results_dir))
    within = summarise_splits(split_metrics(within)) if within else None
    return render_cross(metrics, within, fmt)
