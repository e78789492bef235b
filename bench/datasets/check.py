"""Dataset validation: everything that would make a benchmark on a dataset wrong.

``check_dataset`` is the one implementation behind ``ipiqa-bench check`` and behind the
refusal (or ``--drop-invalid``) of ``run``. Problems the loader found in the label file
(names, prompts) come with the dataset; the rest is checked here against the frame and the
files under the dataset root.
"""

from __future__ import annotations

import filecmp
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from bench.assets import cache_dir
from bench.bars import progress_bar
from bench.datasets.labels import scan_images
from bench.datasets.base import Dataset, Problem
from bench.errors import BenchError
from bench.files import atomic_write_text
from bench.images import (  # also: truncated files are errors
    MAX_IMAGE_PIXELS,
    MIN_IMAGE_SIDE,
    size_problem,
)

# Every kind of problem, in report order, with what it means.
PROBLEM_KINDS = {
    "duplicate_row": "image named by more than one label row",
    "malformed_name": "file name does not follow the dataset's naming scheme",
    "unparseable_prompt": "prompt cannot be parsed into a content group",
    "prompt_mismatch": "prompt disagrees with the file name or the other prompts",
    "bad_score": "score missing (NaN), not a number or out of range",
    "missing_image": "label row whose image is not under the root",
    "unlabelled_image": "image file under the root that no label row names",
    "ambiguous_image": "several different files under the root carry the image's name",
    "unreadable_image": "image cannot be decoded (corrupt or truncated)",
    "too_small_image": f"image smaller than {MIN_IMAGE_SIDE} px on a side (the feature extractors refuse it)",
    "too_large_image": f"image of more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels (refused before decoding)",
}


@dataclass
class CheckReport:
    dataset: Dataset
    n_files: int  # image files found under the root
    problems: list[Problem]

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def rows_to_drop(self) -> list[int]:
        """Frame rows that some problem concerns (what --drop-invalid removes)."""
        return sorted({p.row for p in self.problems if p.row is not None})

    def counts(self) -> dict[str, int]:
        return {kind: sum(p.kind == kind for p in self.problems) for kind in PROBLEM_KINDS}

    def found(self) -> str:
        """The kinds found with their counts, e.g. 'duplicate_row 2, unlabelled_image 1'."""
        return ", ".join(f"{kind} {n}" for kind, n in self.counts().items() if n)

    def summary(self) -> str:
        return f"{len(self.problems)} problem(s) ({self.found()}) in {len(self.rows_to_drop)} label row(s)"

    def label_line(self, row: int | None) -> int | None:
        """Where a frame row is in the label file (loaders record it as ``label_line``)."""
        lines = self.dataset.frame.get("label_line")
        return None if row is None or lines is None else int(lines[row])

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: kind, image, label_line, detail."""
        return pd.DataFrame([{"kind": p.kind, "image": p.image, "label_line": self.label_line(p.row),
                              "detail": p.detail} for p in self.problems],
                            columns=["kind", "image", "label_line", "detail"])

    def render(self, limit: int | None = 20) -> str:
        data = self.dataset
        source = f" from {data.labels}" if data.labels else ""
        out = [f"{data.name}: {len(data)} label rows{source}; {self.n_files} image files under {data.root}"]
        if not self.n_files:
            out.append("  (no images at all: unpack them under the root, any sub-folder; see datasets/README.md)")
        width = max(map(len, PROBLEM_KINDS))
        out += [f"  {kind:<{width}}  {n:>5}" for kind, n in self.counts().items()]
        if self.clean:
            return "\n".join(out + ["clean: no problems found"])
        table = self.to_frame()
        for kind, part in table.groupby("kind", sort=False):
            out.append(f"\n{kind} ({len(part)}): {PROBLEM_KINDS[kind]}")
            shown = part if not limit else part.head(limit)
            for item in shown.itertuples():
                line = "" if pd.isna(item.label_line) else f"  [label row {int(item.label_line)}]"
                out.append(f"  {item.image}{line}  {item.detail}".rstrip())
            if len(shown) < len(part):
                out.append(f"  ... and {len(part) - len(shown)} more (--limit 0 lists all)")
        out.append(f"\n{self.summary()}; --drop-invalid drops those rows")
        return "\n".join(out)


def check_dataset(dataset: Dataset, progress: bool = True) -> CheckReport:
    frame = dataset.frame
    if frame.empty:
        source = f"label file {dataset.labels}" if dataset.labels else f"{dataset.name}'s labels"
        raise BenchError(f"{source} has no rows (a header only?); it must list one row per image")
    files = scan_images(dataset.root)
    problems = [*dataset.label_problems, *_duplicate_rows(dataset), *_bad_scores(dataset)]
    present = frame["path"].map(lambda p: Path(p).is_file()).astype(bool)
    problems += [Problem("missing_image", frame.at[row, "image"], "", row) for row in frame.index[~present]]
    named = set(frame["image"])
    problems += [_unlabelled(name, paths[0].relative_to(dataset.root)) for name, paths in files.items()
                 if name not in named]
    for row in frame.index[present]:
        copies = files.get(frame.at[row, "image"], [])
        if any(not filecmp.cmp(copies[0], other, shallow=False) for other in copies[1:]):
            problems.append(Problem("ambiguous_image", frame.at[row, "image"],
                                    ", ".join(str(p.relative_to(dataset.root)) for p in copies), row))
    problems += _unreadable_images(frame[present], progress)
    order = list(PROBLEM_KINDS)
    problems.sort(key=lambda p: (order.index(p.kind), -1 if p.row is None else p.row, p.image))
    return CheckReport(dataset, sum(len(paths) for paths in files.values()), problems)


def _unlabelled(name: str, where: Path) -> Problem:
    """A file no label row names; a name that is not UTF-8 (undecodable bytes, kept by the
    file system walk as surrogates) is shown with the bytes escaped, so it can be printed."""
    shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    detail = str(where).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return Problem("unlabelled_image", shown, detail + ("  (file name is not valid UTF-8)" if shown != name else ""))


def _duplicate_rows(dataset: Dataset) -> list[Problem]:
    frame = dataset.frame
    problems = []
    for name, rows in frame[frame["image"].duplicated(keep=False)].groupby("image").groups.items():
        scores = "; ".join(f"{t} " + ", ".join(f"{v:.4g}" for v in frame.loc[rows, t]) for t in dataset.targets)
        problems += [Problem("duplicate_row", name, f"{len(rows)} label rows name it ({scores})", row) for row in rows]
    return problems


def _bad_scores(dataset: Dataset) -> list[Problem]:
    problems = []
    ranges = {**{t: (-math.inf, math.inf) for t in dataset.targets}, **dataset.score_ranges}
    for column, (low, high) in ranges.items():
        values = pd.to_numeric(dataset.frame[column], errors="coerce")
        for row in dataset.frame.index[values.isna() | (values < low) | (values > high)]:
            value = values[row]
            why = "missing or not a number" if pd.isna(value) else f"{value:g} outside [{low:g}, {high:g}]"
            problems.append(Problem("bad_score", dataset.frame.at[row, "image"], f"{column}: {why}", row))
    return problems


def image_problem(path: str) -> str | None:
    """Why an image cannot be used, or None (see ``classify_image``)."""
    found = classify_image(path)
    return found[1] if found else None


def classify_image(path: str) -> tuple[str, str] | None:
    """(kind, why) an image cannot be used, or None: its size from the header (a huge file is
    never decoded), then a structural check and a full decode."""
    try:
        with Image.open(path) as img:
            too = size_problem(*img.size)
            if too:
                return ("too_small_image" if min(img.size) < MIN_IMAGE_SIDE else "too_large_image"), too
            img.verify()
        with Image.open(path) as img:
            img.load()  # decoding the whole file finds truncation (bench.images makes it an error)
    except Exception as exc:  # PIL raises many types (SyntaxError, struct.error...) for broken files
        return "unreadable_image", f"{type(exc).__name__}: {exc}"
    return None


def _unreadable_images(frame: pd.DataFrame, progress: bool) -> list[Problem]:
    """Decode every image once; images already found usable, unchanged since, are skipped."""
    verified = VerifiedImages()
    todo = [(row, path) for row, path in frame["path"].items() if not verified.holds(path)]
    problems = []
    try:
        for row, path in progress_bar(todo, desc="checking images", unit="img", disable=not progress or not todo,
                              leave=False):
            found = classify_image(path)
            if found:
                problems.append(Problem(found[0], frame.at[row, "image"], found[1], row))
            else:
                verified.add(path)
    finally:
        verified.save()
    return problems


class VerifiedImages:
    """Images found readable, keyed by absolute path with size and mtime, kept in the cache
    folder so that a ``run`` after ``check`` does not decode every image again."""

    def __init__(self):
        self.path = cache_dir() / "verified-images-v2.json"  # v2: sizes checked too
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.changed = False

    @staticmethod
    def _key(path: str) -> tuple[str, list[int]]:
        stat = Path(path).stat()
        return str(Path(path).resolve()), [stat.st_size, stat.st_mtime_ns]

    def holds(self, path: str) -> bool:
        key, signature = self._key(path)
        return self.entries.get(key) == signature

    def add(self, path: str) -> None:
        key, signature = self._key(path)
        self.entries[key] = signature
        self.changed = True

    def save(self) -> None:
        if self.changed:
            atomic_write_text(self.path, json.dumps(self.entries))
