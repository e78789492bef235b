"""``ipiqa-bench score``: score single images."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli.group import main
from bench.run.scoring import score_images


@main.command("score")
@click.option("--method", required=True, help="Method name (see `ipiqa-bench list`).")
@click.option("--prompt", default="", help="The text prompt (prompt-aware methods).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A split checkpoint written by `run` (trained methods).")
@click.option("--device", default="auto", show_default=True)
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
def score_command(method, prompt, checkpoint, device, images):
    """Score single images; prints one CSV row per image."""
    frame = score_images(method, list(images), prompt, checkpoint, device)
    click.echo(frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"), nl=False)
