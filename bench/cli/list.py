"""``ipiqa-bench list``: the registered methods, what each needs, and the open registries."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from bench import api
from bench.cli.group import main
from bench.config import check_preset, resolve_config
from bench.errors import BenchError
from bench.registry import get_method_info, list_families, list_methods
from bench.results.metrics import list_metrics
from bench.run.executors import EXECUTOR_REGISTRY
from bench.targets import TARGET_COLUMNS


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
                     m.licence or "-", ",".join(m.trained_on) or "-", assets])
    if not rows:
        raise BenchError(f"no methods in family {family!r}")
    click.echo(tabulate(rows, headers=["method", "row name", "family", "prompt", "trains", "targets", "better",
                                       "fidelity", "licence", "trained_on",
                                       f"needs on {dataset}" if dataset else "assets"]))
    click.echo(f"{len(rows)} method(s)")
    click.echo("\nWhat each method is, and how close to the published method (fidelity):")
    for m in list_methods():
        if family is None or m.family == family:
            click.echo(f"{m.name}: {m.description or '(no description)'}\n    {m.fidelity}")


def _extensions_listing() -> str:
    """The open registries' entries (bench.plugins), plugins included."""


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
