"""The sanity panel: does a method give the same scores when nothing that should matter
changes? On a small sample of a dataset's images, each check scores the images twice and
compares the two score vectors, in every column the method predicts (a score, or one per
target of a trained row; the worst column gives the verdict):

* batch: all images in one call (each with its own prompt) vs one image per call;
* jpeg: the decoded images saved as PNG vs re-encoded as JPEG quality 95 (a real change of
  the pixels: the tolerance is loose, and ranks are what should hold);
* rerun: the same call twice, compared bitwise;
* threads: one thread (BLAS via threadpoolctl, torch when loaded) vs the default count;
* order: the images in reverse order (scores put back in place);
* cpu-gpu: device cpu vs cuda, where torch is loaded and a GPU is present.

Each check holds when max |Δ| is within its tolerance, a fraction of the reference scores'
range (0 for the bitwise rerun), and reports Spearman's rho and the largest rank
displacement between the two vectors. Trained methods need a checkpoint to score with.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.stats import spearmanr

from bench.datasets import load_dataset
from bench.errors import BenchError
from bench.images import load_rgb
from bench.config import resolve_config
from bench.registry import get_method_info
from bench.results.completion import checkpoint_path
from bench.results.cost import blas_info, machine
from bench.results.manifest import RunManifest, git_commit, package_versions
from bench.results.store import MANIFEST
from bench.run.scoring import make_scorer, score_images

PANEL_FILE = "sanity.json"
# max |Δ| allowed, as a fraction of the reference scores' range (0: bitwise)
TOLERANCES = {"batch": 1e-6, "jpeg": 0.05, "rerun": 0.0, "threads": 1e-6, "order": 1e-6, "cpu-gpu": 1e-3}


@dataclass
class Check:
    name: str
    status: str  # holds | differs | skipped
    tolerance: float  # fraction of the score range
    max_abs_diff: float | None = None
    score_range: float | None = None
    spearman: float | None = None
    max_rank_shift: int | None = None  # positions the most-moved image moved in the ranking
    note: str = ""


def sample_images(dataset: str = "demo", n: int = 16, root: str | Path | None = None) -> pd.DataFrame:
    """``n`` images spread evenly over the dataset sorted by name (deterministic)."""
    frame = load_dataset(dataset, root).frame.sort_values("image").reset_index(drop=True)
    if n < 2:
        raise BenchError(f"--n {n}: the panel compares rankings, so it needs at least 2 images")
    picks = np.unique(np.linspace(0, len(frame) - 1, min(n, len(frame))).round().astype(int))
    return frame.iloc[picks].reset_index(drop=True)


def compare(name: str, reference: np.ndarray, other: np.ndarray, note: str = "") -> Check:
    """The verdict of one check on two score vectors of the same images."""
    tolerance = TOLERANCES[name]
    reference, other = np.asarray(reference, float), np.asarray(other, float)
    spread = float(np.nanmax(reference) - np.nanmin(reference)) if reference.size else 0.0
    diff = np.abs(reference - other)
    same_nan = np.isnan(reference) == np.isnan(other)
    max_diff = float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0
    if tolerance == 0.0:
        holds = bool(same_nan.all() and np.array_equal(reference[~np.isnan(reference)], other[~np.isnan(other)]))
    else:
        holds = bool(same_nan.all() and max_diff <= tolerance * max(spread, np.finfo(float).tiny))
    both = ~(np.isnan(reference) | np.isnan(other))
    varies = both.sum() > 1 and np.ptp(reference[both]) > 0 and np.ptp(other[both]) > 0
    rho = spearmanr(reference[both], other[both]).statistic if varies else np.nan  # undefined on a constant
    shift = int(np.abs(_ranks(reference) - _ranks(other)).max()) if len(reference) else 0
    return Check(name, "holds" if holds else "differs", tolerance, max_diff, spread,
                 None if np.isnan(rho) else round(float(rho), 6), shift, note)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(len(values))
    return ranks


def row_setup(method: str, dataset: str, results_dir: str | Path | None,
              checkpoint) -> tuple[dict, str, Path | None, int | None]:
    """What the row is scored with: the config its run recorded (``<results>/<dataset>/<method>/
    run.json``), else the one ``run`` would use on ``dataset`` (its preset, e.g. the demo's
    stand-in CLIP); and, when none is given, a trained row's checkpoint from there: split 0's,
    else the first split's that has one. The last item is that split (None for a given one)."""
    folder = Path(results_dir) / dataset / method if results_dir is not None else None
    manifest = RunManifest.read(folder) if folder is not None and (folder / MANIFEST).is_file() else None
    if manifest is not None:
        config, source = dict(manifest.config), str(folder / MANIFEST)
    else:
        resolved = resolve_config(method, dataset=dataset)
        config, source = resolved.values, f"preset {resolved.preset}" if resolved.preset else "defaults"
    split = None
    if checkpoint is None and folder is not None and get_method_info(method).trains:
        splits = sorted(set(manifest.splits) | set(range(manifest.n_splits))) if manifest is not None else [0]
        split = next((k for k in splits if checkpoint_path(folder, k).is_file()), None)
        checkpoint = checkpoint_path(folder, split) if split is not None else None
    return config, source, checkpoint, split


def _scores(method: str, paths: list[str], prompts: list[str], checkpoint, device: str, batched: bool,
            config: dict) -> pd.DataFrame:
    """Every predicted column (``score``, or one per target), a row per image: every image in
    one call, each with its own prompt (batched), or one call per image."""
    scorer = make_scorer(method, checkpoint=checkpoint, device=device, config=config)
    if batched:
        return _predicted(score_images(scorer, paths, prompts=prompts))
    return pd.concat([_predicted(score_images(scorer, [path], prompts=[prompt]))
                      for path, prompt in zip(paths, prompts)], ignore_index=True)


def _predicted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in ("image", "prompt") if c in frame]).astype(float).reset_index(drop=True)


def compare_columns(name: str, reference: pd.DataFrame, other: pd.DataFrame, note: str = "") -> Check:
    """``compare`` on every predicted column; the verdict of the worst (one that differs, else the
    largest max |Δ| relative to its range), named in the note where there are several."""
    several = len(reference.columns) > 1
    checks = [compare(name, reference[c].to_numpy(), other[c].to_numpy(),
                      "; ".join(filter(None, [note, f"worst of {', '.join(reference.columns)}: {c}"]))
                      if several else note)
              for c in reference.columns]
    return max(checks, key=lambda c: (c.status == "differs", _relative(c.max_abs_diff, c.score_range)))


def _relative(diff: float | None, spread: float | None) -> float:
    if not diff:
        return 0.0
    return diff / spread if spread else float("inf")


@contextlib.contextmanager
def one_thread():
    """BLAS/OpenMP limited to one thread, and torch's intra-op threads where torch is loaded."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    with limits:
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def _reencoded(rows: pd.DataFrame, folder: Path) -> tuple[list[str], list[str]]:
    """Each image decoded and saved twice: as PNG (lossless) and as JPEG quality 95."""
    png, jpeg = [], []
    for i, path in enumerate(rows["path"]):
        image = Image.fromarray(load_rgb(path))
        png.append(str(folder / f"{i:03d}.png"))
        jpeg.append(str(folder / f"{i:03d}.jpg"))
        image.save(png[-1])
        image.save(jpeg[-1], quality=95)
    return png, jpeg


def run_panel(method: str, dataset: str = "demo", n: int = 16, root: str | Path | None = None,
              checkpoint: str | Path | None = None, device: str = "cpu", results_dir: str | Path | None = None) -> dict:
    """The panel as a JSON-ready dict: what was checked, where, and each check's verdict. With
    ``results_dir``, the row as it ran there (bench.run.sanity.row_setup)."""
    info = get_method_info(method)
    rows = sample_images(dataset, n, root)
    config, config_source, checkpoint, split = row_setup(method, dataset, results_dir, checkpoint)
    panel = {"method": method, "dataset": dataset, "n_images": len(rows), "images": rows["image"].tolist(),
             "checkpoint": str(checkpoint) if checkpoint else None, "checkpoint_split": split,
             "config_from": config_source, "device": device,
             "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "git_commit": git_commit()}
    if info.trains and checkpoint is None:
        note = (f"needs --checkpoint: {method} is trained per split (e.g. "
                f"results/{dataset}/{method}/checkpoints/split_0.pt from `ipiqa-bench run`)")
        panel["checks"] = [asdict(Check(name, "skipped", tol, note=note)) for name, tol in TOLERANCES.items()]
        return {**panel, "versions": package_versions(), "machine": machine()}
    paths, prompts = rows["path"].astype(str).tolist(), rows["prompt"].fillna("").astype(str).tolist()

    def score(paths=paths, prompts=prompts, batched=True, on=device):
        return _scores(method, paths, prompts, checkpoint, on, batched, config)

    reference = score()
    checks = [compare_columns("batch", reference, score(batched=False), f"{len(rows)} images per call vs 1")]
    with tempfile.TemporaryDirectory(prefix="ipiqa-sanity-") as tmp:
        png, jpeg = _reencoded(rows, Path(tmp))
        checks.append(compare_columns("jpeg", score(png), score(jpeg), "decoded images saved as PNG vs JPEG q95"))
    checks.append(compare_columns("rerun", reference, score(), "the same call twice, bitwise"))
    with one_thread():
        single = score()
    checks.append(compare_columns("threads", reference, single, f"1 thread vs the default ({_threads()})"))
    reverse = score(paths[::-1], prompts[::-1]).iloc[::-1].reset_index(drop=True)
    checks.append(compare_columns("order", reference, reverse, "images in reverse order"))
    checks.append(_cpu_gpu(reference if device == "cpu" else None, score))
    panel["checks"] = [asdict(c) for c in checks]
    return {**panel, "versions": package_versions(), "machine": machine()}


def _threads() -> str:
    torch = sys.modules.get("torch")
    blas = ", ".join(f"{b['internal_api']} {b.get('num_threads', '?')}" for b in blas_info())
    return ", ".join(filter(None, [f"torch {torch.get_num_threads()}" if torch is not None else "", blas])) or "default"


def _cpu_gpu(cpu_scores, score) -> Check:
    torch = sys.modules.get("torch")  # loaded by the method if it runs on torch at all
    if torch is None:
        return Check("cpu-gpu", "skipped", TOLERANCES["cpu-gpu"], note="skipped: the method does not use torch")
    if not torch.cuda.is_available():
        return Check("cpu-gpu", "skipped", TOLERANCES["cpu-gpu"], note="skipped: no GPU")
    cpu = cpu_scores if cpu_scores is not None else score(on="cpu")
    return compare_columns("cpu-gpu", cpu, score(on="cuda"), f"cpu vs cuda ({torch.cuda.get_device_name()})")


# A check's fields as report.md and index.html show them: (key in sanity.json, header)
CHECK_COLUMNS = (("name", "check"), ("status", "status"), ("max_abs_diff", "max |Δ|"), ("score_range", "range"),
                 ("tolerance", "tolerance"), ("spearman", "Spearman rho"), ("max_rank_shift", "max rank shift"),
                 ("note", "note"))
TOLERANCE_NOTE = "tolerance: max |Δ| as a fraction of the scores' range (0: bitwise)"


def check_rows(panel: dict) -> list[dict[str, str]]:
    """Each check of a panel as text, keyed as in sanity.json (CHECK_COLUMNS), "–" where a check
    has no value (a skipped one); a skipped check's note without its "skipped: "."""
    def text(value, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    return [{"name": c["name"], "status": c["status"], "max_abs_diff": text(c["max_abs_diff"], ".3g"),
             "score_range": text(c["score_range"], ".3g"), "tolerance": text(c["tolerance"], "g"),
             "spearman": text(c["spearman"], ".4f"), "max_rank_shift": text(c["max_rank_shift"], "d"),
             "note": c["note"].removeprefix("skipped: ") if c["status"] == "skipped" else c["note"]}
            for c in panel["checks"]]


def panel_heading(panel: dict) -> str:
    """What the panel scored: the method, how many images of which dataset, the device, and
    which split's checkpoint where it took one from the results (saying so where not split 0's)."""
    split = panel.get("checkpoint_split")
    checkpoint = "" if split is None else f", checkpoint of split {split}" + (" (split 0 has none)" if split else "")
    return (f"sanity of {panel['method']} on {panel['n_images']} {panel['dataset']} image(s), "
            f"device {panel['device']}{checkpoint}")


def render_panel(panel: dict) -> str:
    """The panel as lines of text: one per check."""
    scored = "; ".join(f"{key} {panel[key]}" for key in ("config_from", "checkpoint") if panel.get(key))
    lines = [f"{panel_heading(panel)}; {TOLERANCE_NOTE}" + (f"\n  ({scored})" if scored else "")]
    for c in check_rows(panel):
        if c["status"] == "skipped":
            lines.append(f"  {c['name']:<8} skipped: {c['note']}")
            continue
        lines.append(f"  {c['name']:<8} {c['status']:<7} max|Δ| {c['max_abs_diff']} (range {c['score_range']}, "
                     f"tolerance {c['tolerance']}); Spearman {c['spearman']}; max rank shift {c['max_rank_shift']}"
                     f" — {c['note']}")
    return "\n".join(lines)


def read_panel(method_dir: Path) -> dict | None:
    """The panel written beside a method's results, or None."""
    path = Path(method_dir) / PANEL_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path} is not a sanity panel ({exc}); delete it or rerun `ipiqa-bench sanity`") from None
