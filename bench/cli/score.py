"""``ipiqa-bench score``: score images, or (image, prompt) pairs from a CSV, with any row."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from bench import api
from bench.cli.group import main
from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")


@main.command("score")
@click.option("--method", help="Method name (see `ipiqa-bench list`); with --from, read from its run.json.")
@click.option("--prompt", default="", help="The text prompt of every image given as an argument (prompt-aware methods).")
@click.option("--pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CSV with columns image, prompt (and any others, carried through); images relative to its folder.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="With --pairs: write the CSV here "
              "(default: stdout).")
@click.option("--from", "from_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A trained row's results, RESULTS_DIR/<dataset>/<method>: its checkpoints, averaged (with their std).")
@click.option("--split", type=int, help="With --from: only this split's checkpoint.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A split checkpoint written by `run` (trained methods).")
@click.option("--device", default="auto", show_default=True)
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
def score_command(method, prompt, pairs, out, from_dir, split, checkpoint, device, images):
    """Score images (arguments) or (image, prompt) pairs (--pairs); prints or writes one CSV row each.
    With --pairs a bad row is reported with its line and marked in the output; exit status 1."""
    if bool(images) == bool(pairs):
        raise BenchError("give images as arguments or --pairs CSV (one of the two)")
    scored = api.score(method, images=None if pairs else list(images), prompt=prompt, pairs=pairs,
                       checkpoint=checkpoint, from_dir=from_dir, split=split, device=device)
    frame = scored.frame if pairs else scored
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    if pairs:
        for line, message in scored.failures:
            click.echo(f"ipiqa-bench: {pairs}: line {line}: {message}", err=True)
        log.info("scored %d of %d rows in %.1f s", len(frame) - len(scored.failures), len(frame), scored.seconds)
        if scored.failures:
            sys.exit(1)
