"""The results store: the on-disk layout every tool reads, written atomically.

    <results>/<dataset>/splits.csv
    <results>/<dataset>/<method>/split_<k>.csv   image, group, target, mos, pred
    <results>/<dataset>/<method>/run.json        the manifest (bench/results/manifest.py)
    <results>/<dataset>/<method>/checkpoints/split_<k>.pt

The full specification is docs/results-format.md.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.files import atomic_write_bytes

PREDICTION_COLUMNS = ("image", "group", "target", "mos", "pred")
MANIFEST = "run.json"
CHECKPOINTS = "checkpoints"
REPLACED = ".replaced"  # earlier results moved aside by --force or a changed identity










def method_dir(results_dir: Path, dataset: str, method: str) -> Path:
    return Path(results_dir) / dataset / method


def split_path(results_dir: Path, dataset: str, method: str, k: int) -> Path:
    return method_dir(results_dir, dataset, method) / f"split_{k}.csv"


def write_predictions(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_bytes(path, prediction_bytes(frame))


def prediction_bytes(frame: pd.DataFrame) -> bytes:
    """A split file's exact bytes (the manifest records their hash before they are written)."""
    frame = frame[list(PREDICTION_COLUMNS)]
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.10g").encode("utf-8")


def read_predictions(path: Path, data: bytes | None = None) -> pd.DataFrame:
    """A split file, parsed from ``data`` when given (the bytes that were hashed)."""
    data = Path(path).read_bytes() if data is None else data
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={"image": str, "group": str, "target": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BenchError(f"{path} is not a readable split file ({type(exc).__name__}); "
                         "rerun `ipiqa-bench run` to recompute it") from None
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise BenchError(f"{path}: missing column(s) {missing}")
    return frame




def count_rows(csv_bytes: bytes) -> int:
    """Data rows of a CSV the store wrote (one header line, one line per row, no quoted newlines)."""
    return max(csv_bytes.count(b"\n") - 1, 0)






def move_aside(directory: Path) -> Path | None:
    """Rename a method's folder to ``<dataset>/.replaced/<method>-<UTC time>`` in one step, so
    that nothing new is ever written beside files from another config, even if killed."""
    directory = Path(directory)
    if not directory.exists():
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target = directory.parent / REPLACED / f"{directory.name}-{stamp}"
    target.parent.mkdir(exist_ok=True)
    os.rename(directory, target)
    return target


def split_files(directory: Path) -> dict[int, Path]:
    """Split files present on disk (whether they are complete is the manifest's to say)."""
    out = {}
    for path in Path(directory).glob("split_*.csv"):
        suffix = path.stem.removeprefix("split_")
        if suffix.isdigit():
            out[int(suffix)] = path
    return dict(sorted(out.items()))
