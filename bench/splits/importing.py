"""``ipiqa-bench splits import``: published fold files turned into the harness's splits.csv.

Formats (``--format``):

* ``ipce``: IPCE's folds (NTIRE 2024 AIGC-quality winner), one folder per fold holding
  ``train.csv`` and ``val.csv``, the first column the image file name (a header row, if any,
  is recognised by its first cell not being an image file name). PATH: the fold folders, or
  a folder holding them. Folds are taken in numeric order of their folder names (AGIQA-1K:
  0-9, AGIQA-3K: 1-10), so split_k is the k-th fold; splits.json keeps the names.
* ``qalign``: Q-Align's ``train_split_<k>.json`` / ``test_split_<k>.json``, lists of
  ``{"img_path": "agiqa3k/<file>", "gt_score": ...}``. PATH: the files, or a folder holding them.
* ``csv``: the generic format: a CSV file with a column ``image`` (file names) and one column
  per fold whose cells are ``train`` or ``test`` (any other cell: the image is on neither side).
  The harness's own splits.csv is such a file.
* ``aigiqa20k``, ``evalmuse``: a release's own train/test split, read from its label files
  (bench.splits.official).

Image names are matched on the file name (any folder part is dropped). Names the dataset
lacks are an error (``ignore_unknown``: dropped, with a warning), and so are dataset images a
fold puts on neither side (a splits file puts every image on a side). A fold whose train and
test sides overlap, or with an empty side, is an error. Nothing is written unless every
fold is valid; splits.json records the format, each source file and its sha256, and the
content leakage (test groups that also occur in training).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

import numpy as np
import pandas as pd

from bench.datasets.labels import IMAGE_SUFFIXES
from bench.errors import BenchError
from bench.splits.official import OFFICIAL_READERS, img_path_names
from bench.files import file_sha256

log = logging.getLogger("ipiqa_bench")
FORMATS = ("ipce", "qalign", "csv", "aigiqa20k", "evalmuse")
SHOWN = 3  # names quoted in a message


@dataclass
class Fold:
    name: str
    train: list[str]
    test: list[str]
    files: list[Path] = field(default_factory=list)


@dataclass
class ImportReport:
    folds: list[dict]  # name, train and test counts
    unknown: list[str]  # names in the fold files that the dataset lacks
    warnings: list[str]


def file_name(entry: str) -> str:
    return PureWindowsPath(str(entry).strip()).name  # PureWindowsPath splits on / and \ alike


def _is_image_name(cell: str) -> bool:
    return Path(file_name(cell)).suffix.lower() in IMAGE_SUFFIXES


def _numeric_key(name: str):
    digits = re.findall(r"\d+", name)
    return (int(digits[-1]) if digits else float("inf"), name)


def _first_column(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row and row[0].strip()]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchError(f"cannot read fold file {path}: {exc}") from None
    if rows and not _is_image_name(rows[0][0]):
        rows = rows[1:]  # a header row
    return [file_name(row[0]) for row in rows]


def read_ipce(paths: list[Path]) -> list[Fold]:
    folders = []
    for path in paths:
        if (path / "train.csv").is_file() or (path / "val.csv").is_file():
            folders.append(path)
        elif path.is_dir():
            folders += [p for p in path.iterdir() if p.is_dir() and (p / "train.csv").is_file()]
        else:
            raise BenchError(f"{path}: not an IPCE fold folder (<fold>/train.csv, <fold>/val.csv) or a folder of them")
    if not folders:
        raise BenchError(f"no IPCE fold folders (<fold>/train.csv, <fold>/val.csv) under {', '.join(map(str, paths))}")
    folds = []
    for folder in sorted(set(folders), key=lambda p: _numeric_key(p.name)):
        files = [folder / "train.csv", folder / "val.csv"]
        for f in files:
            if not f.is_file():
                raise BenchError(f"IPCE fold {folder} has no {f.name}")
        folds.append(Fold(folder.name, _first_column(files[0]), _first_column(files[1]), files))
    return folds


def _qalign_names(path: Path) -> list[str]:
    return img_path_names(path, "Q-Align split file", 'a list of {"img_path": ..., "gt_score": ...} objects')


QALIGN_FILE = re.compile(r"(train|test)_split_(\d+)\.json")


def read_qalign(paths: list[Path]) -> list[Fold]:
    files = []
    for path in paths:
        files += sorted(path.glob("*_split_*.json")) if path.is_dir() else [path]
    by_fold: dict[int, dict[str, Path]] = {}
    for f in files:
        match = QALIGN_FILE.fullmatch(f.name)
        if not match:
            raise BenchError(f"{f}: not a Q-Align split file (train_split_<k>.json or test_split_<k>.json)")
        by_fold.setdefault(int(match[2]), {})[match[1]] = f
    if not by_fold:
        raise BenchError(f"no Q-Align split files (train_split_<k>.json, test_split_<k>.json) in {', '.join(map(str, paths))}")
    folds = []
    for k, sides in sorted(by_fold.items()):
        for side in ("train", "test"):
            if side not in sides:
                raise BenchError(f"Q-Align split {k} has no {side}_split_{k}.json")
        folds.append(Fold(str(k), _qalign_names(sides["train"]), _qalign_names(sides["test"]),
                          [sides["train"], sides["test"]]))
    return folds


def read_generic_csv(paths: list[Path]) -> list[Fold]:
    folds = []
    for path in paths:
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001  (whatever the parser says, one line)
            raise BenchError(f"cannot read split file {path}: {exc}") from None
        if "image" not in frame.columns:
            raise BenchError(f"{path}: no column 'image' (the generic format: image, then one column per fold "
                             "with cells train/test)")
        columns = [c for c in frame.columns if c not in ("image", "group")]
        if not columns:
            raise BenchError(f"{path}: no fold column beside 'image'")
        names = frame["image"].map(file_name)
        for column in columns:
            cells = frame[column].str.strip().str.lower()
            label = column if len(paths) == 1 else f"{path.stem}:{column}"
            folds.append(Fold(label, names[cells == "train"].tolist(), names[cells == "test"].tolist(), [path]))
    return folds


def _official(reader):
    """A reader of a release's own split (bench.splits.official) as a reader of Folds."""
    return lambda paths: [Fold(*fold) for fold in reader(paths)]


READERS = {"ipce": read_ipce, "qalign": read_qalign, "csv": read_generic_csv,
           **{name: _official(reader) for name, reader in OFFICIAL_READERS.items()}}


def read_folds(fmt: str, paths) -> list[Fold]:
    if fmt not in READERS:
        raise BenchError(f"unknown split format {fmt!r}; expected one of {', '.join(FORMATS)}")
    paths = [Path(p) for p in paths]
    if not paths:
        raise BenchError("no fold files given")
    for p in paths:
        if not p.exists():
            raise BenchError(f"{p} does not exist")
    return READERS[fmt](paths)


def _quote(names) -> str:
    names = sorted(names)
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def folds_to_splits(folds: list[Fold], images: pd.Series, groups: pd.Series, ignore_unknown: bool = False
                    ) -> tuple[pd.DataFrame, ImportReport]:
    """The harness's splits frame (image, group, split_k) of the run's ``images``, and what
    the import found; a BenchError, before anything is written, for an invalid fold."""
    frame = pd.DataFrame({"image": images.values, "group": groups.astype(str).values})
    frame = frame.sort_values("image", kind="stable").reset_index(drop=True)
    known = set(frame["image"])
    unknown = sorted({n for f in folds for n in (*f.train, *f.test)} - known)
    warnings = []
    if unknown and not ignore_unknown:
        raise BenchError(f"the fold files name {len(unknown)} image(s) the dataset lacks ({_quote(unknown)}); "
                         "check --dataset/--root, or pass --ignore-unknown to drop them")
    if unknown:
        warnings.append(f"{len(unknown)} image name(s) the dataset lacks were dropped ({_quote(unknown)})")
    rows = []
    for k, fold in enumerate(folds):
        train, test = set(fold.train) & known, set(fold.test) & known
        where = f"fold {fold.name} ({', '.join(str(f) for f in fold.files)})"
        overlap = train & test
        if overlap:
            raise BenchError(f"{where}: {len(overlap)} image(s) on both the train and the test side ({_quote(overlap)})")
        if not train or not test:
            raise BenchError(f"{where}: its {'train' if not train else 'test'} side is empty")
        unnamed = frame.loc[~frame["image"].isin(train | test), "image"]
        if len(unnamed):
            raise BenchError(f"{where}: {len(unnamed)} dataset image(s) on neither side ({_quote(unnamed)}); every "
                             "image must be on a side (to use a subset, --drop-invalid or a dataset root without them)")
        frame[f"split_{k}"] = np.where(frame["image"].isin(train), "train", "test")
        rows.append({"name": fold.name, "train": len(train), "test": len(test)})
    return frame, ImportReport(rows, unknown, warnings)


def import_splits(fmt: str, paths, images: pd.Series, groups: pd.Series, ignore_unknown: bool = False
                  ) -> tuple[pd.DataFrame, dict, ImportReport]:
    """(splits, provenance for splits.json, report)."""
    folds = read_folds(fmt, paths)
    splits, report = folds_to_splits(folds, images, groups, ignore_unknown)
    files = sorted({f for fold in folds for f in fold.files})
    provenance = {
        "protocol": f"imported:{fmt}",
        "source": {"format": fmt, "folds": [f.name for f in folds],
                   "files": [{"path": str(f.resolve()), "sha256": file_sha256(f)} for f in files]},
        "import": {"folds": report.folds, "unknown_images": len(report.unknown), "warnings": report.warnings},
    }
    return splits, provenance, report
