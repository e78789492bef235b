"""AIGIQA-20K (Li et al., CVPR Workshops 2024; the NTIRE 2024 AIGC quality challenge's image
track, there called AIGCQA-30K-Image): 20,000 images from 15 generators, one perceptual
quality MOS per image, an official train / val / test split of 14,000 / 2,000 / 4,000.

Labels as the challenge released them (datasets/README.md cites the copy read):
``info_train.xlsx`` (name, prompt, mos) or its header-less twin ``info_train.csv``
(name, prompt, mos); ``info_val`` and ``info_test`` in the same form, with a ``mos`` column
only where the release carries the scores (the challenge withheld them). Rows of a file
without scores are not loaded. File names are ``<generator>_<number>.png``. Prompts come from
DiffusionDB and almost never repeat: content group = identical prompt.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

from bench.datasets.labels import find_label_file, groups_by_prompt, labelled_dataset, read_labels
from bench.datasets.base import Dataset, register_dataset

log = logging.getLogger("ipiqa_bench")
SPLITS = ("train", "val", "test")  # the official split, one label file each
SCORE_RANGE = (0.0, 5.0)
COLUMNS = {"name": "image", "prompt": "prompt", "mos": "mos_quality"}


def split_file_candidates(split: str) -> tuple[str, ...]:
    return (f"info_{split}.xlsx", f"info_{split}.csv")


def _header_names(path: Path) -> list[str] | None:
    """The column names of a header-less CSV (the challenge's info_*.csv), from its width; None
    when the file has a header row."""
    if path.suffix.lower() != ".csv":
        return None
    with open(path, newline="", encoding="utf-8-sig") as f:
        first = next(csv.reader(f), [])
    if first and first[0].strip().lower() == "name":
        return None
    return list(COLUMNS)[: max(len(first), 2)]


def read_split_file(path: Path) -> pd.DataFrame | None:
    """One official split file's rows (image, label_line, prompt, mos_quality), or None when it
    carries no scores."""
    names = _header_names(path)
    header = pd.read_excel(path, nrows=0).columns if path.suffix.lower() == ".xlsx" else names
    if header is not None and "mos" not in list(header):
        return None
    return read_labels(path, COLUMNS, numeric=("mos_quality",), names=names)


@register_dataset("aigiqa20k", "AIGIQA-20K (NTIRE 2024): 20,000 images, quality MOS, official split (info_*.xlsx)")
def load_aigiqa20k(root: Path, labels: Path | None = None) -> Dataset:
    labels = labels or find_label_file(root, "aigiqa20k", split_file_candidates("train"))
    parts = []
    for split in SPLITS:
        path = labels if split == "train" else next(
            (labels.parent / n for n in split_file_candidates(split) if (labels.parent / n).is_file()), None)
        part = read_split_file(path) if path is not None else None
        if part is None:
            if path is not None:
                log.info("aigiqa20k: %s has no mos column (the challenge withheld its scores); not loaded", path)
            continue
        parts.append(part.assign(official_split=split, label_file=path.name))
    frame = pd.concat(parts, ignore_index=True)
    frame["group"], problems = groups_by_prompt(frame)
    return labelled_dataset("aigiqa20k", root, labels, frame, ("mos_quality",), {"mos_quality": SCORE_RANGE}, problems)
