"""The ``ipiqa-bench`` command line. Logs go to stderr, results to files (tables to stdout)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from pathlib import Path

import click

from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")
RESULTS_HELP = "Results folder (default: ./results)."


class BenchGroup(click.Group):
    """Turns BenchError into a one-line message and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            click.echo(f"ipiqa-bench: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(package_name="ipiqa-bench")
def main(verbose):
    """Benchmark harness for AI-generated image quality assessment (IP-IQA, ICME 2024)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="ipiqa-bench: %(message)s", stream=sys.stderr)


def dataset_options(f):
    f = click.option("--root", type=click.Path(path_type=Path), help="Dataset folder (default: datasets/<name> or $IPIQA_DATA/<name>).")(f)
    return click.option("--dataset", required=True, help="Dataset name (demo, agiqa1k, agiqa3k, ...).")(f)


drop_invalid_option = click.option("--drop-invalid", is_flag=True,
                                   help="Drop the rows `ipiqa-bench check` reports instead of refusing.")


def split_options(f):
    f = click.option("--test-size", type=float, default=0.2, show_default=True, help="Test fraction.")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Split seed.")(f)
    return click.option("--splits", "n_splits", type=click.IntRange(1), default=10, show_default=True, help="Number of splits.")(f)


@main.command("list")
def list_command():
    """List every registered method, its metadata and whether its assets are present."""
    from tabulate import tabulate

    from bench.assets import get_asset, is_present
    from bench.registry import list_methods

    rows = []
    for m in list_methods():
        assets = ", ".join(f"{get_asset(a).filename} ({'present' if is_present(a) else 'missing'})"
                           for a in m.assets) or "-"
        rows.append([m.name, m.family, "yes" if m.uses_prompt else "no", "yes" if m.trains else "no",
                     ",".join(m.targets), "higher" if m.higher_is_better else "lower", assets])
    click.echo(tabulate(rows, headers=["method", "family", "prompt", "trains", "targets", "better", "assets"]))


@main.command("splits")
@dataset_options
@split_options
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@drop_invalid_option
def splits_command(dataset, root, n_splits, seed, test_size, results_dir, drop_invalid):
    """Write the dataset's content-grouped splits to <results>/<dataset>/splits.csv."""
    from bench.datasets import load_dataset
    from bench.splits import SplitConfig, ensure_splits, load_splits
    from bench.validation import prepare_for_run

    data = prepare_for_run(load_dataset(dataset, root), drop_invalid)  # the images `run` will use
    path = ensure_splits(results_dir / data.name, data.frame["image"], data.frame["group"],
                         SplitConfig(n_splits, seed, test_size))
    splits = load_splits(path, n_splits)
    share = [(splits[c] == "test").mean() for c in splits.columns[2:]]
    log.info("%s: %d images, %d groups, %d splits, test share %.1f%%–%.1f%%", path, len(splits),
             splits["group"].nunique(), len(share), 100 * min(share), 100 * max(share))
    click.echo(str(path))


@main.command("run")
@click.option("--methods", default="all", show_default=True,
              help="'all', 'offline' (methods needing no downloaded weights), family names (handcrafted, svr, deep, "
                   "alignment, ipiqa) or method names, comma-separated; a family wins over a method of the same "
                   "name, 'method:NAME' selects that one method (method:ipiqa: the full IP-IQA alone).")
@dataset_options
@split_options
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--force", is_flag=True, help="Recompute splits that are already done.")
@click.option("--plcc-mapping", type=click.Choice(["logistic", "none"]), default="logistic", show_default=True,
              help="PLCC/RMSE after the 4-parameter logistic mapping, or on raw predictions.")
@drop_invalid_option
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Parallel workers (default: 1 locally; with ray, every CPU of the local Ray).")
@click.option("--ray-address", default=None, help="Existing Ray cluster (default: $RAY_ADDRESS or a local Ray).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Training epochs (trainable methods).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Training batch size.")
@click.option("--lr", type=float, default=None, help="Learning rate.")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default=None,
              help="constant (the paper's) or cosine annealing to 0 over the epochs.")
@click.option("--image-size", type=click.IntRange(16), default=None, help="Training/inference image size.")
@click.option("--train-crop", type=click.IntRange(16), default=None,
              help="Train on random crops of this size (after resizing); inference sees the whole image.")
@click.option("--selection", type=click.Choice(["final", "val", "best-on-test"]), default=None,
              help="Epoch selection policy (best-on-test selects on the test set and is labelled so).")
@click.option("--image-cache/--no-image-cache", default=None,
              help="Train from the decoded-image cache (default) or decode every sample every epoch.")
@click.option("--num-workers", type=click.IntRange(0), default=None,
              help="Loader processes (default: sized from the machine's cores).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision on CUDA (default on: bf16 where supported, else fp16).")
@click.option("--channels-last/--no-channels-last", default=None, help="channels_last memory format (default: CUDA only).")
@click.option("--compile", "compile_model", is_flag=True, default=None, help="torch.compile the model for training.")
@click.option("--random-init", is_flag=True,
              help="Build pretrained networks with random weights instead (smoke tests; labelled [random init]).")
def run_command(methods, dataset, root, n_splits, seed, test_size, results_dir, device, force, plcc_mapping,
                drop_invalid, executor, jobs, ray_address, epochs, batch_size, lr, lr_schedule, image_size,
                train_crop, selection, image_cache, num_workers, amp, channels_last, compile_model, random_init):
    """Fit and evaluate methods on every split; results go to <results>/<dataset>/<method>/."""
    from bench.datasets import load_dataset
    from bench.devices import resolve_device
    from bench.executors import make_executor
    from bench.registry import create_method, resolve_method_names
    from bench.runner import RunOptions, method_config, run_benchmark
    from bench.splits import SplitConfig
    from bench.validation import prepare_for_run

    resolve_method_names(methods)  # an unknown method fails before the dataset is loaded
    resolve_device(device)  # fail early on an unknown or absent device
    data = prepare_for_run(load_dataset(dataset, root), drop_invalid)
    options = RunOptions(results_dir=results_dir, splits=SplitConfig(n_splits, seed, test_size), force=force,
                         plcc_mapping=plcc_mapping, device=device,
                         overrides={"epochs": epochs, "batch_size": batch_size, "lr": lr, "lr_schedule": lr_schedule,
                                    "image_size": image_size, "train_crop": train_crop, "selection": selection,
                                    "image_cache": image_cache, "num_workers": num_workers, "amp": amp,
                                    "channels_last": channels_last, "compile": compile_model or None,
                                    "pretrained": False if random_init else None})
    names = resolve_method_names(methods, needs_download=lambda info: bool(
        create_method(info.name, **method_config(info, options, data.name)).required_assets()))
    pool = make_executor(executor, jobs, ray_address)
    try:
        outcomes = run_benchmark(names, data, options, pool)
    finally:
        pool.close()
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        click.echo(f"ipiqa-bench: {o.method} failed: {o.message}", err=True)
    log.info("%d method(s): %d done, %d up to date, %d skipped, %d failed", len(outcomes),
             sum(o.status == "done" for o in outcomes), sum(o.status == "up-to-date" for o in outcomes),
             sum(o.status == "skipped" for o in outcomes), len(failed))
    sys.exit(1 if failed else 0)


@main.command("table")
@click.option("--dataset", default=None, help="Only this dataset (default: every dataset with results).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "csv"]), default="markdown", show_default=True)
@click.option("--paper", is_flag=True, help="Add the paper's published numbers and our difference.")
@click.option("--table", "which", type=click.Choice(["1", "2", "all"]), default="all", show_default=True)
@click.option("--ci", is_flag=True, help="Add the 95% t-interval of each mean over the splits (bench/significance.py).")
@click.option("--ablation", is_flag=True, help="Table 3: the IP-IQA ablation rows, the paper's numbers beside ours.")
def table_command(dataset, results_dir, fmt, paper, which, ci, ablation):
    """Render Table 1 (quality) and Table 2 (alignment) from the result files."""
    from bench import tables
    from bench.results import load_results, split_metrics

    results = load_results(results_dir, dataset)
    if not results:
        raise BenchError(f"no results under {results_dir}" + (f" for {dataset}" if dataset else "")
                         + "; run `ipiqa-bench run` first")
    summary = tables.summarise_splits(split_metrics(results))
    if ablation:
        from bench.ablation import ablation_summary, render_ablation

        rows = ablation_summary(summary, {r.method: r.manifest.get("config", {}) for r in results})
        if rows.empty:
            raise BenchError(f"no IP-IQA ablation results under {results_dir}; run `ipiqa-bench run --methods ipiqa`")
        click.echo(render_ablation(rows, fmt, paper), nl=False)
        return
    if paper:
        summary = tables.with_paper(summary, {r.method: r.manifest.get("sign", 1) for r in results})
    if ci:
        from bench.significance import confidence_intervals

        summary = confidence_intervals(summary)
    if fmt == "csv":  # one row per method, dataset and target; --table keeps that table's rows
        rows = summary if which == "all" else tables.layout_rows(summary, int(which))
        click.echo(tables.csv_table(rows, paper), nl=False)
        return
    parts = [tables.render(summary, fmt, paper, int(t)) for t in (["1", "2"] if which == "all" else [which])]
    click.echo("\n".join(p for p in parts if p))
    if paper and fmt == "markdown":
        click.echo(f"\n{tables.SIGN_NOTE}")


@main.command("score")
@click.option("--method", required=True, help="Method name (see `ipiqa-bench list`).")
@click.option("--prompt", default="", help="The text prompt (prompt-aware methods).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A split checkpoint written by `run` (trained methods).")
@click.option("--device", default="auto", show_default=True)
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
def score_command(method, prompt, checkpoint, device, images):
    """Score single images; prints one CSV row per image."""
    from bench.scoring import score_images

    frame = score_images(method, list(images), prompt, checkpoint, device)
    click.echo(frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"), nl=False)


def _load_command_modules() -> None:
    """Commands added by other modules (bench/commands/*.py) attach themselves to ``main``."""
    import bench.commands as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bench.commands.{module.name}")


_load_command_modules()
