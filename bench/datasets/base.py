"""The dataset contract, the loader registry and the registry of target columns.

Datasets register their loader (``register_dataset``) and the kind of score each of their
target columns holds (``register_target_column``) in their own module; third-party ones
through the entry-point group ``ipiqa_bench.datasets`` (bench.plugins).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from bench.errors import BenchError
from bench.plugins import Registry
from bench.registry import METHOD_REGISTRY
from bench.targets import TARGET_COLUMNS

DATA_ENV = "IPIQA_DATA"
ENTRY_POINT_GROUP = "ipiqa_bench.datasets"
REQUIRED_COLUMNS = ("image", "path", "prompt", "group")


def _import_builtin_datasets() -> None:
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"bench.datasets.{module.name}")




@dataclass(frozen=True)
class Problem:
    """One thing that would make a benchmark wrong (``ipiqa-bench check`` lists them)."""

    kind: str  # a key of bench.datasets.check.PROBLEM_KINDS
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
        unknown = [t for t in self.targets if TARGET_COLUMNS.find(t) is None]
        if unknown:
            raise BenchError(f"dataset {self.name}: target column(s) {unknown} are not registered "
                             f"(register_target_column(name, kind) says what kind of score each holds)")
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
    # A dataset generated on first use: () -> (its images folder, whether it is generated yet).
    generated: Callable[[], tuple[Path, bool]] | None = None


def _import_builtin_datasets_and_method_plugins() -> None:
    _import_builtin_datasets()
    METHOD_REGISTRY.load()  # method plugins may register datasets too


DATASET_REGISTRY: Registry[DatasetEntry] = Registry(
    "dataset", ENTRY_POINT_GROUP, _import_builtin_datasets_and_method_plugins,
    identity=lambda entry: (entry.loader.__module__, entry.loader.__qualname__))


def register_dataset(name: str, description: str = "", needs_root: bool = True,
                     generated: Callable[[], tuple[Path, bool]] | None = None):
    """Decorator for ``loader(root: Path | None) -> Dataset``."""

    def decorator(loader):
        DATASET_REGISTRY.register(name, DatasetEntry(name, loader, description, needs_root, generated))
        return loader

    return decorator


def dataset_names() -> list[str]:
    return sorted(DATASET_REGISTRY.names())


def default_root(name: str) -> Path:
    """``$IPIQA_DATA/<name>`` if set, else the data root ``datasets/<name>`` in the cwd."""
    base = os.environ.get(DATA_ENV)
    return Path(base) / name if base else Path("datasets") / name
