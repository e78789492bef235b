"""The results store: the on-disk layout every tool reads, written atomically.

    <results>/<dataset>/splits.csv
    <results>/<dataset>/<method>/split_<k>.csv   image, group, target, mos, pred
    <results>/<dataset>/<method>/run.json        the manifest
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from bench.errors import BenchError

PREDICTION_COLUMNS = ("image", "group", "target", "mos", "pred")
MANIFEST = "run.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; results are meant to be shared
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def method_dir(results_dir: Path, dataset: str, method: str) -> Path:
    return Path(results_dir) / dataset / method


def split_path(results_dir: Path, dataset: str, method: str, k: int) -> Path:
    return method_dir(results_dir, dataset, method) / f"split_{k}.csv"


def write_predictions(path: Path, frame: pd.DataFrame) -> None:
    frame = frame[list(PREDICTION_COLUMNS)]
    atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"))


def read_predictions(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"image": str, "group": str, "target": str})
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise BenchError(f"{path}: missing column(s) {missing}")
    return frame


def read_manifest(directory: Path) -> dict | None:
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path} is not valid JSON: {exc}") from None


def write_manifest(directory: Path, manifest: dict) -> None:
    atomic_write_text(Path(directory) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def completed_splits(directory: Path) -> dict[int, Path]:
    """Split files present on disk (complete by construction: they are written atomically)."""
    out = {}
    for path in Path(directory).glob("split_*.csv"):
        suffix = path.stem.removeprefix("split_")
        if suffix.isdigit():
            out[int(suffix)] = path
    return dict(sorted(out.items()))
