"""The ``ipiqa-bench`` command line. Logs go to stderr, results to files (tables to stdout)."""

from __future__ import annotations

import errno
import importlib
import logging
import pkgutil
import sys
import traceback
from pathlib import Path

import click

import bench.cli.commands as package
from bench import api
from bench.config import check_preset, resolve_config
from bench.errors import BenchError
from bench.registry import get_method_info, list_families, list_methods
from bench.report import tables, whole_dataset
from bench.report.ablation import ablation_summary, render_ablation
from bench.report.selection_gap import render_selection_gap, selection_gap
from bench.report.summary import summary_of
from bench.report.tables import latex_escape, latex_safe
from bench.results.loading import split_metrics
from bench.results.metrics import PLCC_KINDS, list_metrics
from bench.run.executors import EXECUTOR_REGISTRY, executor_names
from bench.run.scoring import score_images
from bench.splits import load_splits
from bench.splits.protocols import protocol_note, protocol_notes
from bench.targets import TARGET_COLUMNS
from bench.train.config import cli_options

log = logging.getLogger("ipiqa_bench")
RESULTS_HELP = "Results folder (default: ./results)."


class BenchGroup(click.Group):
    """Turns anticipated errors into a one-line message and exit status 2; ``-v`` adds the
    traceback. Anticipated: BenchError, and a file that cannot be read or written (OSError,
    undecodable text) wherever it is met, named with what to do about it."""

    def invoke(self, ctx):
        import json

        from pandas.errors import EmptyDataError, ParserError

        try:
            return super().invoke(ctx)
        except (BenchError, OSError, UnicodeError, json.JSONDecodeError, EmptyDataError, ParserError) as exc:
            if ctx.params.get("verbose"):
                traceback.print_exc()
            click.echo(f"ipiqa-bench: error: {describe_error(exc)}", err=True)
            sys.exit(2)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, with which file, and what to do."""
    if isinstance(exc, BenchError):
        return str(exc)
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else _file_in_traceback(exc)
        what = exc.strerror or str(exc)
        if isinstance(exc, PermissionError):
            return f"{what}: {path}; make it writable or choose another folder (e.g. --results-dir)"
        if exc.errno == errno.ENOSPC:
            return f"{what} writing {path}; free some space and rerun (finished work is kept)"
        return f"{what}: {path}" if path else what
    kind = "not UTF-8 text" if isinstance(exc, UnicodeError) else \
        "not valid JSON" if type(exc).__name__ == "JSONDecodeError" else "empty or not a CSV table"
    found = _file_in_traceback(exc)
    where = f"{found} is {kind}" if found else f"a file is {kind} (-v shows which)"
    return f"{where} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); replace or delete it"


def _file_in_traceback(exc: BaseException) -> str | None:
    """The file the failing read was given: among the paths to existing files that the
    innermost frames of this project's code hold, the one that fails the same way when read
    again (so a frame holding two paths never names the wrong one)."""
    project = str(Path(__file__).resolve().parents[1])
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        if frame.f_code.co_filename.startswith(project):
            for value in list(frame.f_locals.values()):
                if isinstance(value, (str, Path)) and len(str(value)) < 4096 and _fails_alike(value, exc):
                    return str(value)
    return None


def _fails_alike(value, exc: BaseException) -> bool:
    """Whether the file ``value`` names is what ``exc`` failed on: the text a JSON error
    quotes, the bytes a decode error quotes, or a CSV that fails to parse again."""
    import pandas as pd

    try:
        path = Path(value)
        if not path.is_file():
            return False
        if isinstance(exc, OSError):
            path.open("rb").close()
            return False
        if isinstance(exc, UnicodeDecodeError):
            return bool(exc.object) and bytes(exc.object) in path.read_bytes()
        if type(exc).__name__ == "JSONDecodeError":
            return exc.doc == path.read_text(encoding="utf-8")
        pd.read_csv(path, nrows=1000)
    except Exception as again:
        return type(again) is type(exc)
    return False


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and the full traceback of an error.")
@click.version_option(package_name="ipiqa-bench")
def main(verbose):
    """Benchmark harness for AI-generated image quality assessment (IP-IQA, ICME 2024)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="ipiqa-bench: %(message)s", stream=sys.stderr)


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when the option is used (plugins included),
    not when this module is imported."""

    def __init__(self, names):
        super().__init__([])
        self._names = names

    @property
    def choices(self):
        return tuple(self._names())

    @choices.setter
    def choices(self, value):
        pass


def _executor_names():
    return executor_names()


def dataset_options(f):
    f = click.option("--root", type=click.Path(path_type=Path), help="Dataset folder (default: datasets/<name> or $IPIQA_DATA/<name>).")(f)
    return click.option("--dataset", required=True, help="Dataset name (demo, agiqa1k, agiqa3k, ...).")(f)


drop_invalid_option = click.option("--drop-invalid", is_flag=True,
                                   help="Drop the rows `ipiqa-bench check` reports instead of refusing.")


def split_options(f):
    f = click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
                     show_default=True, help="Test fraction, in (0, 1).")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Split seed.")(f)
    return click.option("--splits", "n_splits", type=click.IntRange(1), default=10, show_default=True, help="Number of splits.")(f)


@main.command("list")
@click.option("--config", "config_of", metavar="METHOD", default=None,
              help="Print METHOD's resolved config: each value, its source and where it is declared.")
@click.option("--dataset", default=None,
              help="What each method needs on this dataset (its preset for it), and whether the dataset is here; "
                   "with --config: the dataset whose preset to apply.")
@click.option("--root", type=click.Path(path_type=Path), default=None, help="With --dataset: the dataset's folder.")
@click.option("--preset", default=None, help="A named preset instead of the dataset's.")
@click.option("--extensions", is_flag=True,
              help="List the method families, metrics, executors and dataset target columns instead.")
@click.option("--family", default=None, help="Only this family's methods.")
def list_command(config_of, dataset, root, preset, extensions, family):
    """List every registered method, its metadata, fidelity, licence and what it needs: with
    --dataset, on that dataset (files present, shipped, missing, or built on first use)."""
    from tabulate import tabulate

    if extensions:
        click.echo(_extensions_listing())
        return
    if config_of is not None:
        check_preset(preset, [get_method_info(config_of)])
        resolved = resolve_config(config_of, dataset, preset)
        rows = [[k, repr(v), resolved.sources[k], resolved.origins[k]] for k, v in resolved.values.items()]
        click.echo(f"{resolved.method}" + (f" on {dataset}" if dataset else "")
                   + f" (preset: {resolved.preset or 'none'})")
        click.echo(tabulate(rows, headers=["key", "value", "source", "declared in"]))
        return


    needs = api.needs(dataset, root=root, preset=preset, family=family)
    if dataset is not None:
        click.echo(f"dataset {dataset}: {needs.dataset}")
    rows = []
    for m in list_methods():
        if family is not None and m.family != family:
            continue
        assets = ", ".join(needs.methods[m.name]) or "-"
        rows.append([m.name, m.display, m.family, "yes" if m.uses_prompt else "no", "yes" if m.trains else "no",
                     ",".join(m.targets), "higher" if m.higher_is_better else "lower", m.fidelity_kind,
                     m.licence or "-", assets])
    if not rows:
        raise BenchError(f"no methods in family {family!r}")
    click.echo(tabulate(rows, headers=["method", "row name", "family", "prompt", "trains", "targets", "better",
                                       "fidelity", "licence", f"needs on {dataset}" if dataset else "assets"]))
    click.echo(f"{len(rows)} method(s)")
    click.echo("\nWhat each method is, and how close to the published method (fidelity):")
    for m in list_methods():
        if family is None or m.family == family:
            click.echo(f"{m.name}: {m.description or '(no description)'}\n    {m.fidelity}")


def _extensions_listing() -> str:
    """The open registries' entries (bench.plugins), plugins included."""
    from tabulate import tabulate


    blocks = [
        tabulate([[f.name, f.order, ",".join(map(str, f.tables)) or "-",
                   ", ".join(f"{k}={v}" for k, v in f.resources.items()) or "-", f.description]
                  for f in list_families()], headers=["family", "order", "tables", "resources", "description"]),
        tabulate([[m.name, "higher" if m.higher_is_better else "lower", "yes" if m.in_tables else "no"]
                  for m in list_metrics()], headers=["metric", "better", "in tables"]),
        tabulate([[e.name, e.description] for e in EXECUTOR_REGISTRY.entries()], headers=["executor", "description"]),
        tabulate([[c.name, c.kind, c.description] for c in TARGET_COLUMNS.entries()],
                 headers=["target column", "kind", "description"]),
    ]
    return "\n\n".join(blocks)


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
    """One option per ``TrainConfig`` field that has a help text (bench.train.config)."""
    for field in reversed(cli_options()):
        flag = field.name.replace("_", "-")
        if "bool" in str(field.type):  # --x/--no-x; neither given: the method's default
            f = click.option(f"--{flag}/--no-{flag}", field.name, default=None, help=field.metadata["help"])(f)
        else:
            f = click.option(f"--{flag}", field.name, type=_click_type(field), default=None,
                             help=field.metadata["help"])(f)
    return f


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
@click.option("--executor", type=RegistryChoice(_executor_names), default="local", show_default=True,
              help="What runs the work: local, ray, or an executor a plugin registers.")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Parallel workers (default: 1 locally; with ray, every CPU of the local Ray).")
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
def run_command(methods, dataset, root, n_splits, seed, test_size, results_dir, device, force,
                drop_invalid, executor, jobs, ray_address, preset, random_init, evaluate, train_on, train_root,
                recipe, **train):
    """Fit and evaluate methods on every split; results go to <results>/<dataset>/<method>/."""
    try:
        outcomes = api.run(methods, dataset, root=root, splits=n_splits, seed=seed, test_size=test_size,
                           results_dir=results_dir, device=device, force=force,
                           drop_invalid=drop_invalid, executor=executor, jobs=jobs, ray_address=ray_address,
                           preset=preset, overrides=train, random_init=random_init, evaluate=evaluate,
                           train_on=train_on, train_root=train_root, recipe=recipe)
    except KeyboardInterrupt as exc:  # RunInterrupted says what was kept; before the run started, nothing was
        message = str(exc) or "interrupted before any split ran; rerun the same command to start again."
        click.echo("\n".join(f"ipiqa-bench: {line}" for line in message.splitlines()), err=True)
        sys.exit(130)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        if not o.reported:  # the plan or the [k/N] lines showed the others' errors
            click.echo(f"ipiqa-bench: {o.method} failed: {o.message}", err=True)
    sys.exit(1 if failed else 0)


@main.command("table")
@click.option("--dataset", default=None, help="Only this dataset (default: every dataset with results).")
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), help=RESULTS_HELP)
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "csv"]), default="markdown", show_default=True)
@click.option("--paper", is_flag=True, help="Add the paper's published numbers, our difference, each mean's 95% "
                                           "t-interval over the row's splits and whether the paper's figure lies in it.")
@click.option("--table", "which", type=click.Choice(["1", "2", "all"]), default="all", show_default=True,
              help="all: Tables 1 and 2 and the targets neither shows.")
@click.option("--plcc", type=click.Choice(list(PLCC_KINDS)), default=None,
              help="PLCC after the 4-parameter logistic (sign kept), plain Pearson, or logistic-cv (the logistic fitted "
                   "out of fold, 5-fold within the test side; bench/results/metrics.py). Default: raw where the "
                   "paper's numbers are shown (--paper, --ablation: the paper's kind), logistic otherwise.")
@click.option("--rmse", is_flag=True, help="Add RMSE (after the logistic mapping) to markdown/LaTeX; CSV always has it.")
@click.option("--methods", default=None,
              help="Only these methods (as `run --methods`; default: every result). Selected methods without "
                   "results are listed under the table.")
@click.option("--ci", is_flag=True, help="Add the 95% t-interval of each mean over the splits (bench/report/significance.py).")
@click.option("--ablation", is_flag=True, help="Table 3: the IP-IQA ablation rows, the paper's numbers beside ours.")
@click.option("--eval", "evaluate", type=click.Choice(["splits", "all"]), default="splits", show_default=True,
              help="all: the `run --eval all` results (every image, no split) instead.")
@click.option("--cross", is_flag=True, help="The cross-dataset train x test matrix (`run --train-on`).")
@click.option("--selection-gap", "gap", is_flag=True,
              help="Per trained row: the run's epoch choice against the epoch chosen on the test set, from the "
                   "same training (needs runs that recorded every epoch: record_epoch_metrics).")
def table_command(dataset, results_dir, fmt, paper, which, plcc, rmse, methods, ci, ablation, evaluate, cross, gap):
    """Render Table 1 (quality) and Table 2 (alignment) from the result files."""
    if evaluate == "all" or cross:
        text = whole_dataset.render_table(results_dir, dataset, fmt, cross)
        if not text:
            raise BenchError(f"no {'cross-dataset' if cross else 'all-images'} results under {results_dir}; run "
                             f"`ipiqa-bench run {'--train-on D' if cross else '--eval all'}` first")
        click.echo(text, nl=False)
        return

    kind = plcc or ("raw" if paper or ablation else "logistic")
    summary, results, missing = summary_of(results_dir, dataset, methods=methods, plcc=kind,
                                            paper=paper and not ablation, ci=(ci or paper) and not ablation)
    if gap:
        text = render_selection_gap(selection_gap(results, split_metrics(results, kind), kind), fmt)
        if not text:
            raise BenchError(f"no results to compare epochs of under {results_dir}")
        click.echo(text, nl=False)
        return
    if ablation:
        rows = ablation_summary(summary, {r.method: r.manifest.config for r in results})
        if rows.empty:
            raise BenchError(f"no IP-IQA ablation results under {results_dir}; run `ipiqa-bench run --methods ipiqa`")
        click.echo(render_ablation(rows, fmt, paper), nl=False)
        return
    if fmt == "csv":  # one row per method, dataset and target; --table keeps that table's rows
        rows = summary if which == "all" else tables.layout_rows(summary, int(which))
        click.echo(tables.csv_table(rows, paper), nl=False)
        for line in missing:
            log.warning("%s", line)
        return
    shown = {"1": [1], "2": [2], "all": [1, 2, "other"]}[which]
    parts = [tables.render(summary, fmt, paper, t, rmse) for t in shown]
    if 2 in shown and not parts[shown.index(2)]:
        parts[shown.index(2)] = _comment(fmt, tables.TABLE2_EMPTY)
    click.echo("\n".join(p for p in parts if p))
    if paper and set(summary["dataset"]) & tables.paper_datasets():
        click.echo(_comment(fmt, tables.SIGN_NOTE))

    for note in protocol_notes(results_dir, summary["dataset"]):
        click.echo(_comment(fmt, f"Splits — {note}"))
    for line in missing:
        click.echo(_comment(fmt, line))


def _comment(fmt: str, text: str) -> str:
    if fmt == "latex":
        return "\n" + latex_safe(latex_escape(text)) + "\n"
    return f"\n{text}"


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


COMMANDS_ENTRY_POINT_GROUP = "ipiqa_bench.commands"


def _load_command_modules() -> None:
    """Commands added by other modules attach themselves to ``main``: the harness's own
    (bench/cli/commands/*.py) and those of packages, through the entry-point group
    ``ipiqa_bench.commands`` (IP-IQA's ``pretrain`` is one). A plugin that fails to import
    is reported once; every other command stays usable."""
    from importlib.metadata import entry_points


    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bench.cli.commands.{module.name}")
    for ep in entry_points(group=COMMANDS_ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001  (a broken plugin must not break the CLI)
            log.warning("command plugin %s (%s) failed to import: %s: %s", ep.name, ep.value, type(exc).__name__, exc)


_load_command_modules()
