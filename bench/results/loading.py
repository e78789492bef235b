"""Reading the results store back: per-split metrics recomputed from the split files.

Only files made on the dataset's current splits file are read; a method whose manifest
names another splits hash is left out with a warning, never mixed in. Every split file is
checked against its manifest record (bench/results/completion.py): a damaged one stops the
reading with a message naming it, never a table over what is left of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.registry import FAMILIES, get_method_info, resolve_method_names
from bench.results.completion import SplitFile, check_split
from bench.results.manifest import RunManifest
from bench.results.metrics import evaluate, plcc_column
from bench.results.protocol import row_protocol
from bench.splits import SPLITS_FILE, read_splits, split_columns
from bench.targets import target_column_kinds

log = logging.getLogger("ipiqa_bench")


@dataclass
class MethodResults:
    dataset: str
    method: str
    manifest: RunManifest
    predictions: dict[int, pd.DataFrame]  # split -> long predictions
    n_splits_total: int = 0  # splits in the dataset's splits file (0: unknown)


def dataset_names(results_dir: Path) -> list[str]:
    root = Path(results_dir)
    return sorted(p.name for p in root.iterdir() if (p / SPLITS_FILE).exists()) if root.is_dir() else []


def load_results(results_dir: Path, dataset: str | None = None,
                 refused: list[str] | None = None) -> list[MethodResults]:
    """Every method's results on its dataset's current splits file. A method made on another
    splits file is left out: with a warning, or, if ``refused`` is a list, added to it
    (one message per method) for the caller to report. A split file that does not match
    its manifest record raises BenchError naming it."""
    found = []
    for name in [dataset] if dataset else dataset_names(results_dir):
        base = Path(results_dir) / name
        if not (base / SPLITS_FILE).exists():
            continue
        splits, current = read_splits(base / SPLITS_FILE)
        total = len(split_columns(splits))
        for directory in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            manifest = RunManifest.read(directory)
            if manifest is None:
                continue
            if manifest.splits_hash != current:
                message = f"{directory}: made on a different splits file than {base / SPLITS_FILE}; left out (rerun it)"
                if refused is None:
                    log.warning("%s", message)
                else:
                    refused.append(message)
                continue
            files = _split_files(directory, manifest)
            if files:
                found.append(MethodResults(name, directory.name, manifest, {f.k: f.predictions for f in files},
                                           total))
    return found


def _split_files(directory: Path, manifest: RunManifest) -> list[SplitFile]:
    files = []
    for k in range(manifest.n_splits):
        checked = check_split(directory, k, manifest.splits.get(k))
        if isinstance(checked, str):
            raise BenchError(f"{checked}; rerun `ipiqa-bench run` to recompute it")
        if checked is not None:
            files.append(checked)
    return files


def split_metrics(results: list[MethodResults], plcc: str = "logistic") -> pd.DataFrame:
    """One row per method, dataset, target and split, with every metric and the row's
    protocol (bench.results.protocol). ``plcc`` is the PLCC kind copied to the ``plcc`` column
    (both ``plcc_raw`` and ``plcc_logistic`` are kept; ``plcc_logistic_cv`` is computed only
    when it is the kind asked for)."""
    column = plcc_column(plcc)
    rows = []
    for r in results:
        protocol = row_protocol(r.manifest, r.method, r.dataset)
        total = r.n_splits_total or r.manifest.n_splits or len(r.predictions)
        for k, frame in r.predictions.items():
            for target, part in frame.groupby("target", sort=False):
                metrics = evaluate(part["pred"], part["mos"], r.manifest.sign, cross_fit=plcc == "logistic-cv")
                rows.append({"method": r.method, "dataset": r.dataset, "target": target, "split": k,
                             "family": r.manifest.family, "label": r.manifest.label,
                             **metrics, "plcc": metrics[column], "plcc_kind": plcc,
                             "n_splits_total": total, **protocol})
    return pd.DataFrame(rows)


def missing_methods(results: list[MethodResults], spec: str | None = None,
                    removed: dict[str, set[str]] | None = None) -> list[str]:
    """One line per dataset naming the selected methods that have no results there (only
    methods that predict one of its targets). Without a selection: the registered methods
    of the families that have results there (a method that failed in a family's run), less
    those the runs there removed on purpose (``removed``: dataset -> names; bench.results.removed)."""
    column_kinds = target_column_kinds()
    lines = []
    for dataset in sorted({r.dataset for r in results}):
        kinds = {column_kinds.get(t, t) for r in results if r.dataset == dataset for t in r.manifest.targets}
        have = {r.method for r in results if r.dataset == dataset}
        families = sorted({r.manifest.family for r in results if r.dataset == dataset} & set(FAMILIES))
        selection = spec or ",".join(families)
        if not selection:
            continue
        try:
            selected = resolve_method_names(selection)
        except BenchError:  # e.g. a family none of whose files are present: nothing to miss
            continue
        if not spec:
            selected = [n for n in selected if n not in (removed or {}).get(dataset, set())]
        absent = [name for name in selected if name not in have and kinds & set(get_method_info(name).targets)]
        if absent:
            lines.append(f"No results on {dataset} for: {', '.join(absent)}.")
    return lines
