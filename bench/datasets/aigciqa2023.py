"""AIGCIQA2023 (Wang et al., arXiv 2307.00211): 2,400 images from six generators and 100
prompts, four images per prompt and generator, three MOS per image: quality, authenticity
and correspondence (0-100).

Labels: ``AIGCIQA2023.csv`` from the dataset's GitHub repository (name, prompt, style,
class, quality_mos, authenticity_mos, correspondence_mos and their ``_std``), images
``Image/allimg/<i>.png``. Image ``i`` was made by generator ``i // 400`` from prompt
``(i % 400) // 4``; content group = that prompt index. This module is the worked example of
adding a dataset (datasets/README.md, "Adding a dataset").
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

LABEL_FILES = ("AIGCIQA2023.csv",)
# official column -> ours: quality and correspondence are the harness's quality and alignment targets
COLUMNS = {"name": "image", "prompt": "prompt", "quality_mos": "mos_quality", "correspondence_mos": "mos_align",
           "authenticity_mos": "mos_authenticity", "quality_std": "std_quality",
           "correspondence_std": "std_align", "authenticity_std": "std_authenticity"}
TARGETS = ("mos_quality", "mos_align")
SCORES = tuple(c for c in COLUMNS.values() if c.startswith(("mos_", "std_")))
SCORE_RANGE = (0.0, 100.0)
N_IMAGES, PER_GENERATOR, PER_PROMPT = 2400, 400, 4
FILE_NAME = re.compile(r"(\d+)\.png")


def prompt_index(name: str) -> str | None:
    match = FILE_NAME.fullmatch(name)
    if not match or int(match[1]) >= N_IMAGES:
        return None
    return f"{int(match[1]) % PER_GENERATOR // PER_PROMPT:02d}"


@register_dataset("aigciqa2023", "AIGCIQA2023: 2,400 images, quality and correspondence MOS (AIGCIQA2023.csv)")
def load_aigciqa2023(root: Path, labels: Path | None = None) -> Dataset:
    labels = labels or find_label_file(root, "aigciqa2023", LABEL_FILES)
    frame = read_labels(labels, COLUMNS, numeric=SCORES)
    frame["group"], problems = groups_from_index(frame, frame["image"].map(prompt_index), f"<0-{N_IMAGES - 1}>.png")
    return labelled_dataset("aigciqa2023", root, labels, frame, TARGETS, dict.fromkeys(SCORES, SCORE_RANGE), problems)
