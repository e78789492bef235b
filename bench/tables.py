"""Tables rendered from the result files: Table 1 (quality), Table 2 (alignment).

Cells are mean ± standard deviation over splits. ``paper=True`` adds the published
numbers (package data transcribed from the IP-IQA paper) and our difference to them.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd
from tabulate import tabulate

from bench.metrics import METRICS, TABLE_METRICS, summarise
from bench.registry import family_tables, list_families

SUMMARY_METRICS = TABLE_METRICS  # the metrics shown as columns (bench.metrics.register_metric adds one)
FORMATS = ("markdown", "latex", "csv")
# Which target each dataset's Table 1 column shows (AGIQA-1k has only the combined MOS).
TABLE1_TARGET = {"agiqa1k": "mos"}
TABLE1_DEFAULT_TARGETS = ("mos_quality", "mos")
TABLE2_TARGET = "mos_align"
SIGN_NOTE = ("Correlations of lower-is-better methods (NIQE) are computed on negated scores, so a "
             "working method is positive; their paper values are shown as published and Δ "
             "compares with the paper's magnitude.")


def summarise_splits(per_split: pd.DataFrame) -> pd.DataFrame:
    rows = []
    keys = ["method", "dataset", "target"]
    for (method, dataset, target), part in per_split.groupby(keys, sort=False):
        row = {"method": method, "dataset": dataset, "target": target, "n_splits": len(part),
               "family": part["family"].iloc[0], "label": part["label"].iloc[0]}
        for metric in METRICS:
            row[f"{metric}_mean"], row[f"{metric}_std"] = summarise(part[metric])
        reasons = sorted(set(r for r in part.get("reason", []) if r))
        row["note"] = "; ".join(reasons)
        rows.append(row)
    return pd.DataFrame(rows)


def paper_numbers() -> pd.DataFrame:
    with resources.files("bench.data").joinpath("paper_tables.csv").open() as f:
        return pd.read_csv(f)


def paper_columns(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's numbers as ``paper_<metric>`` columns, one per shown metric; a metric the
    paper does not report (a registered extra one) gets an empty column."""
    paper = paper.rename(columns={m: f"paper_{m}" for m in SUMMARY_METRICS if m in paper.columns})
    return paper.assign(**{f"paper_{m}": float("nan") for m in SUMMARY_METRICS if f"paper_{m}" not in paper})


def with_paper(summary: pd.DataFrame, signs: dict[str, int]) -> pd.DataFrame:
    paper = paper_columns(paper_numbers()).drop_duplicates(["method", "dataset", "target"])
    base_label = summary["label"].str.replace(r" \[.*\]$", "", regex=True)
    merged = summary.assign(_paper_method=base_label).merge(
        paper[["method", "dataset", "target", *[f"paper_{m}" for m in SUMMARY_METRICS]]].rename(
            columns={"method": "_paper_method"}),
        on=["_paper_method", "dataset", "target"], how="left").drop(columns="_paper_method")
    for metric in SUMMARY_METRICS:
        reference = merged[f"paper_{metric}"].where(merged["method"].map(signs).fillna(1) > 0,
                                                    merged[f"paper_{metric}"].abs())
        merged[f"delta_{metric}"] = merged[f"{metric}_mean"] - reference
    return merged


def table1_target(dataset: str, targets: set[str]) -> str | None:
    if dataset in TABLE1_TARGET:
        return TABLE1_TARGET[dataset] if TABLE1_TARGET[dataset] in targets else None
    return next((t for t in TABLE1_DEFAULT_TARGETS if t in targets), None)


def layout_rows(summary: pd.DataFrame, table: int) -> pd.DataFrame:
    """The (method, dataset, target) rows a Table shows."""
    picked = []
    for dataset, part in summary.groupby("dataset", sort=True):
        target = table1_target(dataset, set(part["target"])) if table == 1 else TABLE2_TARGET
        # Table 2 shows every row scored on alignment (a deep row that predicts it: IPCE).
        shown = part["family"].map(lambda family: table in family_tables(family)).astype(bool) | (table == 2)
        part = part[(part["target"] == target) & shown]
        picked.append(part)
    return pd.concat(picked) if picked else summary.iloc[0:0]


def render(summary: pd.DataFrame, fmt: str = "markdown", paper: bool = False, table: int = 1) -> str:
    rows = layout_rows(summary, table)
    if rows.empty:
        return ""
    datasets = sorted(rows["dataset"].unique())
    order = {f.name: f.order for f in list_families()}
    index = rows[["family", "method", "label"]].drop_duplicates("method")
    index = index.sort_values(["family", "method"], key=lambda s: s.map(order) if s.name == "family" else s)
    headers = ["Family", "Method"]
    for dataset in datasets:
        target = rows.loc[rows["dataset"] == dataset, "target"].iloc[0]
        for metric in SUMMARY_METRICS:
            headers.append(f"{dataset} {target} {metric.upper()}")
            if paper:
                headers += ["paper", "Δ"]
    body = []
    for _, item in index.iterrows():
        line = [item["family"], item["label"]]
        for dataset in datasets:
            cell = rows[(rows["method"] == item["method"]) & (rows["dataset"] == dataset)]
            for metric in SUMMARY_METRICS:
                line.append(_mean_std(cell, metric))
                if paper:
                    line += [_number(cell, f"paper_{metric}"), _number(cell, f"delta_{metric}", signed=True)]
        body.append(line)
    style = "github" if fmt == "markdown" else "latex_booktabs"
    title = {1: "Table 1: perceptual quality", 2: "Table 2: text-to-image alignment"}[table]
    n = ", ".join(f"{d}: {int(rows[rows['dataset'] == d]['n_splits'].max())} splits" for d in datasets)
    if "srcc_ci_low" in rows:
        n += "; [95% t-interval of the mean]"
    text = tabulate(body, headers=headers, tablefmt=style, disable_numparse=True)
    if fmt == "markdown":
        return f"### {title} (mean ± std over splits; {n})\n\n{text}\n"
    return f"% {title} (mean ± std over splits; {n})\n{text}\n"


def _mean_std(cell: pd.DataFrame, metric: str) -> str:
    if cell.empty:
        return "–"
    mean, std = cell[f"{metric}_mean"].iloc[0], cell[f"{metric}_std"].iloc[0]
    if pd.isna(mean):
        return "NaN"
    text = f"{mean:.4f}" if pd.isna(std) else f"{mean:.4f} ± {std:.4f}"
    if f"{metric}_ci_low" in cell and pd.notna(cell[f"{metric}_ci_low"].iloc[0]):  # table --ci
        text += f" [{cell[f'{metric}_ci_low'].iloc[0]:.4f}, {cell[f'{metric}_ci_high'].iloc[0]:.4f}]"
    return text


def _number(cell: pd.DataFrame, column: str, signed: bool = False) -> str:
    if cell.empty or column not in cell or pd.isna(cell[column].iloc[0]):
        return "–"
    return f"{cell[column].iloc[0]:+.4f}" if signed else f"{cell[column].iloc[0]:.4f}"


def csv_table(summary: pd.DataFrame, paper: bool = False) -> str:
    columns = ["method", "dataset", "target", "n_splits"]
    for metric in SUMMARY_METRICS:
        columns += [f"{metric}_mean", f"{metric}_std"]
    if paper:
        columns += [f"paper_{m}" for m in SUMMARY_METRICS] + [f"delta_{m}" for m in SUMMARY_METRICS]
    columns += [c for m in SUMMARY_METRICS for c in (f"{m}_ci_low", f"{m}_ci_high") if c in summary]
    return summary[columns].to_csv(index=False, lineterminator="\n", float_format="%.6g")
