"""Loading a dataset by name (a registered loader) or by path (a dataset card)."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import DATA_ENV, DATASET_REGISTRY, Dataset, default_root
from bench.datasets.card import is_card_path, load_card
from bench.errors import BenchError


def dataset_status(name: str, root: str | Path | None = None) -> str:
    """Whether ``name`` is here to run on, in words: its folder found or not, or where a
    generated dataset is (or will be) generated."""
    if is_card_path(name):
        return f"dataset card {name} (present)"
    entry = DATASET_REGISTRY.get(name)
    if entry.needs_root:
        path = Path(root) if root else default_root(name)
        if path.is_dir():
            return f"folder {path} (present)"
        hint = "" if root else f"pass --root, or set ${DATA_ENV}; "
        return f"folder {path} not found ({hint}see datasets/README.md)"
    if entry.generated is not None and not root:
        images, ready = entry.generated()
        return f"generated, images in {images}" if ready else f"generated on first use, into {images}"
    return "needs no folder"


def load_dataset(name: str, root: str | Path | None = None) -> Dataset:
    """The dataset registered as ``name``, or the one a dataset card describes (``name`` a
    path ending in .toml; bench.datasets.card), keyed by the card's name."""
    if is_card_path(name):
        if root:
            raise BenchError(f"--root {root}: a dataset card names its own image folder (its 'images' key)")
        return load_card(name)
    entry = DATASET_REGISTRY.get(name)
    if not entry.needs_root:
        return entry.loader(Path(root) if root else None)
    path = Path(root) if root else default_root(name)
    if not path.is_dir():
        hint = "" if root else f" (pass --root, or set ${DATA_ENV})"
        raise BenchError(
            f"dataset {name}: folder {path} does not exist{hint}; see datasets/README.md"
        )
    return entry.loader(path)
