"""Reading the results store back: per-split metrics recomputed from the split files.

Only files made on the dataset's current splits file are read; a method whose manifest
names another splits hash is left out with a warning, never mixed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.metrics import PLCC_KINDS, evaluate
from bench.protocol import row_protocol
from bench.splits import SPLITS_FILE, split_columns, splits_hash
from bench.store import read_manifest, read_predictions, split_path

log = logging.getLogger("ipiqa_bench")


@dataclass
class MethodResults:
    dataset: str
    method: str
    manifest: dict
    predictions: dict[int, pd.DataFrame]  # split -> long predictions
    n_splits_total: int = 0  # splits in the dataset's splits file (0: unknown)


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
        total = len(split_columns(pd.read_csv(base / SPLITS_FILE, nrows=0)))
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
                found.append(MethodResults(name, directory.name, manifest, predictions, total))
    return found


def split_metrics(results: list[MethodResults], plcc: str = "logistic") -> pd.DataFrame:
    """One row per method, dataset, target and split, with every metric and the row's
    protocol (bench.protocol). ``plcc`` is the PLCC kind copied to the ``plcc`` column
    (both ``plcc_raw`` and ``plcc_logistic`` are kept)."""
    if plcc not in PLCC_KINDS:
        raise ValueError(f"plcc must be one of {PLCC_KINDS}")
    rows = []
    for r in results:
        protocol = row_protocol(r.manifest, r.method, r.dataset)
        total = r.n_splits_total or int(r.manifest.get("n_splits", len(r.predictions)))
        for k, frame in r.predictions.items():
            for target, part in frame.groupby("target", sort=False):
                metrics = evaluate(part["pred"], part["mos"], r.manifest.get("sign", 1))
                rows.append({"method": r.method, "dataset": r.dataset, "target": target, "split": k,
                             "family": r.manifest.get("family", ""), "label": row_label(r.manifest),
                             **metrics, "plcc": metrics[f"plcc_{plcc}"], "plcc_kind": plcc,
                             "n_splits_total": total, **protocol})
    return pd.DataFrame(rows)


def row_label(manifest: dict) -> str:
    """The table's row name, marking runs that are not the standard protocol."""
    label = manifest.get("display") or manifest.get("method", "?")
    config = manifest.get("config", {})
    if config.get("selection") == "best-on-test":
        label += " [best epoch on test set]"
    if config.get("pretrained") is False:
        label += " [random init]"
    return label


def missing_methods(results: list[MethodResults], spec: str | None = None) -> list[str]:
    """One line per dataset naming the selected methods that have no results there (only
    methods that predict one of its targets). Without a selection: the registered methods
    of the families that have results there (a method that failed in a family's run)."""
    from bench.datasets import TARGET_KINDS
    from bench.registry import FAMILIES, get_method_info, resolve_method_names

    lines = []
    for dataset in sorted({r.dataset for r in results}):
        kinds = {TARGET_KINDS.get(t, t) for r in results if r.dataset == dataset for t in r.manifest.get("targets", [])}
        have = {r.method for r in results if r.dataset == dataset}
        families = sorted({r.manifest.get("family") for r in results if r.dataset == dataset} & set(FAMILIES))
        selection = spec or ",".join(families)
        if not selection:
            continue
        absent = [name for name in resolve_method_names(selection)
                  if name not in have and kinds & set(get_method_info(name).targets)]
        if absent:
            lines.append(f"No results on {dataset} for: {', '.join(absent)}.")
    return lines
