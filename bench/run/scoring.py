"""Scoring images outside the split protocol (``ipiqa-bench score``): a few images, or a CSV
of (image, prompt) pairs, with a training-free method or a trained row's checkpoint(s).

Rows are scored in chunks (``FeatureMethod.features_of_rows`` takes a chunk; a trained
method's ``predict`` takes one and batches inside). A chunk that fails is retried row by
row, so that one bad row costs only itself: it gets an error, the others their scores.
"""

from __future__ import annotations

import csv
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.config import resolve_config
from bench.errors import BenchError
from bench.method import FeatureMethod, Method, ScoreMethod
from bench.registry import create_method, get_method_info
from bench.results.checkpoints import read_checkpoint
from bench.results.manifest import RunManifest

log = logging.getLogger("ipiqa_bench")
CHUNK = 32  # rows per call: a batch for the method, a step of the progress bar
ERROR_COLUMN = "error"
STD_SUFFIX = "_std"  # the spread over several checkpoints (sample std, as the tables' ± over splits)


@dataclass
class Scored:
    """One row per input row: its columns, the predictions, and ``error`` ("" when scored)."""

    frame: pd.DataFrame
    failures: list[tuple[int, str]] = field(default_factory=list)  # (CSV line, message)
    seconds: float = 0.0


@dataclass
class _Scorer:
    """Fitted (or training-free) instances of one method, all scoring every row."""

    info: object
    instances: list[Method]
    checkpoints: list[Path]

    def predict(self, paths: list[str], prompts: list[str]) -> pd.DataFrame:
        first = self.instances[0]
        if isinstance(first, FeatureMethod):
            X = first.features_of_rows(paths, prompts)  # the extractor is the same in every checkpoint
            if isinstance(first, ScoreMethod) and not self.checkpoints:
                return pd.DataFrame({"score": X[:, first.score_column]})
            each = [pd.DataFrame(i.predict_features(X)) for i in self.instances]
        else:
            frame = pd.DataFrame({"image": [Path(p).name for p in paths], "path": paths, "prompt": prompts,
                                  "group": ""})
            each = [i.predict(frame).reset_index(drop=True) for i in self.instances]
        if len(each) == 1:
            return each[0]
        stacked = np.stack([e.to_numpy(dtype=float) for e in each])
        columns = list(each[0].columns)
        mean = pd.DataFrame(stacked.mean(axis=0), columns=columns)
        std = pd.DataFrame(stacked.std(axis=0, ddof=1), columns=[c + STD_SUFFIX for c in columns])
        return pd.concat([mean, std], axis=1)


def make_scorer(method: str | None, *, checkpoint: Path | None = None, from_dir: Path | None = None,
                split: int | None = None, device: str = "auto", config: dict | None = None) -> _Scorer:
    """``method`` training-free, or fitted from one ``checkpoint``, with ``config`` (else its
    default config); or from a results folder ``from_dir`` (``<results>/<dataset>/<method>``):
    its run's config, and the checkpoint of ``split`` or of every split (their predictions
    averaged)."""
    if from_dir is not None:
        manifest = RunManifest.read(Path(from_dir))
        if manifest is None:
            raise BenchError(f"{from_dir} has no run.json: pass a folder `run` wrote, results/<dataset>/<method>")
        if method and method != manifest.method:
            raise BenchError(f"{from_dir} holds {manifest.method!r}'s results, not {method!r}")
        method, config, checkpoints = manifest.method, dict(manifest.config), _checkpoints_of(Path(from_dir), split)
    else:
        if method is None:
            raise BenchError("name the method (--method) or a results folder (--from)")
        config, checkpoints = dict(config or {}), [Path(checkpoint)] if checkpoint is not None else []
    info = get_method_info(method)
    if info.trains and not checkpoints:
        raise BenchError(f"{method} is trained per split: pass --from results/<dataset>/{method} (or --checkpoint "
                         f"results/<dataset>/{method}/checkpoints/split_<k>.pt)")
    values = resolve_config(info, overrides={**config, "device": device}).values
    instances = [create_method(method, **values) for _ in checkpoints or [None]]
    for instance, path in zip(instances, checkpoints):
        _load(instance, path, method)
    for instance in instances:
        if getattr(instance, "image_cache", None):
            instance.image_cache = False  # images read once: decoded directly, the shared cache untouched
    return _Scorer(info, instances, checkpoints)


def _checkpoints_of(folder: Path, split: int | None) -> list[Path]:
    found = {int(m.group(1)): p for p in (folder / "checkpoints").glob("split_*.pt")
             if (m := re.fullmatch(r"split_(\d+)\.pt", p.name))}
    if not found:
        raise BenchError(f"{folder} has no checkpoints (checkpoints/split_<k>.pt): its method writes none, "
                         "or its run did not finish a split")
    if split is None:
        return [found[k] for k in sorted(found)]
    if split not in found:
        raise BenchError(f"{folder} has no checkpoint of split {split}; it has splits {sorted(found)}")
    return [found[split]]


def _load(instance: Method, path: Path, method: str) -> None:
    data = read_checkpoint(path)  # verified against its sidecar
    try:
        instance.load_checkpoint(data)
    except NotImplementedError as exc:
        raise BenchError(str(exc)) from None
    except BenchError as exc:
        raise BenchError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  (a checkpoint of the right format but another network's shapes)
        raise BenchError(f"{path} does not fit {method}: {str(exc).splitlines()[0]}; pass a checkpoint "
                         f"written by `ipiqa-bench run --methods {method}`") from None


def score_rows(scorer: _Scorer, paths: list[str], prompts: list[str], desc: str = "score") -> tuple[pd.DataFrame, list[str]]:
    """Predictions (one row per path; NaN where it failed) and each row's error ("" if none)."""
    errors = [_precheck(scorer.info, p, q) for p, q in zip(paths, prompts)]
    parts: list[pd.DataFrame] = []
    with tqdm(total=len(paths), desc=desc, unit="image", file=sys.stderr, disable=None) as bar:
        for start in range(0, len(paths), CHUNK):
            rows = [i for i in range(start, min(start + CHUNK, len(paths))) if not errors[i]]
            if rows:
                predicted, failed = _predict_robustly(scorer, [paths[i] for i in rows], [prompts[i] for i in rows])
                parts.append(predicted.set_axis(rows))
                for i, message in zip(rows, failed):
                    errors[i] = message
            bar.update(min(CHUNK, len(paths) - start))
    predicted = pd.concat(parts) if parts else pd.DataFrame()
    return predicted.reindex(range(len(paths))), errors


def _precheck(info, path: str, prompt: str) -> str:
    """What is wrong with a row before any image is read ("" when nothing)."""
    if not Path(path).is_file():
        return f"image not found: {path}"
    if info.uses_prompt and not str(prompt).strip():
        return f"empty prompt ({info.name} scores an image against its prompt)"
    return ""


def _predict_robustly(scorer: _Scorer, paths: list[str], prompts: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The chunk's predictions; when it fails, row by row, each failure its row's error."""
    try:
        return scorer.predict(paths, prompts), [""] * len(paths)
    except Exception as exc:  # noqa: BLE001  (one bad image must not cost the others)
        if len(paths) == 1:
            return pd.DataFrame(index=range(1)), [_message(exc, scorer.info.name, paths[0])]
    parts, errors = zip(*(_predict_robustly(scorer, [p], [q]) for p, q in zip(paths, prompts)))
    return pd.concat(parts, ignore_index=True), [e for part in errors for e in part]


def _message(exc: Exception, method: str, path: str) -> str:
    if isinstance(exc, BenchError):
        return str(exc)  # names its file (e.g. an unreadable image)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first} ({method} on image {path})"


def read_pairs(path: Path) -> pd.DataFrame:
    """The pairs CSV as text columns, with ``line`` (its 1-based line in the file, the header
    being line 1) and ``path`` (the image, relative to the CSV's folder unless absolute)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows, lines = [], []
            start = 2
            for row in reader:
                rows.append(row)
                lines.append(start)
                start = reader.line_num + 1
            columns = reader.fieldnames or []
    except UnicodeDecodeError:
        raise BenchError(f"{path} is not UTF-8 text; save the pairs as a UTF-8 CSV") from None
    if "image" not in columns:
        raise BenchError(f"{path} has no 'image' column (columns: {', '.join(columns) or 'none'}); "
                         "expected image, prompt and any others")
    frame = pd.DataFrame(rows, columns=columns).fillna("")
    resolved = [str(p if Path(p).is_absolute() else path.parent / p) if p else "" for p in frame["image"]]
    return frame.assign(line=lines, path=resolved)


def score_pairs(method: str | None, pairs: Path, *, checkpoint: Path | None = None, from_dir: Path | None = None,
                split: int | None = None, device: str = "auto") -> Scored:
    """Every (image, prompt) row of ``pairs`` scored; a row that fails gets an error, the others scores."""
    frame = read_pairs(pairs)
    scorer = make_scorer(method, checkpoint=checkpoint, from_dir=from_dir, split=split, device=device)
    if scorer.info.uses_prompt and "prompt" not in frame:
        raise BenchError(f"{pairs} has no 'prompt' column, and {scorer.info.name} scores images against prompts")
    prompts = list(frame["prompt"]) if "prompt" in frame else [""] * len(frame)
    started = time.perf_counter()
    predicted, errors = score_rows(scorer, list(frame["path"]), prompts, desc=scorer.info.name)
    seconds = time.perf_counter() - started
    carried = frame.drop(columns=["line", "path"])
    predicted = predicted.rename(columns=lambda c: f"pred_{c}" if c in carried else c)
    out = pd.concat([carried, predicted, pd.Series(errors, name=ERROR_COLUMN)], axis=1)
    failures = [(int(line), e) for line, e in zip(frame["line"], errors) if e]
    return Scored(out, failures, seconds)


def score_images(scorer: _Scorer, images: list[Path], prompt: str = "", prompts: list[str] | None = None) -> pd.DataFrame:
    """One row per image (``prompts``: one per image, else ``prompt`` for all); the first
    image that fails raises its error."""
    if prompts is not None and len(prompts) != len(images):
        raise BenchError(f"{len(prompts)} prompts for {len(images)} images: give one prompt per image")
    prompts = list(prompts) if prompts is not None else [prompt] * len(images)
    paths = [str(p) for p in images]
    predicted, errors = score_rows(scorer, paths, prompts, desc=scorer.info.name)
    failed = next((e for e in errors if e), "")
    if failed:
        raise BenchError(failed)
    columns = {"image": [Path(p).name for p in paths]}
    if any(prompts):
        columns["prompt"] = prompts
    return pd.concat([pd.DataFrame(columns), predicted], axis=1)
