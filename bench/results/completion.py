"""Which splits are complete: completion is recorded, not inferred from files being there.

A split is complete when its manifest record, its prediction file and its checkpoint (if
the method makes one) all exist and agree: the file's sha256 and row count, and the
checkpoint's sha256, are the ones the record holds. The runner writes the checkpoint, then
the record, then the prediction file last, so a kill at any point leaves a split either
complete or visibly not.

Records upgraded from schema 1 carry no hashes: their files are checked for shape instead
(one row per test image of the split and target) and called *unverified*.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.results.manifest import RunManifest, SplitRecord
from bench.results.store import CHECKPOINTS, count_rows, read_predictions, sha256
from bench.splits import test_images

log = logging.getLogger("ipiqa_bench")


@dataclass
class SplitFile:
    k: int
    path: Path
    predictions: pd.DataFrame
    verified: bool  # False: accepted on its shape alone (a schema-1 record)


def checkpoint_path(directory: Path, k: int) -> Path:
    return Path(directory) / CHECKPOINTS / f"split_{k}.pt"


def check_split(directory: Path, k: int, record: SplitRecord | None, manifest: RunManifest,
                test_images: set[str] | None) -> SplitFile | str | None:
    """The split's predictions if its file agrees with its record; a one-line problem if it
    does not; None if the split was never finished (no record, or no file yet)."""
    path = Path(directory) / f"split_{k}.csv"
    if not path.exists():
        return None
    if record is None or not record.verified:
        return _check_unverified(path, k, manifest, test_images)
    data = path.read_bytes()
    if sha256(data) != record.sha256 or count_rows(data) != record.rows:
        return (f"{path} does not match its record in run.json ({count_rows(data)} rows, {record.rows} recorded; "
                "sha256 differs)")
    return SplitFile(k, path, read_predictions(path, data), verified=True)


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


def _check_unverified(path: Path, k: int, manifest: RunManifest, test_images: set[str] | None):
    if manifest.read_schema >= 2:
        # Written by a runner that records every split: a file without a record is not its.
        return None
    try:
        frame = read_predictions(path)
    except BenchError as exc:
        return str(exc)
    if test_images is not None:
        for target, part in frame.groupby("target", sort=False):
            if len(part) != len(test_images) or set(part["image"]) != test_images:
                return (f"{path} does not hold one row per test image of split {k} for {target} "
                        f"({len(part)} rows, {len(test_images)} test images)")
    return SplitFile(k, path, frame, verified=False)


def record_files(manifest: RunManifest, directory: Path, splits: list[int]) -> None:
    """Record the hashes of split files (and checkpoints) already on disk: how an upgraded
    schema-1 split is adopted once its shape is checked, and how tests fabricate results."""
    for k in splits:
        data = (Path(directory) / f"split_{k}.csv").read_bytes()
        record = manifest.splits.setdefault(k, SplitRecord())
        record.sha256, record.rows = sha256(data), count_rows(data)
        checkpoint = checkpoint_path(directory, k)
        record.checkpoint_sha256 = sha256(checkpoint.read_bytes()) if checkpoint.exists() else None


def complete_splits(directory: Path, manifest: RunManifest, splits: pd.DataFrame, wanted) -> set[int]:
    """The splits in ``wanted`` that are complete. Every other one loses its record and its
    prediction file, so that nothing stale is read while it is recomputed. Schema-1 splits
    that pass the shape check are adopted: their hashes are recorded from now on."""
    done = set()
    for k in wanted:
        record = manifest.splits.get(k)
        checked = check_split(directory, k, record, manifest, test_images(splits, k))
        problem = checked if isinstance(checked, str) else None
        if isinstance(checked, SplitFile) and checked.verified:
            problem = checkpoint_problem(directory, k, record)
        elif isinstance(checked, SplitFile):  # schema 1: a trained method's checkpoint must be there too
            if (Path(directory) / CHECKPOINTS).is_dir() and not checkpoint_path(directory, k).exists():
                problem = f"{checkpoint_path(directory, k)} is missing"
            else:
                record_files(manifest, directory, [k])
        if isinstance(checked, SplitFile) and problem is None:
            done.add(k)
            continue
        if problem:
            log.warning("%s; recomputing split %d", problem, k)
        manifest.splits.pop(k, None)
        (Path(directory) / f"split_{k}.csv").unlink(missing_ok=True)
    return done
