"""A dataset card: any labelled folder becomes a dataset.

A card (``dataset.toml``, beside the labels) names the label file, its image, prompt and
target columns, each target's kind and scale, and how images are grouped by content;
``--dataset path/to/dataset.toml`` loads it (``load_card``) into the same ``Dataset`` the
built-in loaders build, so ``check``, ``run`` and ``table`` treat it alike. Results are
keyed by the card's ``name``. ``infer_card`` guesses a card from a label file and an image
folder (``ipiqa-bench dataset init``). The format is documented in datasets/README.md.

The first ``quality`` target becomes the frame column ``mos_quality`` and the first
``alignment`` target ``mos_align``, so that Tables 1 and 2 show them as they show the
built-in datasets'; any other target keeps its own column name and is registered with its kind.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.datasets.labels import groups_by_prompt, labelled_dataset, prepare_labels, read_table, scan_images
from bench.datasets.base import DATASET_REGISTRY, Dataset, Problem
from bench.errors import BenchError
from bench.files import atomic_write_text
from bench.targets import TARGET_COLUMNS, register_target_column

CARD_FILE = "dataset.toml"
CARD_KINDS = ("quality", "alignment", "other")
# The frame column the first target of a kind becomes (what Tables 1 and 2 show).
TABLE_COLUMNS = {"quality": "mos_quality", "alignment": "mos_align"}
GROUP_RULES = {"prompt": "images with the identical prompt text share a content group",
               "image": "every image is its own content group (no two images share a content)"}
TOP_KEYS = {"name", "labels", "images", "image_column", "prompt_column", "group_column", "group_rule", "targets"}
TARGET_KEYS = {"kind", "min", "max", "description"}
RESERVED_COLUMNS = {"image", "path", "prompt", "group", "label_line"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Words in a column name that say which kind of score it holds (alignment first: "match_score").
ALIGNMENT_WORDS = ("align", "consist", "corr", "match", "text", "prompt", "faith")
QUALITY_WORDS = ("quality", "mos", "score", "visual", "aesthetic", "natural", "rating")
NOT_TARGET_WORDS = ("std", "var", "id", "index", "count", "num", "seed")


@dataclass(frozen=True)
class CardTarget:
    column: str  # the label file's column
    kind: str
    low: float
    high: float
    frame_column: str  # the Dataset column (mos_quality / mos_align for the first of those kinds)


@dataclass(frozen=True)
class Card:
    path: Path
    name: str
    labels: Path
    images: Path
    image_column: str
    prompt_column: str | None
    group_column: str | None
    group_rule: str
    targets: tuple[CardTarget, ...]


def is_card_path(value: str | Path) -> bool:
    """Whether a ``--dataset`` value names a card file (rather than a registered dataset)."""
    return str(value).endswith(".toml") and Path(value).is_file()


def _error(path: Path, key: str, what: str) -> BenchError:
    return BenchError(f"dataset card {path}: {key}: {what}")


def _text(path: Path, data: dict, key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _error(path, key, "missing (see datasets/README.md, 'Your own dataset: a card')")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _error(path, key, f"expected a non-empty string, got {value!r}")
    return value


def _number(path: Path, key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _error(path, key, f"expected a finite number, got {value!r}")
    return float(value)


def read_card(path: str | Path) -> Card:
    """The card at ``path``, validated; every mistake is a one-line BenchError naming the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"dataset card {path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _error(path, unknown[0], f"unknown key; a card has {', '.join(sorted(TOP_KEYS))}")
    name = _text(path, data, "name")
    if not NAME.fullmatch(name):
        raise _error(path, "name", f"{name!r} must be letters, digits, '.', '_' or '-' (it names the results folder)")
    if name in DATASET_REGISTRY.names():
        raise _error(path, "name", f"{name!r} is a built-in dataset's name; its results would mix with yours")
    here = path.parent
    labels = here / _text(path, data, "labels")
    if not labels.is_file():
        raise _error(path, "labels", f"no file {labels}")
    images = here / (_text(path, data, "images", required=False) or ".")
    if not images.is_dir():
        raise _error(path, "images", f"no folder {images}")
    prompt = _text(path, data, "prompt_column", required=False)
    group_column = _text(path, data, "group_column", required=False)
    rule = _text(path, data, "group_rule", required=False) or ("prompt" if prompt else "image")
    if rule not in GROUP_RULES:
        raise _error(path, "group_rule", f"{rule!r}; expected {' or '.join(GROUP_RULES)}")
    if group_column and "group_rule" in data:
        raise _error(path, "group_rule", "give group_column or group_rule, not both")
    if rule == "prompt" and not prompt and not group_column:
        raise _error(path, "group_rule", "'prompt' needs a prompt_column")
    return Card(path, name, labels, images, _text(path, data, "image_column"), prompt, group_column, rule,
                _targets(path, data.get("targets")))


def _targets(path: Path, table) -> tuple[CardTarget, ...]:
    if not isinstance(table, dict) or not table:
        raise _error(path, "targets", "missing; add a [targets.<column>] table with kind, min and max per score column")
    targets, taken = [], set()
    for column, spec in table.items():
        key = f"targets.{column}"
        if not isinstance(spec, dict):
            raise _error(path, key, "expected a table with kind, min and max")
        unknown = sorted(set(spec) - TARGET_KEYS)
        if unknown:
            raise _error(path, f"{key}.{unknown[0]}", f"unknown key; a target has {', '.join(sorted(TARGET_KEYS))}")
        kind = spec.get("kind")
        if kind not in CARD_KINDS:
            raise _error(path, f"{key}.kind", f"{kind!r}; expected {', '.join(CARD_KINDS)}")
        for bound in ("min", "max"):
            if bound not in spec:
                raise _error(path, f"{key}.{bound}", "missing (the lowest and highest score the scale allows)")
        low, high = _number(path, f"{key}.min", spec["min"]), _number(path, f"{key}.max", spec["max"])
        if low >= high:
            raise _error(path, key, f"min {low:g} is not below max {high:g}")
        frame_column = TABLE_COLUMNS.get(kind) if TABLE_COLUMNS.get(kind) not in taken else None
        frame_column = frame_column or column
        if frame_column in RESERVED_COLUMNS or frame_column in taken:
            raise _error(path, key, f"the column name {frame_column!r} is taken; rename the column in the labels")
        registered = TARGET_COLUMNS.find(frame_column)
        if registered is not None and registered.kind != kind:
            raise _error(path, f"{key}.kind", f"{frame_column!r} is registered as a {registered.kind} column")
        taken.add(frame_column)
        targets.append(CardTarget(column, kind, low, high, frame_column))
    return tuple(targets)


def load_card(path: str | Path) -> Dataset:
    """The Dataset a card describes, with the problems ``check`` lists (as a built-in loader's)."""
    card = read_card(path)
    for target in card.targets:
        if TARGET_COLUMNS.find(target.frame_column) is None:
            register_target_column(target.frame_column, target.kind, f"{target.kind} score (a dataset card's column)")
    text_columns = [c for c in (card.image_column, card.prompt_column, card.group_column) if c]
    raw = read_table(card.labels, dict.fromkeys(text_columns, str))
    keys = {"image_column": card.image_column, "prompt_column": card.prompt_column,
            "group_column": card.group_column, **{f"targets.{t.column}": t.column for t in card.targets}}
    for key, column in keys.items():
        if column and column not in raw.columns:
            raise _error(card.path, key, f"no column {column!r} in {card.labels}; it has {list(raw.columns)}")
    raw = raw.assign(_group=raw[card.group_column]) if card.group_column else raw  # before renaming
    columns = {card.image_column: "image", **({card.prompt_column: "prompt"} if card.prompt_column else {}),
               **{t.column: t.frame_column for t in card.targets}}
    numeric = tuple(t.frame_column for t in card.targets)
    frame = prepare_labels(raw, card.labels, columns, numeric)
    if not card.prompt_column:
        frame["prompt"] = ""
    if card.group_column:
        groups = frame.pop("_group")
        frame["group"] = groups.where(groups.notna(), "").astype(str).str.strip()
        problems = [Problem("unparseable_prompt", frame.at[row, "image"], f"empty group column {card.group_column!r}",
                            row) for row in frame.index[frame["group"] == ""]]
    elif card.group_rule == "prompt":
        frame["group"], problems = groups_by_prompt(frame)
    else:
        frame["group"], problems = frame["image"], []
    ranges = {t.frame_column: (t.low, t.high) for t in card.targets}
    return labelled_dataset(card.name, card.images, card.labels, frame, numeric, ranges, problems)


# ----- guessing a card ---------------------------------------------------------------------------


def _words_in(name: str, words: tuple[str, ...]) -> bool:
    parts = re.split(r"[^a-z0-9]+", name.lower())
    return any(w in name.lower() for w in words if len(w) > 3) or any(w in parts for w in words)


# The scales MOS are usually collected on, smallest first: a guess takes the first that holds the scores.
COMMON_SCALES = ((0, 1), (1, 5), (0, 5), (1, 10), (0, 10), (0, 100))


def _rounded_scale(low: float, high: float) -> tuple[float, float]:
    """The smallest common MOS scale holding the observed range (2.0-4.9 -> [1, 5]); else the
    range widened to whole steps of the scores' order of magnitude (-3 -> 7: [-3, 7])."""
    for lo, hi in COMMON_SCALES:
        if lo <= low and high <= hi:
            return lo, hi
    top = max(abs(low), abs(high)) or 1.0
    step = 10.0 ** math.floor(math.log10(top))
    lo, hi = math.floor(low / step) * step, math.ceil(high / step) * step
    if lo >= 0 and lo <= step:  # scores that start near zero: the scale starts at zero
        lo = 0.0
    if hi == lo:
        hi = lo + step
    return (int(lo) if lo.is_integer() else lo), (int(hi) if hi.is_integer() else hi)


def _target_kind(column: str) -> str:
    if _words_in(column, ALIGNMENT_WORDS):
        return "alignment"
    return "quality" if _words_in(column, QUALITY_WORDS) else "other"


def infer_card(labels_path: str | Path, images_dir: str | Path, card_path: str | Path | None = None
               ) -> tuple[dict, list[str]]:
    """(card, guesses): a card for ``labels_path`` whose images are under ``images_dir``, and
    one line per guess saying what was guessed and why. ``card_path``: where the card will be
    written (paths in it are relative to it; default: dataset.toml beside the labels)."""
    labels, images = Path(labels_path), Path(images_dir)
    if not images.is_dir():
        raise BenchError(f"--images {images}: no such folder")
    here = Path(card_path).parent if card_path else labels.parent
    frame = read_table(labels)
    if frame.empty:
        raise BenchError(f"label file {labels} has no rows")
    files = set(scan_images(images))
    text = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, str)).mean() > 0.9]
    found = {c: frame[c].map(lambda v: os.path.basename(str(v)) in files).mean() for c in text}
    image_column = max(found, key=found.get, default=None)
    if image_column is None or found[image_column] == 0:
        raise BenchError(f"no column of {labels} names image files found under {images} (columns: "
                         f"{list(frame.columns)}); write the card by hand (datasets/README.md)")
    guesses = [f"name: {_folder_name(labels)!r} (the label file's folder; results go to <results>/<name>/)",
               f"image column: {image_column!r} ({found[image_column]:.0%} of its values are files under {images})"]
    spaced = {c: frame[c].astype(str).str.contains(" ").mean() for c in text if c != image_column}
    prompt = max(spaced, key=spaced.get, default=None)
    card = {"name": _folder_name(labels), "labels": _relative(labels, here),
            "images": _relative(images, here), "image_column": image_column}
    if prompt is not None and spaced[prompt] >= 0.5:
        card["prompt_column"] = prompt
        card["group_rule"] = "prompt"
        guesses.append(f"prompt column: {prompt!r} (text with spaces in {spaced[prompt]:.0%} of its rows)")
        guesses.append("content groups: images with the identical prompt (group_rule = \"prompt\"); set "
                       "group_column instead if a column names each image's content")
    else:
        card["group_rule"] = "image"
        guesses.append("prompt column: none found (no text column with spaces); every image is its own "
                       "content group (group_rule = \"image\")")
    card["targets"] = {}
    for column in frame.columns:
        if column in (image_column, prompt) or column in text:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().mean() < 0.9:
            continue
        if _words_in(str(column), NOT_TARGET_WORDS):
            guesses.append(f"column {column!r}: numeric but its name says it is not a score; left out")
            continue
        kind = _target_kind(str(column))
        low, high = _rounded_scale(float(values.min()), float(values.max()))
        card["targets"][str(column)] = {"kind": kind, "min": low, "max": high}
        guesses.append(f"target {column!r}: kind {kind} (from its name{'' if kind != 'other' else '; no known word'})"
                       f", observed {values.min():g}–{values.max():g}, scale guessed [{low:g}, {high:g}]")
    if not card["targets"]:
        raise BenchError(f"no numeric score column in {labels} (columns: {list(frame.columns)})")
    return card, guesses


def _folder_name(labels: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", labels.resolve().parent.name).strip("-.") or "my-dataset"
    return name if name not in DATASET_REGISTRY.names() else f"{name}-card"


def _relative(target: Path, here: Path) -> str:
    return Path(os.path.relpath(target.resolve(), here.resolve())).as_posix()


# ----- writing a card ----------------------------------------------------------------------------


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise BenchError(f"a card value must be finite, got {value!r}")
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def card_text(card: dict, notes: list[str] = ()) -> str:
    """The TOML of ``card`` (scalars, then one [targets."<column>"] table per target), ``notes``
    as comments on top."""
    lines = [f"# {line}" for line in notes]
    lines += [f"{key} = {_toml_value(value)}" for key, value in card.items() if key != "targets"]
    for column, spec in card.get("targets", {}).items():
        lines += ["", f"[targets.{json.dumps(str(column), ensure_ascii=False)}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in spec.items()]
    return "\n".join(lines) + "\n"


def write_card(path: str | Path, card: dict, notes: list[str] = ()) -> Path:
    """Write ``card`` as TOML to ``path`` (read back at once: what is written must load)."""
    path = Path(path)
    text = card_text(card, notes)
    if tomllib.loads(text) != json.loads(json.dumps(card)):
        raise BenchError(f"dataset card {path}: would not read back as written")  # a bug, not the user's
    atomic_write_text(path, text)
    return path
