"""One resolver for a method's config, recording where every value came from.

A method declares its config beside its class (as timm keeps ``default_cfgs`` beside the
model; see ``bench.method.Method``): constructor defaults, ``defaults`` (departures from
them, e.g. HyperNet's 224-px crops), ``defaults_when`` (defaults that hold for a given
value of another key, e.g. IP-IQA on the stand-in CLIP) and named ``presets`` (a dataset's
name selects its preset by default, e.g. the demo's miniature training). ``resolve_config``
layers them, then the run's overrides, and says for each value:

* its *source*: ``default``, ``preset:<name>`` or ``override`` (recorded in the manifest's
  ``config_sources``; a table row shows the overrides);
* its *origin*: where the value is written, e.g. ``HyperNet.defaults``
  (``ipiqa-bench list --config METHOD``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from bench.errors import BenchError
from bench.registry import get_method_info

DEFAULT, OVERRIDE = "default", "override"
# Training recipes (``run --recipe``): ``authors``, each method's own declared ``defaults``;
# ``paper``, the IP-IQA paper's protocol (TrainConfig's defaults) for every method: a method's
# declared departures in these keys are dropped. Input handling (image size, crops, flips)
# belongs to the method and stays.
RECIPES = ("authors", "paper")
RECIPE_KEYS = ("optimizer", "lr", "lr_schedule", "lr_milestones", "lr_step_factor", "lr_period", "lr_skip_zero",
               "weight_decay", "momentum", "batch_size", "epochs", "loss")
# Preset names with a meaning of their own: the method's plain defaults, whatever the dataset.
NO_PRESET = ("default", "none")
# A preset a class may leave undeclared where it would repeat another: ``full`` (the demo's
# slower, higher-fidelity settings) is the ``demo`` preset wherever the demo's is already that.
PRESET_FALLBACK = {"full": "demo"}


@dataclass(frozen=True)
class ResolvedConfig:
    method: str
    values: dict
    sources: dict  # key -> "default" | "preset:<name>" | "override"
    origins: dict  # key -> where the value is declared
    preset: str | None  # the preset applied, if the method has it

    def overrides(self) -> dict:
        return {k: v for k, v in self.values.items() if self.sources[k] == OVERRIDE}


def _init_chain(cls) -> list[type]:
    """The classes whose ``__init__`` a construction runs through, most derived first: the
    chain goes on while an ``__init__`` forwards ``**kwargs`` to its parent."""
    chain = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        chain.append(klass)
        params = inspect.signature(init).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return chain


def _named_params(klass):
    return [(name, p) for name, p in inspect.signature(klass.__dict__["__init__"]).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def constructor_keys(cls) -> list[str]:
    """Named constructor arguments along the ``__init__`` chain, base classes first."""
    keys: list[str] = []
    for klass in reversed(_init_chain(cls)):
        keys += [name for name, _ in _named_params(klass) if name not in keys]
    return keys


def constructor_defaults(cls) -> list[tuple[str, dict]]:
    """(origin, values) of each constructor's defaults, base classes first."""
    return [(f"{klass.__name__}.__init__", {name: p.default for name, p in _named_params(klass)
                                            if p.default is not p.empty})
            for klass in reversed(_init_chain(cls))]


def declared_defaults(cls, recipe: str = "authors") -> dict[str, tuple[object, str]]:
    """key -> (value, origin) before presets and overrides, conditions not yet applied."""
    out: dict[str, tuple[object, str]] = {}
    for origin, values in cls.default_layers():
        if recipe == "paper" and origin.endswith(".defaults"):  # a method may name recipe keys of its own
            values = {k: v for k, v in values.items() if k not in (*RECIPE_KEYS, *getattr(cls, "recipe_keys", ()))}
        for key, value in values.items():
            # A constructor's None means "the declared default": it does not hide one.
            if not (value is None and origin.endswith(".__init__") and key in out):
                out[key] = (value, origin)
    return out


def preset_values(cls, name: str | None) -> tuple[dict, str] | None:
    """The preset ``name`` of ``cls`` (the most derived class declaring it) and its origin."""
    if name is None or name in NO_PRESET:
        return None
    for declared in (name, PRESET_FALLBACK.get(name)):
        for klass in cls.__mro__:
            presets = klass.__dict__.get("presets") or {}
            if declared in presets:
                return dict(presets[declared]), f"{klass.__name__}.presets[{declared!r}]"
    return None


def resolve_layers(cls, explicit: list[tuple[str, str, dict]], method: str = "", preset: str | None = None
                   ) -> ResolvedConfig:
    """Defaults, then conditional defaults, then each explicit (source, origin, values) layer."""
    values, sources, origins = {}, {}, {}
    recipe = "authors"
    for _, _, layer in explicit:
        recipe = layer.get("recipe") or recipe
    if recipe not in RECIPES:
        raise BenchError(f"unknown recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
    for key, (value, origin) in declared_defaults(cls, recipe).items():
        values[key], sources[key], origins[key] = value, DEFAULT, origin
    probe = dict(values)
    for _, _, layer in explicit:
        probe.update(layer)
    for owner, when, conditional in cls.conditional_defaults():
        if all(probe.get(k) == v for k, v in when.items()):
            condition = ", ".join(f"{k}={v!r}" for k, v in when.items())
            for key, value in conditional.items():
                values[key], origins[key] = value, f"{owner}.defaults_when[{condition}]"
    own_recipe = getattr(cls, "recipe_keys", ())
    # presets that carry the authors' recipe for a dataset (IPCE's epochs per dataset)
    authors_presets = {f"preset:{name}" for name in getattr(cls, "recipe_presets", ())}
    for source, origin, layer in explicit:
        for key, value in layer.items():
            if recipe == "paper" and source.startswith("preset:") and (
                    key in own_recipe or (source in authors_presets and key in RECIPE_KEYS)):
                continue  # a preset scales the method's own recipe (DBCNN's fc stage): the paper has none
            values[key], sources[key], origins[key] = value, source, origin
    return ResolvedConfig(method, values, sources, origins, preset)


def resolve_config(method, dataset: str | None = None, preset: str | None = None,
                   overrides: dict | None = None) -> ResolvedConfig:
    """The config a method runs with: defaults, the preset (``preset``, else the one named
    after ``dataset`` if the method has it), then ``overrides`` (None values and keys the
    method does not take are ignored: one set of run options serves every method)."""
    info = get_method_info(method) if isinstance(method, str) else method
    cls = info.cls
    found = preset_values(cls, preset if preset is not None else dataset)
    keys = set(cls.config_keys())
    given = {k: v for k, v in (overrides or {}).items() if v is not None and k in keys}
    layers = []
    name = None
    if found is not None:
        name = preset if preset is not None else dataset
        layers.append((f"preset:{name}", found[1], found[0]))
    layers.append((OVERRIDE, OVERRIDE, given))
    return resolve_layers(cls, layers, info.name, name)


def preset_names(cls) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        names += [n for n in (klass.__dict__.get("presets") or {}) if n not in names]
    names += [n for n, fallback in PRESET_FALLBACK.items() if fallback in names and n not in names]
    return sorted(names)


def check_preset(preset: str | None, methods: list) -> None:
    """A preset asked for by name must be declared by at least one of ``methods`` (infos):
    a mistyped name would otherwise run every method on its plain defaults."""
    if preset is None or preset in NO_PRESET:
        return
    if any(preset_values(info.cls, preset) is not None for info in methods):
        return
    declared = sorted({name for info in methods for name in preset_names(info.cls)})
    raise BenchError(f"no selected method declares preset {preset!r}; "
                     f"declared: {', '.join(declared) or 'none'} (or 'default' for none)")
