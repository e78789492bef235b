"""Open registries: one small generic ``Registry`` per kind of extension (as
lm-evaluation-harness keeps one per kind): methods, method families, metrics, executors,
datasets and dataset target columns.

Each entry is registered by the module that defines it. On the first lookup of a name it
does not hold (or the first listing), a registry imports its built-in modules, then the
modules named by its entry-point group (``ipiqa_bench.<kind>``) and by
``$IPIQA_BENCH_PLUGINS`` (comma-separated, for plugins without packaging). A plugin that
fails to import is logged once and left out: every other entry stays usable.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterable, TypeVar

from bench.errors import BenchError

log = logging.getLogger("ipiqa_bench")
PLUGINS_ENV = "IPIQA_BENCH_PLUGINS"
T = TypeVar("T")
_failed: dict[str, str] = {}  # plugin -> why it did not import


def import_plugin(name: str, load: Callable[[], object], source: str) -> bool:
    """Run ``load`` (the import of plugin ``name``, named by ``source``); a failure is
    logged once per plugin, whatever number of groups name it, and never raised."""
    if name in _failed:
        return False
    try:
        load()
    except Exception as exc:  # a broken plugin must not break the harness
        _failed[name] = f"{type(exc).__name__}: {exc}"
        log.warning("plugin %s (%s) failed to import and is left out: %s", name, source, _failed[name])
        return False
    return True


def failed_plugins() -> dict[str, str]:
    return dict(_failed)


def load_entry_points(group: str) -> None:
    for ep in entry_points(group=group):
        import_plugin(ep.value, ep.load, f"entry point {group}")


def load_env_plugins() -> None:
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        import_plugin(module, lambda module=module: importlib.import_module(module), f"${PLUGINS_ENV}")


class Registry(Generic[T]):
    """Named entries of one kind.

    ``builtins``: modules to import (or a function that imports them) before the plugins;
    ``identity(entry)``: what makes two registrations of a name the same one (registering a
    different entry under a taken name is an error, re-registering the same one is not).
    """

    def __init__(self, kind: str, group: str, builtins: Iterable[str] | Callable[[], None] = (),
                 identity: Callable[[T], object] = lambda entry: entry):
        self.kind = kind
        self.group = group
        self._builtins = builtins
        self._identity = identity
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str, entry: T) -> T:
        old = self._entries.get(name)
        if old is not None and self._identity(old) != self._identity(entry):
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def load(self) -> None:
        """Import the built-in modules, then the plugins, once."""
        if self._loaded:
            return
        self._loaded = True  # first, so that modules importing each other do not recurse
        if callable(self._builtins):
            self._builtins()
        else:
            for module in self._builtins:
                importlib.import_module(module)
        load_entry_points(self.group)
        load_env_plugins()

    def find(self, name: str) -> T | None:
        """The entry, or None; plugins are loaded only when the name is not registered yet."""
        if name not in self._entries:
            self.load()
        return self._entries.get(name)

    def get(self, name: str) -> T:
        entry = self.find(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            broken = "".join(f"; plugin {p} failed to import ({why})" for p, why in _failed.items())
            raise BenchError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}{broken}")
        return entry

    def registered(self) -> list[T]:
        """The entries registered so far, without loading anything."""
        return list(self._entries.values())

    def entries(self) -> list[T]:
        """Every entry, in registration order."""
        self.load()
        return list(self._entries.values())

    def names(self) -> list[str]:
        self.load()
        return list(self._entries)


class NamesView(Sequence):
    """A read-only tuple of names computed on use, so that a module constant (``FAMILIES``)
    keeps working while plugins add to the registry behind it."""

    def __init__(self, names: Callable[[], Sequence[str]]):
        self._names = names

    def __getitem__(self, i):
        return tuple(self._names())[i]

    def __len__(self):
        return len(self._names())

    def __eq__(self, other):
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    def __hash__(self):
        return hash(tuple(self))

    def __repr__(self):
        return repr(tuple(self))


class MappingView(Mapping):
    """A read-only dict computed on use (``TARGET_COLUMN_KINDS``), for the same reason."""

    def __init__(self, items: Callable[[], dict]):
        self._items = items

    def __getitem__(self, key):
        return self._items()[key]

    def __iter__(self):
        return iter(self._items())

    def __len__(self):
        return len(self._items())

    def __repr__(self):
        return repr(self._items())
