"""AGIQA-3k (Li et al., IEEE TCSVT 2023): 2,982 images from six generators and 300 prompts,
two MOS per image: perceptual quality and text-image alignment.

Labels: ``data.csv`` (name, prompt, adj1, adj2, style, mos_quality, std_quality, mos_align,
std_align). File names are ``<model>_<variant>_<prompt index 000-299>.jpg``; content group =
the prompt index (all images of one prompt fall on the same side of a split).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.datasets.labels import (
    find_label_file,
    groups_from_index,
    labelled_dataset,
    read_labels,
)
from bench.datasets.base import Dataset, register_dataset

LABEL_FILES = ("data.csv",)
TARGETS = ("mos_quality", "mos_align")
SCORES = (*TARGETS, "std_quality", "std_align")
SCORE_RANGE = (0.0, 5.0)
N_PROMPTS = 300
FILE_NAME = re.compile(r"[A-Za-z0-9.]+_[a-z]+_(\d{3})\.jpg")


def prompt_index(name: str) -> str | None:
    """The 3-digit prompt index a well-formed file name ends in, or None."""
    match = FILE_NAME.fullmatch(name)
    return match[1] if match and int(match[1]) < N_PROMPTS else None


@register_dataset("agiqa3k", "AGIQA-3k: 2,982 images, quality and alignment MOS (data.csv)")
def load_agiqa3k(root: Path, labels: Path | None = None) -> Dataset:
    labels = labels or find_label_file(root, "agiqa3k", LABEL_FILES)
    frame = read_labels(labels, {"name": "image", "prompt": "prompt", **{s: s for s in SCORES}}, numeric=SCORES)
    frame["group"], problems = groups_from_index(frame, frame["image"].map(prompt_index),
                                                 f"<model>_<variant>_<000-{N_PROMPTS - 1}>.jpg")
    return labelled_dataset("agiqa3k", root, labels, frame, TARGETS, dict.fromkeys(SCORES, SCORE_RANGE), problems)
