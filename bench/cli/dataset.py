"""``ipiqa-bench dataset init``: a dataset card (dataset.toml) guessed from a label file and
an image folder, so that any labelled folder can be benchmarked (bench.datasets.card)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bench.cli.group import main
from bench.datasets.card import CARD_FILE, infer_card, load_card, write_card
from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")


@main.group("dataset")
def dataset_group():
    """Your own dataset: describe a labelled folder with a card (dataset.toml)."""


@dataset_group.command("init")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--images", "images", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The folder holding the images (any depth).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the card (default: dataset.toml beside LABELS).")
@click.option("--force", is_flag=True, help="Overwrite an existing card.")
def init_command(labels, images, out, force):
    """Guess a card for LABELS (CSV, TSV, XLSX, JSON or JSON lines): the image, prompt and score
    columns, each score's kind and scale, and the content groups; say each guess, write the
    card, and check that it loads. Edit the card where a guess is wrong, then
    `ipiqa-bench check --dataset <card>`."""
    out = out or labels.parent / CARD_FILE
    if out.exists() and not force:
        raise BenchError(f"{out} exists; edit it, or pass --force to replace it")
    card, guesses = infer_card(labels, images, out)
    for line in guesses:
        log.info("guessed %s", line)
    write_card(out, card, ["Written by `ipiqa-bench dataset init`; check each guess below.", *guesses])
    dataset = load_card(out)
    log.info("%s: %d label rows, %d content groups, targets %s; next: ipiqa-bench check --dataset %s",
             dataset.name, len(dataset), dataset.frame["group"].nunique(), ", ".join(dataset.targets), out)
    click.echo(str(out))
