"""``ipiqa-bench report``: a folder with the tables, figures and paired significance tests."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli.group import main
from bench.cli.options import RESULTS_HELP
from bench.report.build import build_report
from bench.report.significance import DEFAULT_RESAMPLES
from bench.results.metrics import PLCC_KINDS


@main.command("report")
@click.option("--dataset", default=None, help="Only this dataset (default: every dataset with results).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Report folder (default: <results-dir>/report); replaced whole on every run.")
@click.option("--resamples", type=click.IntRange(1), default=DEFAULT_RESAMPLES, show_default=True,
              help="Bootstrap resamples of the test images per split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--plcc", type=click.Choice(list(PLCC_KINDS)), default="raw", show_default=True,
              help="PLCC in every table: plain Pearson (the paper's kind, compared with its numbers) or after "
                   "the 4-parameter logistic (sign kept), fitted in sample or out of fold (logistic-cv).")
def report_command(dataset, results_dir, out, resamples, seed, plcc):
    """Write report.md, index.html (one self-contained page), PNG figures and LaTeX tables rendered from the result files."""
    report = build_report(results_dir, out or results_dir / "report", dataset, resamples, seed, plcc)
    for message in report.refused:
        click.echo(f"ipiqa-bench: refused: {message}", err=True)
    click.echo(str(report.folder / "report.md"))
