"""The HTML report's leaderboard rows: one per (dataset, target, method) of the summary
``table --paper --ci`` prints, with what the page needs beside the numbers: the row's
protocol in words, whether it is comparable to the paper (and why not), family, fidelity,
trained or zero-shot, its per-split SRCC, its cost per image (as ``table --cost`` gives it:
bench.report.cost.cost_frame), its sanity panel (sanity.json, where
`sanity --results-dir` wrote one), and links to its files.

Numbers are never recomputed here: they are the summary's cells
(bench.report.tables.with_paper, bench.report.significance.confidence_intervals).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from bench.registry import get_method_info
from bench.report.cost import cost_frame
from bench.report.tables import PAPER_DATASET_SIZE, SMALL_DATA_SHARE, SUMMARY_METRICS
from bench.results.loading import MethodResults
from bench.results.store import MANIFEST
from bench.run.sanity import PANEL_FILE, read_panel

# Columns a summary may carry about training data overlapping the test images; shown when present.
CONTAMINATION_COLUMNS = ("contamination", "trained_on")
CLEAN = ("", "none", "no", "false", "0", "nan")  # contamination values that say there is none


@dataclass
class Row:
    dataset: str
    target: str
    method: str
    label: str
    family: str
    fidelity: str  # faithful, reimplementation, approximation, variant, unstated, unregistered
    trained: str  # trained, zero-shot, unknown
    cells: pd.Series  # the summary row, as `table --format csv` has it
    protocol: list[tuple[str, str]]  # (name, value) in words
    not_comparable: list[str]  # why the paper's figure is not a like-for-like reference ([] = comparable)
    split_srcc: list[tuple[int, float]]
    manifest_link: str
    prediction_links: list[tuple[int, str]]
    seconds_per_image: float | None = None
    cost_measured_on: str | None = None  # what the seconds were measured on (cost_frame's measured_on)
    paper_in_ci: dict[str, bool | None] = field(default_factory=dict)  # metric -> inside our 95% interval
    sanity: dict | None = None  # the (dataset, method)'s sanity panel, as sanity.json has it
    sanity_link: str | None = None

    @property
    def key(self) -> str:
        return f"{self.dataset}|{self.target}|{self.method}"

    @property
    def comparable(self) -> bool:
        return not self.not_comparable


def leaderboard_rows(summary: pd.DataFrame, results: list[MethodResults], per_split: pd.DataFrame,
                     results_dir: Path, out: Path) -> list[Row]:
    """Every summary row, best mean SRCC first within each dataset and target."""
    by_key = {(r.dataset, r.method): r for r in results}
    costs = cost_frame(results).set_index(["dataset", "method"])
    ordered = summary.sort_values(["dataset", "target", "srcc_mean", "method"],
                                  ascending=[True, True, False, True], na_position="last")
    rows = []
    for _, cells in ordered.iterrows():
        result = by_key[cells["dataset"], cells["method"]]
        info = _registered(cells["method"])
        split = per_split[(per_split["dataset"] == cells["dataset"]) & (per_split["method"] == cells["method"])
                          & (per_split["target"] == cells["target"])].sort_values("split")
        folder = Path(results_dir) / cells["dataset"] / cells["method"]
        panel = read_panel(folder)
        cost = costs.loc[(cells["dataset"], cells["method"])]
        rows.append(Row(
            dataset=cells["dataset"], target=cells["target"], method=cells["method"], label=cells["label"],
            family=cells["family"], fidelity=info.fidelity_kind if info else "unregistered",
            trained=_trained(info, result), cells=cells, protocol=protocol_items(cells, result),
            not_comparable=not_comparable(cells), split_srcc=list(zip(split["split"], split["srcc"])),
            manifest_link=relative_link(folder / MANIFEST, out),
            prediction_links=[(k, relative_link(folder / f"split_{k}.csv", out)) for k in sorted(result.predictions)],
            seconds_per_image=_positive(cost["seconds_per_image"]),
            cost_measured_on=cost["measured_on"] if _present(cost["measured_on"]) else None, paper_in_ci=paper_inside_interval(cells),
            sanity=panel, sanity_link=relative_link(folder / PANEL_FILE, out) if panel is not None else None))
    return rows


def _registered(method: str):
    try:
        return get_method_info(method)
    except Exception:  # results of a method not registered here: shown, without registry facts
        return None


def _trained(info, result: MethodResults) -> str:
    if info is not None:
        return "trained" if info.trains else "zero-shot"
    if any(s.checkpoint_sha256 for s in result.manifest.splits.values()):
        return "trained"
    return "unknown"


def relative_link(target: Path, start: Path) -> str:
    """``target`` as a URL relative to the folder ``start`` (the report opens from file://)."""
    path = os.path.relpath(Path(target).resolve(), Path(start).resolve())
    return quote(Path(path).as_posix())


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value) != ""


def protocol_items(cells: pd.Series, result: MethodResults) -> list[tuple[str, str]]:
    """The row's protocol in words, in the order a reader checks it."""
    config = result.manifest.config or {}
    done, total = int(cells["n_splits"]), cells.get("n_splits_total")
    items = [("splits", f"{done}/{int(total)}" if _present(total) else str(done)),
             ("PLCC kind", str(cells.get("plcc_kind", "logistic"))),
             ("epoch selection", str(cells["selection"]) if _present(cells.get("selection")) else "–"),
             ("recipe", str(config["recipe"]) if _present(config.get("recipe")) else "–"),
             ("preset", str(cells["preset"]) if _present(cells.get("preset")) else "–")]
    if _present(cells.get("miniature")):
        items.append(("miniature", str(cells["miniature"])))
    overrides = str(cells["overrides"]) if _present(cells.get("overrides")) else "none"
    if overrides != "none" and cells.get("overrides_from") == "inferred":
        overrides += " (inferred from the method's current defaults)"
    items.append(("overrides", overrides))
    if _present(cells.get("images")):
        dropped = int(cells["dropped"]) if _present(cells.get("dropped")) else 0
        items.append(("images", f"{int(cells['images'])} used" + (f", {dropped} dropped" if dropped else "")))
    for column in CONTAMINATION_COLUMNS:
        if column in cells.index:
            items.append((column.replace("_", " "), str(cells[column]) if _present(cells[column]) else "–"))
    items.append(("split seed, test share", f"{result.manifest.seed}, {result.manifest.test_size}"))
    return items


def not_comparable(cells: pd.Series) -> list[str]:
    """Why the paper's figure is not a like-for-like reference for this row ([]: it is)."""
    reasons = []
    if not _present(cells.get("paper_srcc")):
        reasons.append("no paper figure for this method, dataset and target (or the method departs from the published one)")
    if _present(cells.get("miniature")):
        reasons.append(str(cells["miniature"]))
    total = cells.get("n_splits_total")
    if _present(total) and int(cells["n_splits"]) < int(total):
        reasons.append(f"{int(cells['n_splits'])} of {int(total)} splits done")
    if cells.get("selection") == "best-on-test":
        reasons.append("epoch selected on the test set")
    size = PAPER_DATASET_SIZE.get(cells["dataset"])
    if size and _present(cells.get("images")) and cells["images"] < SMALL_DATA_SHARE * size:
        reasons.append(f"{int(cells['images'])} images, the paper used {size}")
    for column in CONTAMINATION_COLUMNS[:1]:
        if column in cells.index and str(cells[column]).strip().lower() not in CLEAN:
            reasons.append(f"contamination: {cells[column]}")
    return reasons


def paper_inside_interval(cells: pd.Series) -> dict[str, bool | None]:
    """Per metric: does the paper's figure (in our working direction, i.e. our mean minus Δ)
    lie inside our 95% t-interval over splits? None where either is missing."""
    out = {}
    for metric in SUMMARY_METRICS:
        mean, delta = cells.get(f"{metric}_mean"), cells.get(f"delta_{metric}")
        low, high = cells.get(f"{metric}_ci_low"), cells.get(f"{metric}_ci_high")
        if not all(_present(v) for v in (mean, delta, low, high)):
            out[metric] = None
            continue
        reference = mean - delta
        out[metric] = bool(low <= reference <= high)
    return out


def _positive(value) -> float | None:
    """``value`` as a positive finite float, or None."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None
