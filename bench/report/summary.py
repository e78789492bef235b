"""The summary of a run or a results folder: per method and target, the metrics' means over
the splits done (what ``table`` prints and what ``run`` ends with), recomputed from the files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.errors import BenchError
from bench.registry import resolve_method_names
from bench.report import tables
from bench.report.significance import confidence_intervals
from bench.results.loading import load_results, missing_methods, split_metrics
from bench.results.removed import removed_by_dataset


def summary_of(results_dir: str | Path, dataset: str | None = None, *, methods: str | None = None,
               plcc: str = "logistic", paper: bool = False, ci: bool = False):
    """(summary frame, the MethodResults read, lines naming selected methods without results)."""
    results = load_results(Path(results_dir), dataset)
    if not results:
        raise BenchError(f"no results under {results_dir}" + (f" for {dataset}" if dataset else "")
                         + "; run `ipiqa-bench run` first")
    removed = removed_by_dataset(results_dir, (r.dataset for r in results))
    missing = missing_methods(results, methods, removed)
    if methods:
        selected = set(resolve_method_names(methods))
        results = [r for r in results if r.method in selected]
        if not results:
            raise BenchError(f"no results for {methods!r} under {results_dir}; run `ipiqa-bench run --methods {methods}`")
    summary = tables.summarise_splits(split_metrics(results, plcc))
    if paper:
        summary = tables.with_paper(summary, {r.method: r.manifest.sign for r in results})
    if ci:
        summary = confidence_intervals(summary)
    return summary, results, missing


def summary_lines(outcomes: list, results_dir: Path, dataset: str, n_splits: int) -> list[str]:
    """What finished: per method and target, SRCC and PLCC (logistic) means over the splits
    done, splits done of the total, and failures (the numbers `table` prints, from the files)."""
    shown = [o for o in outcomes if o.status != "skipped"]
    if not shown:
        return []
    try:
        summary, _, _ = summary_of(results_dir, dataset, methods=",".join(f"method:{o.method}" for o in shown))
    except BenchError:  # nothing finished at all
        summary = pd.DataFrame(columns=["method"])
    rows = []
    for o in shown:
        part = summary[summary["method"] == o.method]
        failure = "failed" if o.status == "failed" else ""
        if part.empty:
            rows.append([o.method, "-", "-", "-", f"0/{n_splits}", failure])
        for _, row in part.iterrows():
            rows.append([o.method, row["target"], f"{row['srcc_mean']:.4f}", f"{row['plcc_mean']:.4f}",
                         f"{int(row['n_splits'])}/{int(row['n_splits_total'])}", failure])
    table = tabulate(rows, headers=["method", "target", "SRCC", "PLCC", "splits", "failures"], disable_numparse=True)
    note = "SRCC, PLCC (4-parameter logistic): means over the splits done; `ipiqa-bench table` has the rest."
    return ["summary:", *table.splitlines(), note]
