"""The dataset contract and the loader registry."""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from bench.errors import BenchError

DATA_ENV = "IPIQA_DATA"
# Which kind of score each target column holds; methods declare the kinds they predict.
TARGET_KINDS = {"mos": "mos", "mos_quality": "quality", "mos_align": "alignment"}
REQUIRED_COLUMNS = ("image", "path", "prompt", "group")


@dataclass(frozen=True)
class Problem:
    """One thing that would make a benchmark wrong (``ipiqa-bench check`` lists them)."""

    kind: str  # a key of bench.check.PROBLEM_KINDS
    image: str
    detail: str = ""
    row: int | None = None  # index of the frame row it concerns; None for a file without a row


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame  # columns: image, path, prompt, group, then the target columns
    targets: tuple[str, ...]
    root: Path
    # Rows removed by --drop-invalid, recorded in the run manifest.
    dropped: list[dict] = field(default_factory=list)
    labels: Path | None = None  # the label file the frame was read from
    # Valid (low, high) of score columns (targets, stds); targets not named are only checked for NaN.
    score_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Problems the loader found in the label file itself (names, prompts, scores).
    label_problems: list[Problem] = field(default_factory=list)

    def __post_init__(self):
        missing = [c for c in (*REQUIRED_COLUMNS, *self.targets) if c not in self.frame.columns]
        if missing:
            raise BenchError(f"dataset {self.name}: loader produced no column(s) {missing}")
        self.frame = self.frame.reset_index(drop=True)
        self.frame["group"] = self.frame["group"].astype(str)

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    loader: Callable[[Path | None], Dataset]
    description: str
    needs_root: bool = True


_DATASETS: dict[str, DatasetEntry] = {}
_loaded = False


def register_dataset(name: str, description: str = "", needs_root: bool = True):
    """Decorator for ``loader(root: Path | None) -> Dataset``."""

    def decorator(loader):
        _DATASETS[name] = DatasetEntry(name, loader, description, needs_root)
        return loader

    return decorator


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import bench.datasets as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "base" and not module.name.startswith("_"):
                importlib.import_module(f"bench.datasets.{module.name}")
        from bench.registry import _load_all as load_plugins  # plugins may add datasets too

        load_plugins()


def dataset_names() -> list[str]:
    _load_all()
    return sorted(_DATASETS)


def default_root(name: str) -> Path:
    """``$IPIQA_DATA/<name>`` if set, else the data root ``datasets/<name>`` in the cwd."""
    base = os.environ.get(DATA_ENV)
    return Path(base) / name if base else Path("datasets") / name


def load_dataset(name: str, root: str | Path | None = None) -> Dataset:
    _load_all()
    if name not in _DATASETS:
        raise BenchError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
    entry = _DATASETS[name]
    if not entry.needs_root:
        return entry.loader(Path(root) if root else None)
    path = Path(root) if root else default_root(name)
    if not path.is_dir():
        hint = "" if root else f" (pass --root, or set ${DATA_ENV})"
        raise BenchError(
            f"dataset {name}: folder {path} does not exist{hint}; see datasets/README.md"
        )
    return entry.loader(path)
