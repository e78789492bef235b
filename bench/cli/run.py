"""``ipiqa-bench run``: fit and evaluate methods on every split."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bench import api
from bench.cli.group import main
from bench.cli.options import (
    RESULTS_HELP,
    RegistryChoice,
    dataset_options,
    drop_invalid_option,
    split_options,
    train_options,
)
from bench.run.executors import executor_names
from bench.run.spec import RunSpec


@main.command("run")
@click.option("--methods", default="all", show_default=True,
              help="'all', 'offline' (methods needing no downloaded weights), family names (handcrafted, svr, deep, "
                   "alignment, ipiqa, pyiqa) or method names, comma-separated; a family wins over a method of the same "
                   "name, 'method:NAME' selects that one method (method:ipiqa: the full IP-IQA alone); '-' before "
                   "any of these removes what it selects (offline,-pyiqa).")
@dataset_options
@split_options
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--force", is_flag=True, help="Recompute splits that are already done.")
@drop_invalid_option
@click.option("--executor", type=RegistryChoice(executor_names), default="local", show_default=True,
              help="What runs the work: local, ray, or an executor a plugin registers.")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Parallel workers: locally, feature-extraction processes and regressor-fit threads "
                   "(default: 1); with ray, every CPU of the local Ray.")
@click.option("--ray-address", default=None, help="Existing Ray cluster (default: $RAY_ADDRESS or a local Ray).")
@click.option("--preset", default=None,
              help="A named config preset of the methods that declare it (default: the one named after the "
                   "dataset, e.g. the demo's miniature training; 'full': the demo's slower, higher-fidelity "
                   "settings; 'default': none). See `list --config METHOD`.")
@train_options
@click.option("--random-init", is_flag=True,
              help="Build pretrained networks with random weights instead (smoke tests; labelled [random init]).")
@click.option("--eval", "evaluate", type=click.Choice(["splits", "all"]), default="splits", show_default=True,
              help="all: score training-free methods once over every image, no split (kept apart: "
                   "<results>/<dataset>/all-images/; `table --eval all`).")
@click.option("--train-on", default=None, metavar="DATASET",
              help="Cross-dataset: fit trainable methods on all of DATASET, test on all of --dataset "
                   "(<results>/cross/; `table --cross`).")
@click.option("--train-root", type=click.Path(path_type=Path), default=None, help="--train-on's dataset folder.")
@click.option("--recipe", type=click.Choice(["authors", "paper"]), default=None,
              help="Trainable methods: authors (default: each method's declared recipe) or paper (the IP-IQA "
                   "paper's protocol for every method; rows say [paper recipe]).")
def run_command(**options):
    """Fit and evaluate methods on every split; results go to <results>/<dataset>/<method>/."""
    try:
        outcomes = api.run(RunSpec.from_cli(**options))
    except KeyboardInterrupt as exc:  # RunInterrupted says what was kept; before the run started, nothing was
        message = str(exc) or "interrupted before any split ran; rerun the same command to start again."
        click.echo("\n".join(f"ipiqa-bench: {line}" for line in message.splitlines()), err=True)
        sys.exit(130)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        if not o.reported:  # the plan or the [k/N] lines showed the others' errors
            click.echo(f"ipiqa-bench: {o.failure_line()}", err=True)
    sys.exit(1 if failed else 0)
