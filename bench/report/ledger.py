"""The reproduction ledger: per row the paper compares with, our mean and its 95% t-interval
over the row's splits, the paper's figure, the difference, whether the figure lies in the
interval, and the public reports of others who could not reproduce a published figure
(``bench/data/reproduction_reports.csv``: each one read in its thread, cited by URL, its
figures as the reporter wrote them).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd
from tabulate import tabulate

from bench.report.tables import PAPER_SPLITS, interval_note, paper_inside

LEDGER_METRICS = ("srcc", "plcc")


def reproduction_reports() -> pd.DataFrame:
    with resources.files("bench.data").joinpath("reproduction_reports.csv").open() as f:
        return pd.read_csv(f, dtype=str)


def paper_name(label: str) -> str:
    """A row's label without its protocol tag ("IP-IQA [best epoch on test set]" -> "IP-IQA")."""
    return label.split(" [")[0]


def render_ledger(rows: pd.DataFrame, reports: pd.DataFrame | None = None) -> str:
    """``rows``: a summary with the paper's columns (tables.with_paper) and intervals
    (significance.confidence_intervals). "" when no row has a paper figure."""
    reports = reproduction_reports() if reports is None else reports
    rows = rows[rows["paper_srcc"].notna()].sort_values(["dataset", "target", "label"])
    if rows.empty:
        return ""
    kind = rows["plcc_kind"].iloc[0] if "plcc_kind" in rows else "logistic"
    headers = ["dataset", "target", "row", "splits"]
    for metric in LEDGER_METRICS:
        name = "SRCC" if metric == "srcc" else f"PLCC ({kind})"
        headers += [f"{name} mean [95% CI]", "paper", "Δ", "paper in CI"]
    body = []
    for _, row in rows.iterrows():
        line = [row["dataset"], row["target"], row["label"], int(row["n_splits"])]
        for metric in LEDGER_METRICS:
            inside = paper_inside(row.to_frame().T, metric).iloc[0]
            line += [_interval(row, metric), _value(row[f"paper_{metric}"]), _value(row[f"delta_{metric}"], True),
                     "–" if pd.isna(inside) else ("yes" if inside else "no")]
        body.append(line)
    out = [tabulate(body, headers=headers, tablefmt="github", disable_numparse=True), ""]
    if rows["n_splits"].min() < PAPER_SPLITS:
        out += [interval_note(rows["n_splits"]), ""]
    out += _reports_section(rows, reports)
    return "\n".join(out)


def _reports_section(rows: pd.DataFrame, reports: pd.DataFrame) -> list[str]:
    keys = {(paper_name(r["label"]), r["dataset"], r["target"]): r["label"] for _, r in rows.iterrows()}
    lines, others = ["Public reports of non-reproduction (bench/data/reproduction_reports.csv):", ""], []
    for _, report in reports.iterrows():
        row = keys.get((report["method"], report["dataset"], report["target"]))
        text = f"[{report['source']}]({report['url']}): {report['reported']}. {report['says']}"
        if row is not None:
            lines.append(f"- **{row}** on {report['dataset']} `{report['target']}` — {text}")
        else:
            others.append(f"- {report['method']} on {report['dataset']} `{report['target']}` — {text}")
    if len(lines) == 2:
        lines.append("- none for the rows above.")
    if others:
        lines += ["", "On the same datasets, for methods that are not rows here:", "", *others]
    return lines


def _interval(row: pd.Series, metric: str) -> str:
    mean, low, high = row[f"{metric}_mean"], row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    if pd.isna(mean):
        return "NaN"
    return f"{mean:.4f}" + ("" if pd.isna(low) else f" [{low:.4f}, {high:.4f}]")


def _value(value, signed: bool = False) -> str:
    return "–" if pd.isna(value) else (f"{value:+.4f}" if signed else f"{value:.4f}")
