"""``ipiqa-bench splits`` and ``splits import``: the dataset's shared splits."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bench import api
from bench.cli.group import main
from bench.cli.options import RESULTS_HELP, dataset_options, drop_invalid_option
from bench.splits import load_splits
from bench.splits.protocols import protocol_note

log = logging.getLogger("ipiqa_bench")


@main.group("splits", invoke_without_command=True)
@click.option("--dataset", default=None, help="Dataset name (demo, agiqa1k, agiqa3k, ...).")
@click.option("--root", type=click.Path(path_type=Path), help="Dataset folder (default: datasets/<name> or $IPIQA_DATA/<name>).")
@click.option("--protocol", type=click.Choice(["grouped", "image", "ipiqa-code"]), default="grouped", show_default=True,
              help="grouped: no content on both sides; image: image-level random splits (content leaks, reported); "
                   "ipiqa-code: the official IP-IQA code's procedure (split 0 exact; see docs/protocols.md).")
@click.option("--splits", "n_splits", type=click.IntRange(1), default=10, show_default=True, help="Number of splits.")
@click.option("--seed", type=int, default=None, help="Split seed (default: 0; ipiqa-code: 42, the official scripts').")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True,
              help="Test fraction (ipiqa-code: fixed 0.2).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@drop_invalid_option
@click.pass_context
def splits_command(ctx, dataset, root, protocol, n_splits, seed, test_size, results_dir, drop_invalid):
    """Write the dataset's splits to <results>/<dataset>/splits.csv (provenance in splits.json);
    `splits import` reads published fold files instead."""
    if ctx.invoked_subcommand is not None:
        return
    if dataset is None:
        raise click.UsageError("Missing option '--dataset'.")

    path = api.splits(dataset, root=root, protocol=protocol, splits=n_splits, seed=seed, test_size=test_size,
                      results_dir=results_dir, drop_invalid=drop_invalid)
    splits = load_splits(path, n_splits)
    share = [(splits[c] == "test").mean() for c in splits.columns[2:]]
    log.info("%s: %d images, %d groups, %d splits, test share %.1f%%–%.1f%%", path, len(splits),
             splits["group"].nunique(), len(share), 100 * min(share), 100 * max(share))
    log.info("%s splits: %s", dataset, protocol_note(path.parent))
    click.echo(str(path))


@splits_command.command("import")
@dataset_options
@click.option("--format", "fmt", type=click.Choice(["ipce", "qalign", "csv", "aigiqa20k", "evalmuse"]), required=True,
              help="ipce: <fold>/train.csv + val.csv; qalign: train_split_k.json + test_split_k.json; "
                   "csv: image + one train/test column per fold (docs/protocols.md); aigiqa20k: the official "
                   "info_train / info_val / info_test files; evalmuse: train_list.json + test.json.")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--ignore-unknown", is_flag=True, help="Drop fold entries naming images the dataset lacks (reported).")
@drop_invalid_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def splits_import_command(dataset, root, fmt, results_dir, ignore_unknown, drop_invalid, paths):
    """Import published fold files as <results>/<dataset>/splits.csv, reporting images missing or
    unknown and the content leakage; nothing is written if a fold is invalid."""
    path, report = api.import_splits(dataset, fmt, list(paths), root=root, results_dir=results_dir,
                                     drop_invalid=drop_invalid, ignore_unknown=ignore_unknown)
    for warning in report.warnings:
        log.warning("%s", warning)
    for fold in report.folds:
        log.info("fold %s: %d train, %d test", fold["name"], fold["train"], fold["test"])
    log.info("%s splits: %s", dataset, protocol_note(path.parent))
    click.echo(str(path))
