"""EvalMuse-40K (Han et al., 2024; the NTIRE 2025 text-to-image alignment track): 40,000
image-text pairs from about 20 generators and 4,000 prompts, with each annotator's overall
image-text alignment score and per-element scores.

Labels as released on Hugging Face (DY-Evalab/EvalMuse; datasets/README.md cites the files
read): ``train_list.json``, a JSON list of objects with ``prompt_id``, ``prompt``, ``type``,
``img_path``, ``total_score`` (one score per annotator), ``element_score`` (element -> the
annotators' 0/1 answers) and annotation flags; ``test.json`` in the same form, its scores
withheld at release (the official test split). The MOS is the mean of ``total_score``, as
the release's own preprocessing computes it. Content group = ``prompt_id`` (checked
against the prompt texts: one prompt per id, one id per prompt).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path, PureWindowsPath

import pandas as pd

from bench.datasets.labels import find_label_file, groups_from_index, labelled_dataset, prepare_labels, read_table
from bench.datasets.base import Dataset, register_dataset
from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")
LABEL_FILES = ("train_list.json",)
TEST_FILE = "test.json"
SCORE_RANGE = (1.0, 5.0)  # the overall alignment score's scale
COLUMNS = {"img_path": "image", "prompt": "prompt", "prompt_id": "prompt_id", "total_score": "total_score"}


def mean_score(value) -> float:
    """The mean of one image's annotator scores (a list; a lone number is its own mean); NaN
    for anything else, which ``check`` reports as a bad score."""
    values = value if isinstance(value, list) else [value]
    try:
        numbers = [float(v) for v in values if v is not None]
    except (TypeError, ValueError):
        return math.nan
    return sum(numbers) / len(numbers) if numbers else math.nan


def read_evalmuse(path: Path) -> pd.DataFrame | None:
    """The rows of one release file, or None when it carries no scores (``total_score``)."""
    raw = read_table(path, {"img_path": str, "prompt": str, "prompt_id": str})  # total_score stays a list
    if "total_score" not in raw.columns:
        return None
    frame = prepare_labels(raw, path, COLUMNS, numeric=())
    frame["img_path"] = frame["image"]
    frame["image"] = frame["image"].map(lambda p: PureWindowsPath(p).name)  # images are found by file name
    frame["mos_align"] = frame["total_score"].map(mean_score)
    return frame


@register_dataset("evalmuse40k", "EvalMuse-40K: 40,000 image-text pairs, alignment MOS (train_list.json)")
def load_evalmuse40k(root: Path, labels: Path | None = None) -> Dataset:
    labels = labels or find_label_file(root, "evalmuse40k", LABEL_FILES)
    train = read_evalmuse(labels)
    if train is None:
        raise BenchError(f"evalmuse40k: {labels} has no total_score column; it is not the release's train_list.json")
    parts = [train.assign(official_split="train")]
    test = labels.parent / TEST_FILE
    scored = read_evalmuse(test) if test.is_file() else None
    if scored is not None:
        parts.append(scored.assign(official_split="test"))
    elif test.is_file():
        log.info("evalmuse40k: %s has no total_score (its scores were withheld); not loaded", test)
    frame = pd.concat(parts, ignore_index=True)
    ids = frame["prompt_id"].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    frame["group"], problems = groups_from_index(frame, ids, "a prompt_id")
    return labelled_dataset("evalmuse40k", root, labels, frame, ("mos_align",), {"mos_align": SCORE_RANGE}, problems)
