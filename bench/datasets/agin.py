"""AGIN (Chen et al., "Exploring the Naturalness of AI-Generated Images", IEEE TCSVT 2024):
6,049 images from five generative tasks (text-to-image, translation, inpainting,
colorization, editing), three MOS per image: overall naturalness, technical quality and
rationality.

Labels: the CSV distributed with the images (OneDrive / Baidu links of the dataset's GitHub
README). Its name is not public; the authors' loader (datasets/README.md cites it) reads the
columns ``filename``, ``MOS_nat``, ``MOS_tech`` and ``MOS_rat``, so the loader takes the one
CSV under the root that has them. The score scale is not stated in any public file: scores
are only checked for being numbers. There are no prompts (most tasks have none); the
authors split images at random (70/30), so content group = the image itself.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.datasets.labels import skipped_name, labelled_dataset, read_labels
from bench.datasets.base import Dataset, register_dataset
from bench.errors import BenchError

COLUMNS = {"filename": "image", "MOS_nat": "mos_naturalness", "MOS_tech": "mos_technical",
           "MOS_rat": "mos_rationality"}
TARGETS = ("mos_naturalness", "mos_technical", "mos_rationality")

# Its columns are registered in bench/targets.py: perceptual judgements of the image alone,
# quality-kind scores (methods predicting quality score them).


def _header(path: Path) -> set[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return {cell.strip() for cell in next(csv.reader(f), [])}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()  # not a label file of this dataset


def find_agin_labels(root: Path) -> Path:
    """The one CSV under ``root`` whose header has AGIN's columns."""
    hits = [p for p in sorted(root.rglob("*.csv"))
            if not any(skipped_name(part) for part in p.relative_to(root).parts) and set(COLUMNS) <= _header(p)]
    if len(hits) != 1:
        found = f"{len(hits)} ({', '.join(map(str, hits))})" if hits else "none"
        raise BenchError(f"agin: expected one CSV under {root} with columns {', '.join(COLUMNS)}; found {found}; "
                         "see datasets/README.md")
    return hits[0]


@register_dataset("agin", "AGIN: 6,049 images, naturalness, technical and rationality MOS (the release's CSV)")
def load_agin(root: Path, labels: Path | None = None) -> Dataset:
    labels = labels or find_agin_labels(root)
    frame = read_labels(labels, COLUMNS, numeric=TARGETS)
    frame["prompt"] = ""
    frame["group"] = frame["image"]
    return labelled_dataset("agin", root, labels, frame, TARGETS, {}, [])
