"""Building blocks of a loader for an official label file: find the file and the images
under the dataset root, read the table, derive content groups, build the ``Dataset``.

A loader only *reports* what is wrong with its labels (as ``Problem`` rows); it never
drops rows or crashes on them: ``ipiqa-bench check`` lists them and ``run`` decides.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pandas as pd

from bench.datasets.base import Dataset, Problem
from bench.errors import BenchError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
# Archives made on macOS carry '__MACOSX/._name.jpg' resource forks: not images.
SKIPPED_FOLDERS = {"__MACOSX"}


def skipped_name(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_FOLDERS


def scan_images(root: Path) -> dict[str, list[Path]]:
    """Every image file under ``root`` (any depth) by file name; a name may occur in several folders."""
    found: dict[str, list[Path]] = defaultdict(list)
    for folder, subfolders, files in os.walk(root, followlinks=True):  # image folders are often links
        subfolders[:] = sorted(d for d in subfolders if not skipped_name(d))
        for name in sorted(files):
            if not skipped_name(name) and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found[name].append(Path(folder) / name)
    return dict(found)


def find_label_file(root: Path, dataset: str, candidates: tuple[str, ...]) -> Path:
    """The first candidate file name found directly in ``root`` or, uniquely, in a sub-folder."""
    for name in candidates:
        if (root / name).is_file():
            return root / name
        hits = [p for p in sorted(root.rglob(name))
                if p.is_file() and not any(skipped_name(part) for part in p.relative_to(root).parts)]
        if len(hits) > 1:
            raise BenchError(f"{dataset}: {len(hits)} files named {name} under {root} "
                             f"({', '.join(str(p) for p in hits)}); pass --root the folder of the one to use")
        if hits:
            return hits[0]
    raise BenchError(f"{dataset}: no {' or '.join(candidates)} under {root}; see datasets/README.md")


JSON_SUFFIXES = {".json", ".jsonl"}


def read_table(path: Path, text: dict | None = None, names: list[str] | None = None) -> pd.DataFrame:
    """A label table as it is: CSV, TSV (``.tsv``/``.tab``), XLSX, or JSON (a list of objects, or
    one object a line for ``.jsonl``). ``text``: column -> str, read as text; ``names``: the
    column names of a CSV without a header row."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            return pd.read_excel(path, dtype=text)
        if suffix in JSON_SUFFIXES:  # dtype=False: values as the file has them (nested ones kept)
            frame = pd.read_json(path, lines=suffix == ".jsonl", dtype=False)
            for column in [c for c in text or {} if c in frame.columns]:  # missing stays missing
                frame[column] = frame[column].where(frame[column].isna(), frame[column].astype(str))
            return frame
        return pd.read_csv(path, sep="\t" if suffix in (".tsv", ".tab") else ",", dtype=text,
                           keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                           header=None if names else "infer", names=names)
    except Exception as exc:  # noqa: BLE001  (a corrupt or foreign file, whatever the parser says)
        raise BenchError(f"cannot read label file {path}: {exc}") from None


def read_labels(path: Path, columns: dict[str, str], numeric: tuple[str, ...],
                names: list[str] | None = None) -> pd.DataFrame:
    """The label table with ``columns`` renamed (official name -> ours) and the others kept.

    Names and prompts are read as text; ``numeric`` columns (our names) are parsed with
    every unparseable cell as NaN, which ``check`` reports as a bad score. ``names``: the
    column names of a CSV that has no header row.
    """
    text = {official: str for official, ours in columns.items() if ours not in numeric}
    return prepare_labels(read_table(path, text, names), path, columns, numeric, header=names is None)


def prepare_labels(frame: pd.DataFrame, path: Path, columns: dict[str, str], numeric: tuple[str, ...],
                   header: bool = True) -> pd.DataFrame:
    """``read_labels`` on a table already read (``read_table``)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BenchError(f"label file {path} has no column(s) {missing}; it has {list(frame.columns)}")
    frame = frame.rename(columns=columns).reset_index(drop=True)
    frame["image"] = frame["image"].fillna("").astype(str)
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    # Where the row is in the file, so a report points into it: the row number a spreadsheet
    # shows (header = 1); in JSON, the object's (or line's) number, from 1.
    first = 2 if header and path.suffix.lower() not in JSON_SUFFIXES else 1
    frame.insert(1, "label_line", frame.index + first)
    return frame


def groups_from_index(frame: pd.DataFrame, index: pd.Series, naming: str) -> tuple[pd.Series, list[Problem]]:
    """Content groups from the prompt index each file name holds (None: a malformed name),
    checked against the prompt texts.

    The index must name one prompt and the prompt one index: otherwise a content would
    sit in two groups (or two contents in one) and could leak across a split.
    """
    problems = [Problem("malformed_name", frame.at[row, "image"], f"expected {naming}", row)
                for row in frame.index[index.isna()]]
    problems += [Problem("unparseable_prompt", frame.at[row, "image"], "empty prompt", row)
                 for row in frame.index[frame["prompt"].fillna("").str.strip() == ""]]

    def report(by: pd.Series, other: pd.Series, describe) -> None:
        counts = other.groupby(by).nunique()  # rows with no index (malformed names) are left out
        for value in counts.index[counts > 1]:
            rows = frame.index[by == value]
            text = describe(value, sorted(set(other[rows].astype(str))))
            problems.extend(Problem("prompt_mismatch", frame.at[r, "image"], text, r) for r in rows)

    report(index, frame["prompt"], lambda value, seen: f"prompt index {value} has {len(seen)} different prompts")
    report(frame["prompt"].where(index.notna()), index,
           lambda value, seen: f"the same prompt is under indices {', '.join(seen)}")
    return index.fillna(""), problems


def labelled_dataset(name: str, root: Path, labels: Path, frame: pd.DataFrame, targets: tuple[str, ...],
                     score_ranges: dict[str, tuple[float, float]], problems: list[Problem]) -> Dataset:
    """The Dataset, each row's image found by file name anywhere under ``root``.

    A row whose image is absent keeps the path it would have directly under ``root``;
    ``check`` reports it as missing.
    """
    images = scan_images(root)
    frame["path"] = [str(images[n][0]) if n in images else str(root / n) for n in frame["image"]]
    frame["prompt"] = frame["prompt"].fillna("").astype(str)
    return Dataset(name, frame, targets, root, labels=labels, score_ranges=score_ranges, label_problems=problems)


def groups_by_prompt(frame: pd.DataFrame) -> tuple[pd.Series, list[Problem]]:
    """Content groups for datasets whose content is the prompt: rows with the identical prompt
    text share a group; an empty prompt is a problem (its row would form a group of its own)."""
    prompts = frame["prompt"].where(frame["prompt"].notna(), "").astype(str).str.strip()
    problems = [Problem("unparseable_prompt", frame.at[row, "image"], "empty prompt", row)
                for row in frame.index[prompts == ""]]
    return prompts, problems
