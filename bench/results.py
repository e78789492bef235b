"""Reading the results store back: per-split metrics recomputed from the split files.

Only files made on the dataset's current splits file are read; a method whose manifest
names another splits hash is left out with a warning, never mixed in. Every split file is
checked against its manifest record (bench/completion.py): a damaged one stops the
reading with a message naming it, never a table over what is left of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.completion import SplitFile, check_split
from bench.errors import BenchError
from bench.manifest import RunManifest
from bench.metrics import evaluate
from bench.splits import SPLITS_FILE, read_splits, test_images

log = logging.getLogger("ipiqa_bench")


@dataclass
class MethodResults:
    dataset: str
    method: str
    manifest: RunManifest
    predictions: dict[int, pd.DataFrame]  # split -> long predictions
    verified: bool = True  # False: some split files predate hashes (schema-1 run.json), checked for shape only


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
            files = _split_files(directory, manifest, splits)
            if files:
                verified = all(f.verified for f in files)
                if not verified:
                    log.info("%s: split files not verified (run.json predates hashes); "
                             "`ipiqa-bench run` records them", directory)
                found.append(MethodResults(name, directory.name, manifest, {f.k: f.predictions for f in files},
                                           verified))
    return found


def _split_files(directory: Path, manifest: RunManifest, splits: pd.DataFrame) -> list[SplitFile]:
    files = []
    for k in range(manifest.n_splits):
        images = test_images(splits, k)
        checked = check_split(directory, k, manifest.splits.get(k), manifest, images)
        if isinstance(checked, str):
            raise BenchError(f"{checked}; rerun `ipiqa-bench run` to recompute it")
        if checked is not None:
            files.append(checked)
    return files


def split_metrics(results: list[MethodResults]) -> pd.DataFrame:
    """One row per method, dataset, target and split, with every metric."""
    rows = []
    for r in results:
        mapping = r.manifest.plcc_mapping
        for k, frame in r.predictions.items():
            for target, part in frame.groupby("target", sort=False):
                metrics = evaluate(part["pred"], part["mos"], r.manifest.sign, mapping)
                rows.append({"method": r.method, "dataset": r.dataset, "target": target, "split": k,
                             "family": r.manifest.family, "label": r.manifest.label,
                             "plcc_mapping": mapping, **metrics})
    return pd.DataFrame(rows)

