"""``ipiqa-bench table``: Tables 1-3 (and the all-images and cross-dataset tables) from the result files."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bench.cli.group import main
from bench.cli.options import RESULTS_HELP
from bench.errors import BenchError
from bench.report import tables, whole_dataset
from bench.report.ablation import ablation_summary, render_ablation
from bench.report.cost import render_cost, with_cost
from bench.report.selection_gap import render_selection_gap, selection_gap
from bench.report.summary import summary_of
from bench.report.tables import latex_escape, latex_safe
from bench.results.loading import split_metrics
from bench.results.metrics import PLCC_KINDS
from bench.splits.protocols import protocol_notes

log = logging.getLogger("ipiqa_bench")


@main.command("table")
@click.option("--dataset", default=None, help="Only this dataset (default: every dataset with results).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "csv"]), default="markdown", show_default=True)
@click.option("--paper", is_flag=True, help="Add the paper's published numbers, our difference, each mean's 95% "
                                           "t-interval over the row's splits and whether the paper's figure lies in it.")
@click.option("--table", "which", type=click.Choice(["1", "2", "all"]), default="all", show_default=True,
              help="all: Tables 1 and 2 and the targets neither shows.")
@click.option("--plcc", type=click.Choice(list(PLCC_KINDS)), default=None,
              help="PLCC after the 4-parameter logistic (sign kept), plain Pearson, or logistic-cv (the logistic fitted "
                   "out of fold, 5-fold within the test side; bench/results/metrics.py). Default: raw where the "
                   "paper's numbers are shown (--paper, --ablation: the paper's kind), logistic otherwise.")
@click.option("--rmse", is_flag=True, help="Add RMSE (after the logistic mapping) to markdown/LaTeX; CSV always has it.")
@click.option("--methods", default=None,
              help="Only these methods (as `run --methods`; default: every result). Selected methods without "
                   "results are listed under the table.")
@click.option("--ci", is_flag=True, help="Add the 95% t-interval of each mean over the splits (bench/report/significance.py).")
@click.option("--ablation", is_flag=True, help="Table 3: the IP-IQA ablation rows, the paper's numbers beside ours.")
@click.option("--eval", "evaluate", type=click.Choice(["splits", "all"]), default="splits", show_default=True,
              help="all: the `run --eval all` results (every image, no split) instead.")
@click.option("--cross", is_flag=True, help="The cross-dataset train x test matrix (`run --train-on`).")
@click.option("--cost", is_flag=True, help="Add each row's cost: s/image, train s/split, peak MB (from run.json).")
@click.option("--selection-gap", "gap", is_flag=True,
              help="Per trained row: the run's epoch choice against the epoch chosen on the test set, from the "
                   "same training (needs runs that recorded every epoch: record_epoch_metrics).")
def table_command(dataset, results_dir, fmt, paper, which, plcc, rmse, methods, ci, ablation, evaluate, cross, cost,
                  gap):
    """Render Table 1 (quality) and Table 2 (alignment) from the result files."""
    if evaluate == "all" or cross:
        text = whole_dataset.render_table(results_dir, dataset, fmt, cross)
        if not text:
            raise BenchError(f"no {'cross-dataset' if cross else 'all-images'} results under {results_dir}; run "
                             f"`ipiqa-bench run {'--train-on D' if cross else '--eval all'}` first")
        click.echo(text, nl=False)
        return

    kind = plcc or ("raw" if paper or ablation else "logistic")
    summary, results, missing = summary_of(results_dir, dataset, methods=methods, plcc=kind,
                                            paper=paper and not ablation, ci=(ci or paper) and not ablation)
    if gap:
        gap = selection_gap(results, split_metrics(results, kind), kind)
        text = render_selection_gap(gap[gap["selection"] != "–"], fmt) if len(gap) else ""  # trained rows: the others have no epochs
        if not text:
            raise BenchError(f"no trained rows to compare epochs of under {results_dir}")
        click.echo(text, nl=False)
        return
    if ablation:
        rows = ablation_summary(summary, {r.method: r.manifest.config for r in results})
        if rows.empty:
            raise BenchError(f"no IP-IQA ablation results under {results_dir}; run `ipiqa-bench run --methods ipiqa`")
        click.echo(render_ablation(rows, fmt, paper), nl=False)
        return
    if fmt == "csv":  # one row per method, dataset and target; --table keeps that table's rows
        rows = summary if which == "all" else tables.layout_rows(summary, int(which))
        click.echo(tables.csv_table(with_cost(rows, results) if cost else rows, paper), nl=False)
        for line in missing:
            log.warning("%s", line)
        return
    shown = {"1": [1], "2": [2], "all": [1, 2, "other"]}[which]
    parts = [tables.render(summary, fmt, paper, t, rmse) for t in shown]
    if 2 in shown and not parts[shown.index(2)]:
        parts[shown.index(2)] = _comment(fmt, tables.TABLE2_EMPTY)
    parts.append(render_cost(results, fmt) if cost else "")
    click.echo("\n".join(p for p in parts if p))
    if paper and set(summary["dataset"]) & tables.paper_datasets():
        click.echo(_comment(fmt, tables.SIGN_NOTE))

    for note in protocol_notes(results_dir, summary["dataset"]):
        click.echo(_comment(fmt, f"Splits — {note}"))
    for line in missing:
        click.echo(_comment(fmt, line))


def _comment(fmt: str, text: str) -> str:
    if fmt == "latex":
        return "\n" + latex_safe(latex_escape(text)) + "\n"
    return f"\n{text}"
