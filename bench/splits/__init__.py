"""The shared split protocol: N random train/test splits grouped by content.

Images of one content group never fall on both sides of a split. Each split shuffles the
groups and puts the leading groups on the test side until the test side holds the share of
*images* closest to ``test_size`` (scikit-learn's GroupShuffleSplit counts groups instead,
which misses 20% of images by more than 3 points when group sizes vary, as on AGIQA-1k).
All splits come from one seeded generator, so the first k splits are the same whatever N
is. They are written once per dataset to ``<results>/<dataset>/splits.csv``, which every
method then reuses; ``splits.json`` beside it records how the file was made.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.files import atomic_write_text, create_exclusively, file_sha256

SPLITS_FILE = "splits.csv"
SPLITS_META = "splits.json"


@dataclass(frozen=True)
class SplitConfig:
    n_splits: int = 10
    seed: int = 0
    test_size: float = 0.2


def make_splits(images: pd.Series, groups: pd.Series, config: SplitConfig) -> pd.DataFrame:
    """Frame with columns image, group, split_0..split_{n-1} ('train'/'test'), sorted by image."""
    frame = pd.DataFrame({"image": images.values, "group": groups.astype(str).values})
    frame = frame.sort_values("image", kind="stable").reset_index(drop=True)
    if frame["image"].duplicated().any():
        raise BenchError("cannot split: duplicated image names (run `ipiqa-bench check`)")
    if frame["group"].nunique() < 2:
        raise BenchError("cannot split: fewer than two content groups")
    sizes = frame["group"].value_counts().sort_index()
    rng = np.random.default_rng(config.seed)
    for k in range(config.n_splits):
        order = sizes.index[rng.permutation(len(sizes))]
        cumulative = sizes[order].cumsum().to_numpy()
        n_test = int(np.argmin(np.abs(cumulative - config.test_size * len(frame)))) + 1
        n_test = min(max(n_test, 1), len(order) - 1)  # both sides keep at least one group
        test_groups = set(order[:n_test])
        frame[f"split_{k}"] = np.where(frame["group"].isin(test_groups), "test", "train")
    return frame


def split_columns(splits: pd.DataFrame) -> list[str]:
    return [c for c in splits.columns if c.startswith("split_")]


def smallest_test_side(splits: pd.DataFrame) -> int:
    """Test images on the smallest test side of ``splits``."""
    return min(int((splits[column] == "test").sum()) for column in split_columns(splits))


def splits_hash(path: Path) -> str:
    return file_sha256(path)


def read_splits(path: Path) -> tuple[pd.DataFrame, str]:
    """The splits file, checked, and the sha256 of the very bytes that were parsed."""
    path = Path(path)
    data = path.read_bytes()
    hint = f"delete {path} (and the results made with it) to make it again"
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BenchError(f"{path} is not a splits file ({type(exc).__name__}); {hint}") from None
    columns = split_columns(frame)
    if list(frame.columns[:2]) != ["image", "group"] or not columns or frame.empty:
        raise BenchError(f"{path} is not a splits file (columns image, group, split_0...; one row per image); {hint}")
    if not frame[columns].isin(["train", "test"]).all().all():
        raise BenchError(f"{path} holds cells other than 'train'/'test' (truncated or edited?); {hint}")
    if frame["image"].duplicated().any() or (frame["image"] == "").any():
        raise BenchError(f"{path} lists an image twice or an empty name; {hint}")
    return frame, hashlib.sha256(data).hexdigest()


def test_images(splits: pd.DataFrame, k: int) -> set[str] | None:
    column = f"split_{k}"
    return set(splits.loc[splits[column] == "test", "image"]) if column in splits.columns else None


def ensure_splits(dataset_dir: Path, images: pd.Series, groups: pd.Series, config: SplitConfig) -> Path:
    """Create the splits file if missing; otherwise check it matches and reuse it.

    Call it holding the dataset's lock (bench/results/locks.py). The file is created exclusively:
    if another writer got there first, its file is checked like any existing one."""
    path = dataset_dir / SPLITS_FILE
    meta_path = dataset_dir / SPLITS_META
    hint = f"use another --results-dir, or delete {path} (and the results made with it) to make new splits"
    if not path.exists():
        frame = make_splits(images, groups, config)
        dataset_dir.mkdir(parents=True, exist_ok=True)
        # The record first: a splits file never exists without it (a kill between the two
        # leaves a record alone, which the next run rewrites).
        atomic_write_text(meta_path, json.dumps(asdict(config), indent=2) + "\n")
        if create_exclusively(path, frame.to_csv(index=False, lineterminator="\n").encode()):
            return path
    existing, _ = read_splits(path)
    if not meta_path.exists():
        raise BenchError(f"{path} has no {SPLITS_META} beside it, so how it was made cannot be checked; {hint}")
    _check_compatible(path, existing, read_splits_meta(meta_path), images, groups, config, hint)
    return path


def read_splits_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict):
        raise BenchError(f"{path} is not the JSON record of how the splits were made; delete it "
                         f"(and {path.with_name(SPLITS_FILE)} with the results made with it) to make them again")
    return meta


def _check_compatible(path, existing, meta, images, groups, config: SplitConfig, hint: str) -> None:
    for key in ("seed", "test_size"):
        if key in meta and meta[key] != getattr(config, key):
            raise BenchError(f"{path} was made with {key}={meta[key]}, not {getattr(config, key)}; {hint}")
    available = len(split_columns(existing))
    if available < config.n_splits:
        raise BenchError(f"{path} holds {available} splits, {config.n_splits} requested; {hint}")
    if set(existing["image"]) != set(images):
        raise BenchError(f"{path} lists other images than the dataset has now; {hint}")
    current = dict(zip(images.astype(str), groups.astype(str)))
    moved = [image for image, group in zip(existing["image"], existing["group"]) if current[image] != group]
    if moved:
        raise BenchError(f"{path} groups {len(moved)} image(s) differently from the dataset now (e.g. {moved[0]}: "
                         f"{dict(zip(existing['image'], existing['group']))[moved[0]]!r} there, "
                         f"{current[moved[0]]!r} now); {hint}")


def load_splits(path: Path, n_splits: int | None = None) -> pd.DataFrame:
    splits, _ = read_splits(path)
    columns = split_columns(splits)
    if n_splits is not None:
        columns = columns[:n_splits]
    return splits[["image", "group", *columns]]
