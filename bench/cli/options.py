"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

from bench.train.config import cli_options

RESULTS_HELP = "Results folder (default: ./results)."


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
