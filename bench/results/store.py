"""The results store: the on-disk layout every tool reads, written atomically.

    <results>/<dataset>/splits.csv
    <results>/<dataset>/<method>/split_<k>.csv   image, group, target, mos, pred
    <results>/<dataset>/<method>/run.json        the manifest (bench/results/manifest.py)
    <results>/<dataset>/<method>/checkpoints/split_<k>.pt

The full specification is docs/results-format.md.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bench.errors import BenchError

PREDICTION_COLUMNS = ("image", "group", "target", "mos", "pred")
MANIFEST = "run.json"
CHECKPOINTS = "checkpoints"
REPLACED = ".replaced"  # earlier results moved aside by --force or a changed identity


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _complete_temporary(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def create_exclusively(path: Path, data: bytes) -> bool:
    """Write ``path`` whole, only if it does not exist yet (a hard link fails if it does).
    False if another writer created it first."""
    tmp = _complete_temporary(Path(path), data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _complete_temporary(path: Path, data: bytes) -> str:
    """``data`` in a new temporary file beside ``path``, flushed to disk."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; results are meant to be shared
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def count_rows(csv_bytes: bytes) -> int:
    """Data rows of a CSV the store wrote (one header line, one line per row, no quoted newlines)."""
    return max(csv_bytes.count(b"\n") - 1, 0)


def is_temporary(path: Path) -> bool:
    """A file ``atomic_write_bytes`` had not renamed into place yet."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left under ``folder``. Only call it while
    holding the folder's lock: then no live writer owns them."""
    stale = [p for p in Path(folder).rglob(".*.tmp") if p.is_file() and is_temporary(p)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


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
