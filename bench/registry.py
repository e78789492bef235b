"""The method registry: one decorator registers a scorer, one factory builds it by name.

Modelled on timm's ``register_model``/``create_model``: metadata is data attached to the
registration, not a subclass hierarchy. Third-party packages register methods through the
entry-point group ``ipiqa_bench.methods`` (each entry point names a module to import),
or, without packaging, by naming modules in ``$IPIQA_BENCH_PLUGINS``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from bench.errors import BenchError

FAMILIES = ("handcrafted", "svr", "deep", "alignment", "ipiqa", "pyiqa")
# What a method can predict. A dataset maps each of its target columns to one of these.
TARGET_KINDS = ("quality", "alignment", "mos")
ENTRY_POINT_GROUP = "ipiqa_bench.methods"
PLUGINS_ENV = "IPIQA_BENCH_PLUGINS"


@dataclass(frozen=True)
class MethodInfo:
    name: str
    cls: type
    family: str
    display: str
    uses_prompt: bool
    trains: bool
    targets: tuple[str, ...]
    higher_is_better: bool
    assets: tuple[str, ...]
    # Resources one (method, split) task asks of a scheduler, e.g. {"num_gpus": 1}.
    resources: dict = field(default_factory=dict)
    description: str = ""
    # The licence of the code or weights a row runs, where it restricts use ("" = the harness's own).
    licence: str = ""

    @property
    def sign(self) -> int:
        """+1, or -1 for lower-is-better methods: predictions are multiplied by it before
        correlation, so every reported correlation is positive when a method works."""
        return 1 if self.higher_is_better else -1


_REGISTRY: dict[str, MethodInfo] = {}
_loaded = False


def register_method(
    name: str,
    *,
    family: str,
    display: str | None = None,
    uses_prompt: bool = False,
    trains: bool = False,
    targets: tuple[str, ...] = ("quality", "mos"),
    higher_is_better: bool = True,
    assets: tuple[str, ...] = (),
    resources: dict | None = None,
    licence: str = "",
):
    """Class decorator registering a method under ``name``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    unknown = set(targets) - set(TARGET_KINDS)
    if unknown:
        raise ValueError(f"unknown target kinds {sorted(unknown)}")

    def decorator(cls):
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"method {name!r} is already registered")
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = MethodInfo(
            name=name,
            cls=cls,
            family=family,
            display=display or name,
            uses_prompt=uses_prompt,
            trains=trains,
            targets=tuple(targets),
            higher_is_better=higher_is_better,
            assets=tuple(assets),
            resources=dict(resources or {}),
            description=doc[0] if doc else "",
            licence=licence,
        )
        cls.method_name = name
        return cls

    return decorator


def _load_all() -> None:
    """Import the built-in adapters and every entry-point plugin once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import methods

    for module in pkgutil.iter_modules(methods.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"methods.{module.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
    # Modules named in $IPIQA_BENCH_PLUGINS (comma-separated) register without packaging.
    for module in filter(None, os.environ.get(PLUGINS_ENV, "").split(",")):
        importlib.import_module(module.strip())


def list_methods() -> list[MethodInfo]:
    _load_all()
    order = {family: i for i, family in enumerate(FAMILIES)}
    return sorted(_REGISTRY.values(), key=lambda m: (order[m.family], m.name))


def get_method_info(name: str) -> MethodInfo:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise BenchError(f"unknown method {name!r}; known methods: {known}") from None


def _declares_assets(info: MethodInfo) -> bool:
    return bool(info.assets)


def create_method(name: str, **config):
    """Build a method by name; ``config`` are its constructor arguments."""
    return get_method_info(name).cls(**config)


def resolve_method_names(spec: str, needs_download=None) -> list[str]:
    """Expand ``all``, ``offline``, family names and comma-separated method names, keeping order.

    A family name wins over a method of the same name (``ipiqa`` is all five Table 3 rows);
    ``method:NAME`` selects that one method (``method:ipiqa``, the full model alone).
    ``offline`` picks the methods that need no downloaded file; ``needs_download(info)``
    decides it for a given dataset and run (default: the method declares no asset)."""
    names: list[str] = []
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if token == "all":
            picked = [m.name for m in list_methods()]
        elif token == "offline":  # everything that needs no downloaded file
            picked = [m.name for m in list_methods() if not (needs_download or _declares_assets)(m)]
        elif token.startswith("method:"):
            picked = [get_method_info(token.removeprefix("method:").strip()).name]
        elif token in FAMILIES:
            picked = [m.name for m in list_methods() if m.family == token]
        else:
            picked = [get_method_info(token).name]
        names += [n for n in picked if n not in names]
    if not names:
        raise BenchError(f"no methods selected by {spec!r}")
    return names
