"""``ipiqa-bench check``: validate a dataset before benchmarking on it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bench.cli.group import main
from bench.cli.options import dataset_options
from bench.datasets import load_dataset
from bench.datasets.check import check_dataset
from bench.files import atomic_write_text
from bench.results.metrics import test_side_warning
from bench.splits import SplitConfig, make_splits, smallest_test_side


@main.command("check")
@dataset_options
@click.option("--limit", type=click.IntRange(0), default=20, show_default=True,
              help="Images listed per kind of problem (0: all).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every problem to this CSV file (kind, image, label_line, detail).")
def check_command(dataset, root, limit, output):
    """List everything that would make a benchmark on a dataset wrong: duplicated or malformed
    label rows, unparseable prompts, bad scores, missing, unlabelled, ambiguous or unreadable
    images. Exit status 0 when clean, 1 when problems were found."""
    data = load_dataset(dataset, root)
    report = check_dataset(data)
    click.echo(report.render(limit or None))
    config = SplitConfig()
    smallest = (smallest_test_side(make_splits(data.frame["image"], data.frame["group"], config))
                if report.clean else None)  # problems first: splits need clean rows
    if smallest is not None and test_side_warning(smallest):
        click.echo(f"ipiqa-bench: warning: with the default splits ({config.n_splits}, test share "
                   f"{config.test_size}) the smallest test side: {test_side_warning(smallest)}", err=True)
    if output:
        atomic_write_text(output, report.to_frame().to_csv(index=False, lineterminator="\n"))
    sys.exit(0 if report.clean else 1)
