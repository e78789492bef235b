"""Official train/test splits that a dataset's own release defines by its label files
(``splits import --format aigiqa20k | evalmuse``): one fold, the images of the training
file(s) on the train side and those of the validation / test file(s) on the test side.

* ``aigiqa20k``: the NTIRE 2024 files ``info_train``, ``info_val``, ``info_test``
  (``.xlsx``, or header-less ``.csv``), first column the image name; val and test are both
  held out (the challenge scored on them).
* ``evalmuse``: ``train_list.json`` and ``test.json`` (lists of objects with ``img_path``).

PATH: the files, or a folder holding them. Each reader returns (fold name, train names, test
names, source files); bench.splits.importing checks and writes the fold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PureWindowsPath

import pandas as pd

from bench.errors import BenchError

OfficialFold = tuple[str, list[str], list[str], list[Path]]
AIGIQA20K_FILE = re.compile(r"info_(train|val|test)\.(xlsx|csv)", re.IGNORECASE)
EVALMUSE_FILES = {"train_list.json": "train", "test.json": "test"}


def _name(entry) -> str:
    return PureWindowsPath(str(entry).strip()).name


def _files(paths: list[Path], wanted) -> list[Path]:
    found = []
    for path in paths:
        found += sorted(p for p in path.iterdir() if wanted(p.name)) if path.is_dir() else [path]
    return found


def _aigiqa20k_names(path: Path) -> list[str]:
    try:
        if path.suffix.lower() == ".xlsx":
            column = pd.read_excel(path, dtype=str).iloc[:, 0]
        else:
            column = pd.read_csv(path, header=None, dtype=str, keep_default_na=False).iloc[:, 0]
    except Exception as exc:  # noqa: BLE001  (whatever the parser says, one line)
        raise BenchError(f"cannot read split file {path}: {exc}") from None
    names = [_name(v) for v in column if str(v).strip()]
    return names[1:] if names and names[0].lower() == "name" else names  # a header row


def read_aigiqa20k(paths: list[Path]) -> list[OfficialFold]:
    files = _files(paths, lambda n: AIGIQA20K_FILE.fullmatch(n) is not None)
    by_split: dict[str, Path] = {}
    for f in files:
        match = AIGIQA20K_FILE.fullmatch(f.name)
        if not match:
            raise BenchError(f"{f}: not an AIGIQA-20K split file (info_train, info_val or info_test .xlsx/.csv)")
        by_split.setdefault(match[1].lower(), f)  # an .xlsx and its .csv twin list the same images
    if "train" not in by_split or len(by_split) < 2:
        raise BenchError(f"AIGIQA-20K split files: need info_train and info_val or info_test; found "
                         f"{', '.join(sorted(by_split)) or 'none'} in {', '.join(map(str, paths))}")
    held_out = [by_split[s] for s in ("val", "test") if s in by_split]
    test = [n for f in held_out for n in _aigiqa20k_names(f)]
    return [("official", _aigiqa20k_names(by_split["train"]), test, [by_split["train"], *held_out])]


def img_path_names(path: Path, what: str, expected: str) -> list[str]:
    """The file names of a JSON list of objects with an ``img_path`` (Q-Align's and EvalMuse's
    split files); ``what`` and ``expected`` word the error."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "img_path" in e for e in entries):
        raise BenchError(f"{path}: expected {expected}")
    return [_name(e["img_path"]) for e in entries]


def _evalmuse_names(path: Path) -> list[str]:
    return img_path_names(path, "split file", "a list of objects with an img_path (EvalMuse's release format)")


def read_evalmuse(paths: list[Path]) -> list[OfficialFold]:
    files = {EVALMUSE_FILES.get(f.name): f for f in _files(paths, lambda n: n in EVALMUSE_FILES)}
    if None in files:
        raise BenchError(f"{files[None]}: not an EvalMuse split file (train_list.json or test.json)")
    if set(files) != {"train", "test"}:
        raise BenchError(f"EvalMuse split files: need train_list.json and test.json in {', '.join(map(str, paths))}")
    return [("official", _evalmuse_names(files["train"]), _evalmuse_names(files["test"]),
             [files["train"], files["test"]])]


OFFICIAL_READERS = {"aigiqa20k": read_aigiqa20k, "evalmuse": read_evalmuse}
