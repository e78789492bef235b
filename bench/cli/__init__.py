"""The ``ipiqa-bench`` command line: one module per command (``bench/cli/<command>.py``), each
attaching itself to the group ``main`` (bench/cli/group.py); shared options in options.py.
Logs go to stderr, results to files (tables to stdout).

A new command: a module here that decorates its function with ``@main.command(...)``, and its
name in ``COMMANDS``. A package adds commands through the entry-point group
``ipiqa_bench.commands`` (IP-IQA's ``pretrain`` is one)."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from bench.cli.group import main

__all__ = ["main"]

log = logging.getLogger("ipiqa_bench")
COMMANDS = ("list", "dataset", "splits", "run", "table", "score", "check", "report", "speed", "sanity")
COMMANDS_ENTRY_POINT_GROUP = "ipiqa_bench.commands"


def _load_commands() -> None:
    """Attach the harness's commands, then the plugins'. A plugin that fails to import is
    reported once; every other command stays usable."""
    for name in COMMANDS:
        importlib.import_module(f"bench.cli.{name}")
    for ep in entry_points(group=COMMANDS_ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001  (a broken plugin must not break the CLI)
            log.warning("command plugin %s (%s) failed to import: %s: %s", ep.name, ep.value, type(exc).__name__, exc)


_load_commands()
