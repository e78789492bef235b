"""What each row cost, read from its run.json's ``cost`` (bench.results.cost): the columns
``table --cost`` adds and the report's SRCC-against-cost figure."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

COST_COLUMNS = {"seconds_per_image": "s/image", "train_s_per_split": "train s/split", "peak_rss_mb": "peak MB"}
CSV_COST = (*COST_COLUMNS, "peak_gpu_mb", "device", "measured_on")


def cost_frame(results) -> pd.DataFrame:
    """One row per (dataset, method): seconds per image, training seconds per split, peak
    resident MB (peak GPU MB where recorded), device and what the seconds were measured on.

    A row whose features another row extracted (an SVR on NIQE's features: the shared cache
    gave them, so its own run timed only the regressor's prediction) costs per image what
    that extraction cost: its seconds are the extracting row's, ``measured_on`` names it."""
    extracted = _extraction_seconds(results)
    rows = []
    for r in results:
        cost = dict(r.manifest.cost or {})
        found = extracted.get((r.dataset, r.manifest.feature_version))
        if cost.get("measured_on") == "prediction" and found and found[0] != r.method:
            cost["seconds_per_image"], cost["measured_on"] = found[1], f"features ({found[0]})"
        rows.append({"dataset": r.dataset, "method": r.method, "label": r.manifest.label,
                     **{key: cost.get(key) for key in COST_COLUMNS},
                     "peak_gpu_mb": cost.get("peak_gpu_mb"), "device": cost.get("device") or r.manifest.device,
                     "measured_on": cost.get("measured_on")})
    return pd.DataFrame(rows, columns=["dataset", "method", "label", *CSV_COST])


def _extraction_seconds(results) -> dict:
    """(dataset, ``<feature key>/<version>``) -> (the method that extracted them, its seconds
    per image), from the rows whose cost was measured on feature extraction (first by name)."""
    found = {}
    for r in sorted(results, key=lambda r: (r.dataset, r.method)):
        cost, features = r.manifest.cost or {}, r.manifest.features or {}
        if cost.get("measured_on") == "features" and cost.get("seconds_per_image") and features.get("key"):
            found.setdefault((r.dataset, f"{features['key']}/{features['version']}"), (r.method, cost["seconds_per_image"]))
    return found


def with_cost(summary: pd.DataFrame, results) -> pd.DataFrame:
    """The summary with the cost columns joined on dataset and method (CSV)."""
    costs = cost_frame(results).drop(columns="label")
    return summary.merge(costs, on=["dataset", "method"], how="left")


def render_cost(results, fmt: str = "markdown") -> str:
    """The cost table: a row per dataset and method ("" when no manifest recorded a cost)."""
    frame = cost_frame(results)
    if frame[list(COST_COLUMNS)].isna().all().all():
        return ""
    body = [[row["dataset"], row["label"], _figure(row["seconds_per_image"], 3), row["measured_on"] or "–",
             _figure(row["train_s_per_split"], 3), _figure(row["peak_rss_mb"], 4),
             _figure(row["peak_gpu_mb"], 4), row["device"] or "–"] for _, row in frame.iterrows()]
    headers = ["dataset", "method", "s/image", "measured on", "train s/split", "peak MB", "peak GPU MB", "device"]
    table = tabulate(body, headers=headers, tablefmt={"markdown": "github", "latex": "latex_booktabs"}.get(fmt, fmt),
                     disable_numparse=True)
    return ("Cost (from each run.json; seconds per image of feature extraction, its own or the row's named "
            "in 'measured on', or of prediction; "
            "mean training seconds per split, peak resident memory of the run):\n\n" + table)


def _figure(value, digits: int) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}g}"
