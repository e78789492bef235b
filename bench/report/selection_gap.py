"""The selection gap: the run's honest figure beside the figure an oracle picking the epoch on
the test set would report, from the same training (``table --selection-gap``).

A trainable run records every epoch's test metrics (bench.train.epoch_metrics) in each split's
report. The honest figure is the split's own metric (the predictions of the epoch the run's
selection chose); the best-on-test figure is the recorded metric of the epoch that maximises
the public IP-IQA code's criterion (SRCC + PLCC raw + KRCC, averaged over the targets one model
predicts; bench.train.loop.selection_score) on the test side. Their difference, mean ± std
over the splits, is how much choosing on the test set would flatter the row. A row run with
``--selection best-on-test`` has a gap of 0 by construction and keeps its label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.results.loading import MethodResults
from bench.results.metrics import summarise

GAP_METRICS = ("srcc", "plcc")
NO_RECORD = "no per-epoch test record (run before record_epoch_metrics existed, or not trainable)"


def best_on_test_epoch(epochs: list[dict], targets: list[str]) -> int:
    """The 0-based epoch the best-on-test policy would keep: the first with the highest criterion."""
    criterion = [np.mean([e[t]["srcc"] + e[t]["plcc_raw"] + e[t]["krcc"] for t in targets]) for e in epochs]
    criterion = np.where(np.isfinite(criterion), criterion, -np.inf)
    return int(np.argmax(criterion))


def epoch_figures(result: MethodResults, plcc: str) -> tuple[pd.DataFrame, str]:
    """One row per split and target with the best-on-test epoch's SRCC and PLCC (the table's kind;
    NaN for a kind not recorded per epoch), and "" or why the run has none."""
    rows, reasons = [], set()
    for k in sorted(result.predictions):
        record = result.manifest.splits.get(k)
        report = (record.report if record is not None else None) or {}
        models = report.get("models") or {}
        if not any(m.get("epoch_test") for m in models.values()):
            reasons.add(report.get("epoch_test_not_recorded", NO_RECORD))
            continue
        for group, model in models.items():
            targets = group.split(",")
            best = best_on_test_epoch(model["epoch_test"], targets)
            for target in targets:
                figures = model["epoch_test"][best][target]
                rows.append({"split": k, "target": target, "best_epoch": best + 1,
                             "chosen_epoch": model.get("selected_epoch"),
                             "best_srcc": result.manifest.sign * figures["srcc"],
                             "best_plcc": result.manifest.sign * figures.get(f"plcc_{plcc}", np.nan)})
    return pd.DataFrame(rows), "; ".join(sorted(reasons))


def selection_gap(results: list[MethodResults], per_split: pd.DataFrame, plcc: str) -> pd.DataFrame:
    """Per method, dataset and target: honest and best-on-test SRCC/PLCC and their gap (mean, std
    over the splits that recorded epochs), or a ``note`` saying why the row has none."""
    out = []
    for r in results:
        best, reason = epoch_figures(r, plcc)
        honest = per_split[(per_split["method"] == r.method) & (per_split["dataset"] == r.dataset)]
        for target, mine in honest.groupby("target", sort=False):
            row = {"method": r.method, "dataset": r.dataset, "target": target, "label": mine["label"].iloc[0],
                   "selection": r.manifest.config.get("selection") or "–", "plcc_kind": plcc, "note": reason}
            joined = mine.merge(best[best["target"] == target], on=["split", "target"]) if len(best) else best
            row["n_splits"] = len(joined)
            for metric in GAP_METRICS:
                if len(joined):
                    gap = joined[f"best_{metric}"] - joined[metric]
                    row[f"{metric}_mean"], row[f"{metric}_std"] = summarise(joined[metric])
                    row[f"best_{metric}_mean"], row[f"best_{metric}_std"] = summarise(joined[f"best_{metric}"])
                    row[f"gap_{metric}_mean"], row[f"gap_{metric}_std"] = summarise(gap)
            if len(joined):
                row["epochs"] = f"{_epochs(joined['chosen_epoch'])} / {_epochs(joined['best_epoch'])}"
            out.append(row)
    return pd.DataFrame(out)


def _epochs(values: pd.Series) -> str:
    values = values.dropna().astype(int)
    return "–" if values.empty else f"{values.median():g}" if values.nunique() > 1 else str(values.iloc[0])


def render_selection_gap(gap: pd.DataFrame, fmt: str = "markdown") -> str:
    if gap.empty:
        return ""
    if fmt == "csv":
        return gap.to_csv(index=False, lineterminator="\n", float_format="%.6g")
    kind = gap["plcc_kind"].iloc[0]
    headers = ["dataset", "method", "target", "selection", "splits", "chosen / best epoch (median)"]
    for metric in GAP_METRICS:
        name = "SRCC" if metric == "srcc" else f"PLCC ({kind})"
        headers += [f"{name} honest", f"{name} best-on-test", f"{name} gap"]
    body = []
    for row in gap.sort_values(["dataset", "method", "target"]).itertuples():
        line = [row.dataset, row.label, row.target, row.selection, row.n_splits]
        if not row.n_splits:
            body.append(line + [f"not recorded: {row.note}"] + [""] * 6)
            continue
        line.append(row.epochs)
        for metric in GAP_METRICS:
            line += [_cell(row, metric), _cell(row, f"best_{metric}"), _cell(row, f"gap_{metric}", signed=True)]
        body.append(line)
    title = ("Selection gap: the run's epoch choice (honest) against the epoch chosen on the test set "
             "(best-on-test criterion SRCC + PLCC raw + KRCC), same training; mean ± std over splits; "
             "gap = best-on-test − honest")
    table = tabulate(body, headers=headers, tablefmt="github" if fmt == "markdown" else "latex_booktabs",
                     disable_numparse=True)
    note = ("Per-epoch records hold SRCC, KRCC and PLCC raw/logistic; PLCC logistic-cv is not recorded per "
            "epoch, so its columns are NaN.") if kind == "logistic-cv" else ""
    return f"### {title}\n\n{table}\n" + (f"\n{note}\n" if note else "")


def _cell(row, name: str, signed: bool = False) -> str:
    mean, std = getattr(row, f"{name}_mean", np.nan), getattr(row, f"{name}_std", np.nan)
    if pd.isna(mean):
        return "NaN"
    # a gap of rounding noise (records keep 6 digits) is no gap: never "-0.0000"
    text = f"{mean:+.4f}".replace("-0.0000", "+0.0000") if signed else f"{mean:.4f}"
    return text if pd.isna(std) else f"{text} ± {std:.4f}"
