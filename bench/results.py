"""Reading the results store back: per-split metrics recomputed from the split files.

Only files made on the dataset's current splits file are read; a method whose manifest
names another splits hash is left out with a warning, never mixed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.metrics import evaluate
from bench.splits import SPLITS_FILE, splits_hash
from bench.store import read_manifest, read_predictions, split_path

log = logging.getLogger("ipiqa_bench")


@dataclass
class MethodResults:
    dataset: str
    method: str
    manifest: dict
    predictions: dict[int, pd.DataFrame]  # split -> long predictions


def dataset_names(results_dir: Path) -> list[str]:
    root = Path(results_dir)
    return sorted(p.name for p in root.iterdir() if (p / SPLITS_FILE).exists()) if root.is_dir() else []


def load_results(results_dir: Path, dataset: str | None = None,
                 refused: list[str] | None = None) -> list[MethodResults]:
    """Every method's results on its dataset's current splits file. A method made on another
    splits file is left out: with a warning, or, if ``refused`` is a list, added to it
    (one message per method) for the caller to report."""
    found = []
    for name in [dataset] if dataset else dataset_names(results_dir):
        base = Path(results_dir) / name
        if not (base / SPLITS_FILE).exists():
            continue
        current = splits_hash(base / SPLITS_FILE)
        for directory in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            manifest = read_manifest(directory)
            if manifest is None:
                continue
            if manifest.get("splits_hash") != current:
                message = f"{directory}: made on a different splits file than {base / SPLITS_FILE}; left out (rerun it)"
                if refused is None:
                    log.warning("%s", message)
                else:
                    refused.append(message)
                continue
            predictions = {}
            for k in range(int(manifest.get("n_splits", 0))):
                path = split_path(results_dir, name, directory.name, k)
                if path.exists():
                    predictions[k] = read_predictions(path)
            if predictions:
                found.append(MethodResults(name, directory.name, manifest, predictions))
    return found


def split_metrics(results: list[MethodResults]) -> pd.DataFrame:
    """One row per method, dataset, target and split, with every metric."""
    rows = []
    for r in results:
        mapping = r.manifest.get("plcc_mapping", "logistic")
        for k, frame in r.predictions.items():
            for target, part in frame.groupby("target", sort=False):
                metrics = evaluate(part["pred"], part["mos"], r.manifest.get("sign", 1), mapping)
                rows.append({"method": r.method, "dataset": r.dataset, "target": target, "split": k,
                             "family": r.manifest.get("family", ""), "label": row_label(r.manifest),
                             "plcc_mapping": mapping, **metrics})
    return pd.DataFrame(rows)


def row_label(manifest: dict) -> str:
    """The table's row name, marking runs that are not the standard protocol."""
    label = manifest.get("display") or manifest.get("method", "?")
    config = manifest.get("config", {})
    if config.get("selection") == "best-on-test":
        label += " [best epoch on test set]"
    if config.get("recipe") == "paper":
        label += " [paper recipe]"
    if config.get("pretrained") is False:
        label += " [random init]"
    return label
