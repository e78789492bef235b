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
@click.option("--config", "config_of", metavar="METHOD", default=None,
              help="Print METHOD's resolved config: each value, its source and where it is declared.")
@click.option("--dataset", default=None, help="With --config: the dataset (selects its preset).")
@click.option("--preset", default=None, help="With --config: a named preset instead of the dataset's.")
def list_command(config_of, dataset, preset):
    """List every registered method, its metadata and whether its assets are present."""
    from tabulate import tabulate

    if config_of is not None:
        from bench.config import resolve_config

        resolved = resolve_config(config_of, dataset, preset)
        rows = [[k, repr(v), resolved.sources[k], resolved.origins[k]] for k, v in resolved.values.items()]
        click.echo(f"{resolved.method}" + (f" on {dataset}" if dataset else "")
                   + f" (preset: {resolved.preset or 'none'})")
        click.echo(tabulate(rows, headers=["key", "value", "source", "declared in"]))
        return

    from bench.assets import get_asset, is_present
    from bench.registry import list_methods

    rows = []
    for m in list_methods():
        assets = ", ".join(f"{get_asset(a).filename} ({'present' if is_present(a) else 'missing'})"
                           for a in m.assets) or "-"
        rows.append([m.name, m.family, "yes" if m.uses_prompt else "no", "yes" if m.trains else "no",
                     ",".join(m.targets), "higher" if m.higher_is_better else "lower", assets])
    click.echo(tabulate(rows, headers=["method", "family", "prompt", "trains", "targets", "better", "assets"]))


@main.group("splits", invoke_without_command=True)
@click.option("--dataset", default=None, help="Dataset name (demo, agiqa1k, agiqa3k, ...).")
@click.option("--root", type=click.Path(path_type=Path), help="Dataset folder (default: datasets/<name> or $IPIQA_DATA/<name>).")
@click.option("--protocol", type=click.Choice(["grouped", "image", "ipiqa-code"]), default="grouped", show_default=True,
              help="grouped: no content on both sides; image: image-level random splits (content leaks, reported); "
                   "ipiqa-code: the official IP-IQA code's procedure (split 0 exact; see docs/protocols.md).")
@click.option("--splits", "n_splits", type=click.IntRange(1), default=10, show_default=True, help="Number of splits.")
@click.option("--seed", type=int, default=None, help="Split seed (default: 0; ipiqa-code: 42, the official scripts').")
@click.option("--test-size", type=float, default=0.2, show_default=True, help="Test fraction (ipiqa-code: fixed 0.2).")
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
    from bench import api
    from bench.splits import load_splits

    path = api.splits(dataset, root=root, protocol=protocol, splits=n_splits, seed=seed, test_size=test_size,
                      results_dir=results_dir, drop_invalid=drop_invalid)
    splits = load_splits(path, n_splits)
    share = [(splits[c] == "test").mean() for c in splits.columns[2:]]
    log.info("%s: %d images, %d groups, %d splits, test share %.1f%%–%.1f%%", path, len(splits),
             splits["group"].nunique(), len(share), 100 * min(share), 100 * max(share))
    from bench.split_protocols import protocol_note

    log.info("%s splits: %s", dataset, protocol_note(path.parent))
    click.echo(str(path))


@splits_command.command("import")
@dataset_options
@click.option("--format", "fmt", type=click.Choice(["ipce", "qalign", "csv"]), required=True,
              help="ipce: <fold>/train.csv + val.csv; qalign: train_split_k.json + test_split_k.json; "
                   "csv: image + one train/test column per fold (docs/protocols.md).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--ignore-unknown", is_flag=True, help="Drop fold entries naming images the dataset lacks (reported).")
@drop_invalid_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def splits_import_command(dataset, root, fmt, results_dir, ignore_unknown, drop_invalid, paths):
    """Import published fold files as <results>/<dataset>/splits.csv, reporting images missing or
    unknown and the content leakage; nothing is written if a fold is invalid."""
    from bench import api
    from bench.split_protocols import protocol_note

    path, report = api.import_splits(dataset, fmt, list(paths), root=root, results_dir=results_dir,
                                     drop_invalid=drop_invalid, ignore_unknown=ignore_unknown)
    for warning in report.warnings:
        log.warning("%s", warning)
    for fold in report.folds:
        log.info("fold %s: %d train, %d test", fold["name"], fold["train"], fold["test"])
    log.info("%s splits: %s", dataset, protocol_note(path.parent))
    click.echo(str(path))


def _click_type(f):
    spec = f.metadata
    if spec.get("choices"):
        return click.Choice(list(spec["choices"]))
    kind = int if "int" in str(f.type) else float if "float" in str(f.type) else str
    if kind is str or (spec.get("low") is None and spec.get("high") is None):
        return kind
    ranged = click.IntRange if kind is int else click.FloatRange
    return ranged(spec.get("low"), spec.get("high"), min_open=spec.get("low_open", False),
                  max_open=spec.get("high_open", False))


def train_options(f):
    """One option per ``TrainConfig`` field that has a help text (bench.train_config)."""
    from bench.train_config import cli_options

    for field in reversed(cli_options()):
        f = click.option(f"--{field.name.replace('_', '-')}", field.name, type=_click_type(field), default=None,
                         help=field.metadata["help"])(f)
    return f


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
@click.option("--preset", default=None,
              help="A named config preset of the methods that declare it (default: the one named after the "
                   "dataset, e.g. the demo's miniature training; 'default': none). See `list --config METHOD`.")
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
def run_command(methods, dataset, root, n_splits, seed, test_size, results_dir, device, force, plcc_mapping,
                drop_invalid, executor, jobs, ray_address, preset, random_init, evaluate, train_on, train_root,
                recipe, **train):
    """Fit and evaluate methods on every split; results go to <results>/<dataset>/<method>/."""
    from bench import api

    outcomes = api.run(methods, dataset, root=root, splits=n_splits, seed=seed, test_size=test_size,
                       results_dir=results_dir, device=device, force=force, plcc_mapping=plcc_mapping,
                       drop_invalid=drop_invalid, executor=executor, jobs=jobs, ray_address=ray_address,
                       preset=preset, overrides=train, random_init=random_init, evaluate=evaluate,
                       train_on=train_on, train_root=train_root, recipe=recipe)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        click.echo(f"ipiqa-bench: {o.method} failed: {o.message}", err=True)
    sys.exit(1 if failed else 0)


@main.command("table")
@click.option("--dataset", default=None, help="Only this dataset (default: every dataset with results).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "csv"]), default="markdown", show_default=True)
@click.option("--paper", is_flag=True, help="Add the paper's published numbers and our difference.")
@click.option("--table", "which", type=click.Choice(["1", "2", "all"]), default="all", show_default=True)
@click.option("--ci", is_flag=True, help="Add the 95% t-interval of each mean over the splits (bench/significance.py).")
@click.option("--ablation", is_flag=True, help="Table 3: the IP-IQA ablation rows, the paper's numbers beside ours.")
@click.option("--eval", "evaluate", type=click.Choice(["splits", "all"]), default="splits", show_default=True,
              help="all: the `run --eval all` results (every image, no split) instead.")
@click.option("--cross", is_flag=True, help="The cross-dataset train x test matrix (`run --train-on`).")
def table_command(dataset, results_dir, fmt, paper, which, ci, ablation, evaluate, cross):
    """Render Table 1 (quality) and Table 2 (alignment) from the result files."""
    from bench import tables
    from bench.results import load_results, split_metrics

    if evaluate == "all" or cross:
        from bench import whole_dataset

        text = whole_dataset.render_table(results_dir, dataset, fmt, cross)
        if not text:
            raise BenchError(f"no {'cross-dataset' if cross else 'all-images'} results under {results_dir}; run "
                             f"`ipiqa-bench run {'--train-on D' if cross else '--eval all'}` first")
        click.echo(text, nl=False)
        return
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
    from bench.split_protocols import protocol_notes

    notes = protocol_notes(results_dir, summary["dataset"])
    click.echo("\n" + "\n".join(f"% {n}" if fmt == "latex" else f"Splits — {n}" for n in notes))
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


COMMANDS_ENTRY_POINT_GROUP = "ipiqa_bench.commands"


def _load_command_modules() -> None:
    """Commands added by other modules attach themselves to ``main``: the harness's own
    (bench/commands/*.py) and those of packages, through the entry-point group
    ``ipiqa_bench.commands`` (IP-IQA's ``pretrain`` is one). A plugin that fails to import
    is reported once; every other command stays usable."""
    from importlib.metadata import entry_points

    import bench.commands as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bench.commands.{module.name}")
    for ep in entry_points(group=COMMANDS_ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001  (a broken plugin must not break the CLI)
            log.warning("command plugin %s (%s) failed to import: %s: %s", ep.name, ep.value, type(exc).__name__, exc)


_load_command_modules()
