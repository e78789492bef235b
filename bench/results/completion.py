"""Which splits are complete: completion is recorded, not inferred from files being there.

A split is complete when its manifest record, its prediction file and its checkpoint (if
the method makes one) all exist and agree: the file's sha256 and row count, and the
checkpoint's sha256, are the ones the record holds. The runner writes the checkpoint, then
the record, then the prediction file last, so a kill at any point leaves a split either
complete or visibly not. A prediction file without a record is not a finished split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.files import sha256
from bench.results.manifest import RunManifest, SplitRecord
from bench.results.store import CHECKPOINTS, count_rows, read_predictions

log = logging.getLogger("ipiqa_bench")


@dataclass
class SplitFile:
    k: int
    path: Path
    predictions: pd.DataFrame


def checkpoint_path(directory: Path, k: int) -> Path:
    return Path(directory) / CHECKPOINTS / f"split_{k}.pt"


def check_split(directory: Path, k: int, record: SplitRecord | None) -> SplitFile | str | None:
    """The split's predictions if its file agrees with its record; a one-line problem if it
    does not; None if the split was never finished (no record, or no file yet)."""
    path = Path(directory) / f"split_{k}.csv"
    if record is None or record.sha256 is None or not path.exists():
        return None
    data = path.read_bytes()
    if sha256(data) != record.sha256 or count_rows(data) != record.rows:
        return (f"{path} does not match its record in run.json ({count_rows(data)} rows, {record.rows} recorded; "
                "sha256 differs)")
    return SplitFile(k, path, read_predictions(path, data))


def checkpoint_problem(directory: Path, k: int, record: SplitRecord) -> str | None:
    """Why the split's checkpoint does not agree with its record, or None."""
    if record.checkpoint_sha256 is None:
        return None
    path = checkpoint_path(directory, k)
    if not path.exists():
        return f"{path} is missing"
    if sha256(path.read_bytes()) != record.checkpoint_sha256:
        return f"{path} does not match its record in run.json"
    return None


def record_files(manifest: RunManifest, directory: Path, splits: list[int]) -> None:
    """Record the hashes of split files (and checkpoints) already on disk (how tests and
    scripts make results without running a method)."""
    for k in splits:
        data = (Path(directory) / f"split_{k}.csv").read_bytes()
        record = manifest.splits.setdefault(k, SplitRecord())
        record.sha256, record.rows = sha256(data), count_rows(data)
        checkpoint = checkpoint_path(directory, k)
        record.checkpoint_sha256 = sha256(checkpoint.read_bytes()) if checkpoint.exists() else None


def complete_splits(directory: Path, manifest: RunManifest, wanted) -> set[int]:
    """The splits in ``wanted`` that are complete. Every other one loses its record and its
    prediction file, so that nothing stale is read while it is recomputed."""
    done = set()
    for k in wanted:
        record = manifest.splits.get(k)
        checked = check_split(directory, k, record)
        problem = checked if isinstance(checked, str) else None
        if isinstance(checked, SplitFile):
            problem = checkpoint_problem(directory, k, record)
            if problem is None:
                done.add(k)
                continue
        if problem:
            log.warning("%s; recomputing split %d", problem, k)
        manifest.splits.pop(k, None)
        (Path(directory) / f"split_{k}.csv").unlink(missing_ok=True)
    return done
