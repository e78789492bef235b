"""Where whole-dataset evaluations keep their results, apart from the split results, so no
table can average them together (bench.run.whole_dataset makes them):

    <results>/<dataset>/all-images/<method>/predictions.csv + run.json
    <results>/cross/<train>-to-<test>/<method>/predictions.csv + run.json

``predictions.csv`` has the split files' columns (image, group, target, mos, pred);
``run.json`` says which evaluation made it (``evaluation``: ``all-images`` or ``cross``).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.errors import BenchError
from bench.files import atomic_write_text
from bench.results.store import MANIFEST

ALL_IMAGES = "all-images"
CROSS = "cross"
PREDICTIONS = "predictions.csv"


def all_images_dir(results_dir: Path, dataset: str, method: str) -> Path:
    return Path(results_dir) / dataset / ALL_IMAGES / method


def cross_dir(results_dir: Path, train: str, test: str, method: str) -> Path:
    return Path(results_dir) / CROSS / f"{train}-to-{test}" / method


def read_manifest(directory: Path) -> dict | None:
    """The run.json of a whole-dataset result (its own small format: no splits to record)."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise BenchError(f"{path} is not a run manifest; delete it, or rerun with --force")
    return data


def write_manifest(directory: Path, manifest: dict) -> None:
    atomic_write_text(Path(directory) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
