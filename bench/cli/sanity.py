"""``ipiqa-bench sanity``: does a method's score hold when nothing that should matter changes?"""

from __future__ import annotations

from pathlib import Path

import click

from bench import api
from bench.cli.group import main
from bench.run.sanity import render_panel


@main.command("sanity")
@click.option("--method", required=True, help="The method to check (`ipiqa-bench list`).")
@click.option("--dataset", default="demo", show_default=True, help="Dataset the images are sampled from.")
@click.option("--root", type=click.Path(path_type=Path), help="Dataset folder (default: datasets/<name> or $IPIQA_DATA/<name>).")
@click.option("--n", "n", type=click.IntRange(2), default=16, show_default=True, help="Images sampled (evenly, by name).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A trained method's checkpoint (default with --results-dir: its row's "
                   "checkpoints/split_0.pt, else the first split's that has one).")
@click.option("--device", default="cpu", show_default=True, help="Device of the reference scores (cpu, cuda, auto).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=None,
              help="Check the row as it ran there (its run.json's config; split 0's checkpoint, else the first split's) and write "
                   "the panel to <results-dir>/<dataset>/<method>/sanity.json (`report` shows it).")
def sanity_command(method, dataset, root, n, checkpoint, device, results_dir):
    """Score a small sample twice per check and compare: batch 1 vs N, PNG vs JPEG q95, a bitwise
    rerun, 1 thread vs N, reversed order, CPU vs GPU (skipped without a GPU). Each check says
    holds or differs, with max |Δ|, Spearman's rho and the largest rank shift."""
    panel = api.sanity(method, dataset=dataset, n=n, root=root, checkpoint=checkpoint, device=device,
                       results_dir=results_dir)
    click.echo(render_panel(panel))
