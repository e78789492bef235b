"""AGIQA-1k (Zhang et al., arXiv 2303.12618): 1,080 images, one MOS (quality and prompt
correspondence combined).

Labels: ``AIGC_MOS_Zscore.xlsx`` (Image, Prompt, MOS; the file the IP-IQA code reads) or,
when it is absent, ``AIGC_all.csv`` (Image, Score; no prompt: the prompt is rebuilt from the
file name). File names are ``<model>_<main>_<second>_<place>_<style>.jpg``; content group =
main object + second object (the paper: images with the same object label fall on the same
side of a split).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.datasets.labels import find_label_file, labelled_dataset, read_labels
from bench.datasets.base import Dataset, Problem, register_dataset

LABEL_FILES = ("AIGC_MOS_Zscore.xlsx", "AIGC_all.csv")
SCORE_RANGE = (0.0, 5.0)
# The code tables of the dataset's README.
MAIN_OBJECTS = ("bird", "cat", "dog", "batman", "snoppy", "teddy bear", "kid", "man", "woman",
                "alien", "demon", "witch")
SECOND_OBJECTS = ("driving aircraft", "driving bike", "driving car", "having hamburger",
                  "having icecream", "having pizza", "playing baseball", "playing football",
                  "playing yoga", "using CD", "using laptop", "using phone", "wearing coat",
                  "wearing hat", "wearing shirt")
PLACES = ("city", "wild")
STYLES = ("anime style", "realistic style")
# The README's tables hold for deepai only. dreamStudio images were made for a subset of the
# objects and their codes count within it: main 0-8 = bird..teddy bear, man, woman, alien;
# second 0-9 = having pizza..wearing shirt. Every prompt of the xlsx agrees, and so does the
# IP-IQA code's grouping (main + 1 from 6 on, second + 5).
MODEL_CODES = {
    "deepai": (tuple(range(12)), tuple(range(15))),
    "dreamStudio": ((0, 1, 2, 3, 4, 5, 7, 8, 9), tuple(range(5, 15))),
}
FILE_NAME = re.compile(r"(deepai|dreamStudio)_(\d+)_(\d+)_(\d+)_(\d+)\.jpg")
NAMING = "<deepai|dreamStudio>_<main>_<second>_<place>_<style>.jpg with codes in the dataset's tables"


def prompt_from_name(name: str) -> str | None:
    """The prompt a well-formed file name encodes, or None."""
    match = FILE_NAME.fullmatch(name)
    if not match:
        return None
    mains, seconds = MODEL_CODES[match[1]]
    main, second, place, style = (int(code) for code in match.groups()[1:])
    if main >= len(mains) or second >= len(seconds) or place >= len(PLACES) or style >= len(STYLES):
        return None
    return ", ".join((MAIN_OBJECTS[mains[main]], SECOND_OBJECTS[seconds[second]], PLACES[place], STYLES[style]))


def content_group(prompt: str) -> str | None:
    """'<main object>, <second object>' of a prompt '<main>, <second>, <place>, <style>', or None."""
    parts = prompt.split(", ")
    if len(parts) != 4 or parts[0] not in MAIN_OBJECTS or parts[1] not in SECOND_OBJECTS:
        return None
    return f"{parts[0]}, {parts[1]}"


@register_dataset("agiqa1k", "AGIQA-1k: 1,080 images, one MOS (AIGC_MOS_Zscore.xlsx or AIGC_all.csv)")
def load_agiqa1k(root: Path, labels: Path | None = None) -> Dataset:
    labels = labels or find_label_file(root, "agiqa1k", LABEL_FILES)
    with_prompts = labels.suffix.lower() == ".xlsx"
    columns = {"Image": "image", "Prompt": "prompt", "MOS": "mos"} if with_prompts else {"Image": "image", "Score": "mos"}
    frame = read_labels(labels, columns, numeric=("mos",))
    rebuilt = [prompt_from_name(name) for name in frame["image"]]
    if not with_prompts:
        frame["prompt"] = rebuilt
    problems, groups = [], []
    for row, name, prompt, expected in zip(frame.index, frame["image"], frame["prompt"], rebuilt):
        if expected is None:
            problems.append(Problem("malformed_name", name, f"expected {NAMING}", row))
        group = content_group(prompt) if isinstance(prompt, str) else None
        if group is None and with_prompts:
            problems.append(Problem("unparseable_prompt", name, f"prompt {prompt!r} is not "
                                    "'<main object>, <second object>, <place>, <style>' from the code tables", row))
        elif group is not None and expected is not None and prompt != expected:
            problems.append(Problem("prompt_mismatch", name, f"prompt {prompt!r}, file name says {expected!r}", row))
        groups.append(group or "")
    frame["group"] = groups
    return labelled_dataset("agiqa1k", root, labels, frame, ("mos",), {"mos": SCORE_RANGE}, problems)
