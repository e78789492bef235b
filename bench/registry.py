"""The method registry: one decorator registers a scorer, one factory builds it by name.

Modelled on timm's ``register_model``/``create_model``: metadata is data attached to the
registration, not a subclass hierarchy. Method families (a table's row groups) are an
open registry too (``register_family``). Third-party packages register methods through
the entry-point group ``ipiqa_bench.methods`` and families through
``ipiqa_bench.families`` (each entry point names a module to import), or, without
packaging, by naming modules in ``$IPIQA_BENCH_PLUGINS`` (bench.plugins).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from dataclasses import dataclass, field

from bench.assets import needs_download
from bench.errors import BenchError
from bench.plugins import NamesView, Registry
from bench.targets import is_score_kind, score_kinds

log = logging.getLogger("ipiqa_bench")
# How close a row is to the published method, the first word of a method's ``fidelity``:
# faithful (checked against the original code's outputs), reimplementation (the published
# method, not checked against its code), approximation (departs from it: its display name
# says so and it gets no paper delta), variant (no row of the paper: a harness extension).
FIDELITY_KINDS = ("faithful", "reimplementation", "approximation", "variant")
ENTRY_POINT_GROUP = "ipiqa_bench.methods"
FAMILY_ENTRY_POINT_GROUP = "ipiqa_bench.families"


@dataclass(frozen=True)
class Family:
    """A group of methods: a block of rows in the tables and a default for schedulers."""

    name: str
    order: int  # position in listings and tables (lower first)
    tables: tuple[int, ...] = (1,)  # the paper's tables that show its rows: 1 quality, 2 alignment
    # What one (method, split) task of the family asks of a scheduler (Ray) when the method
    # declares nothing, e.g. {"num_gpus": 1} for networks.
    resources: dict = field(default_factory=dict)
    description: str = ""
    # ``all`` and the family's name select only its rows whose files are present (a zoo of
    # tens of GB); a row named on its own is fetched as usual.
    present_only: bool = False


FAMILY_REGISTRY: Registry[Family] = Registry("family", FAMILY_ENTRY_POINT_GROUP)


def register_family(name: str, *, order: int, tables: tuple[int, ...] = (1,), resources: dict | None = None,
                    description: str = "", present_only: bool = False) -> Family:
    return FAMILY_REGISTRY.register(name, Family(name, order, tuple(tables), dict(resources or {}), description,
                                                 present_only))


def list_families() -> list[Family]:
    METHOD_REGISTRY.load()  # method modules may register families (pyiqa's zoo does)
    return sorted(FAMILY_REGISTRY.entries(), key=lambda f: (f.order, f.name))


def family_tables(name: str) -> tuple[int, ...]:
    """The tables that show a family's rows; a family no installed module registers (results
    of an uninstalled plugin) shows in Table 1 only."""
    family = FAMILY_REGISTRY.find(name)
    return family.tables if family else (1,)


def family_resources(name: str | None) -> dict:
    family = FAMILY_REGISTRY.find(name) if name else None
    return dict(family.resources) if family else {}


register_family("handcrafted", order=10, description="training-free handcrafted scores")
register_family("svr", order=20, description="handcrafted features regressed per split with an SVR")
register_family("deep", order=30, resources={"num_gpus": 1}, description="networks fine-tuned per split")
register_family("alignment", order=40, tables=(2,), description="training-free text-to-image alignment scorers")
register_family("ipiqa", order=50, tables=(1, 2), resources={"num_gpus": 1},
                description="IP-IQA and its ablations (Table 3)")

# Family names in table order (a view: plugin families appear once registered).
FAMILIES = NamesView(lambda: [f.name for f in list_families()])




def fidelity_kind(fidelity: str) -> str:
    """The kind a fidelity text starts with ("faithful: ..." -> "faithful")."""
    return fidelity.split(":")[0].split(",")[0].strip()


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
    fidelity: str = "unstated"

    @property
    def fidelity_kind(self) -> str:
        return fidelity_kind(self.fidelity)
    # The licence of the code or weights a row runs, where it restricts use ("" = the harness's own).
    licence: str = ""
    # The datasets its pretrained weights were trained on (names as the harness spells them, e.g.
    # "agiqa3k"; "unknown" where no source says): tables mark a row evaluated on one of them.
    # () = no pretrained weights trained on image-quality data.
    trained_on: tuple[str, ...] = ()

    @property
    def sign(self) -> int:
        """+1, or -1 for lower-is-better methods: predictions are multiplied by it before
        correlation, so every reported correlation is positive when a method works."""
        return 1 if self.higher_is_better else -1


def _import_builtin_methods() -> None:
    import methods

    for module in pkgutil.iter_modules(methods.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"methods.{module.name}")


METHOD_REGISTRY: Registry[MethodInfo] = Registry("method", ENTRY_POINT_GROUP, _import_builtin_methods,
                                                 identity=lambda info: info.cls)


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
    fidelity: str = "unstated",
    licence: str = "",
    trained_on: tuple[str, ...] = (),
):
    """Class decorator registering a method under ``name``.

    ``fidelity``: "<kind>: <how>", kind one of FIDELITY_KINDS, e.g. "faithful: matches the
    release run under Octave to 1e-9"; "unstated" for plugins that say nothing."""
    if FAMILY_REGISTRY.find(family) is None:
        raise ValueError(f"unknown family {family!r}; expected one of {tuple(FAMILIES)} (or register it "
                         f"with register_family)")
    unknown = [kind for kind in targets if not is_score_kind(kind)]
    if unknown:
        raise ValueError(f"unknown target kinds {sorted(unknown)}; known: {', '.join(score_kinds())} (a dataset "
                         f"declares its target columns' kinds with register_target_column)")
    if fidelity != "unstated" and fidelity_kind(fidelity) not in FIDELITY_KINDS:
        raise ValueError(f"fidelity {fidelity!r} must start with one of {FIDELITY_KINDS}")

    def decorator(cls):
        wrong = contract_errors(cls)
        if wrong:
            raise TypeError(f"register_method({name!r}): {'; '.join(wrong)}")
        doc = (cls.__doc__ or "").strip().splitlines()
        METHOD_REGISTRY.register(name, MethodInfo(
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
            fidelity=fidelity,
            licence=licence,
            trained_on=tuple(trained_on),
        ))
        cls.method_name = name
        return cls

    return decorator


def _load_all() -> None:
    """Import the built-in adapters and every plugin once."""
    METHOD_REGISTRY.load()


def list_methods() -> list[MethodInfo]:
    methods = METHOD_REGISTRY.entries()  # first: loading the methods may register their families
    order = {f.name: f.order for f in list_families()}
    return sorted(methods, key=lambda m: (order.get(m.family, float("inf")), m.name))


def get_method_info(name: str) -> MethodInfo:
    return METHOD_REGISTRY.get(name)


def _declares_downloads(info: MethodInfo) -> bool:
    """The method declares a file to download (one the package ships a copy of is not)."""
    return any(needs_download(asset) for asset in info.assets)


def create_method(name: str, **config):
    """Build a method by name; ``config`` are its constructor arguments."""
    return get_method_info(name).cls(**config)


def _selected_by_name(info: MethodInfo, left_out: list[str]) -> bool:
    """Whether ``all`` or the family's name selects the method (see ``Family.present_only``);
    one it does not is added to ``left_out``."""
    family = FAMILY_REGISTRY.find(info.family)
    if family is None or not family.present_only or info.cls.files_present(info):
        return True
    left_out.append(info.name)
    return False


def resolve_method_names(spec: str, needs_download=None, _removing: bool = False, report: bool = True) -> list[str]:
    """Expand ``all``, ``offline``, family names and comma-separated method names, keeping order.

    A family name wins over a method of the same name (``ipiqa`` is all five Table 3 rows);
    ``method:NAME`` selects that one method (``method:ipiqa``, the full model alone).
    ``offline`` picks the methods that need no downloaded file; ``needs_download(info)``
    decides it for a given dataset and run (default: the method declares no asset to
    download; one the package ships, NIQE's parameters, is none). A token after a ``-``
    removes what it selects (``offline,-pyiqa``: offline, less pyiqa's family). With ``report``,
    the methods left out for want of their files are logged in one line."""
    names: list[str] = []
    removed: list[str] = []
    left_out: list[str] = []
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if token.startswith("-"):
            removed += resolve_method_names(token[1:], needs_download, _removing=True, report=False)
            continue
        # what a "-" token removes is every member, present or not, and is not reported
        selected = (lambda m: True) if _removing else (lambda m: _selected_by_name(m, left_out))
        if token == "all":
            picked = [m.name for m in list_methods() if selected(m)]
        elif token == "offline":  # everything that needs no downloaded file
            picked = [m.name for m in list_methods() if not (needs_download or _declares_downloads)(m)]
        elif token.startswith("method:"):
            picked = [get_method_info(token.removeprefix("method:").strip()).name]
        elif token in FAMILIES:
            members = [m for m in list_methods() if m.family == token]
            picked = [m.name for m in members if selected(m)]
            if members and not picked:
                raise BenchError(f"no {token} method has its files in the cache; name methods to fetch theirs "
                                 f"(`ipiqa-bench list --family {token}`)")
        else:
            picked = [get_method_info(token).name]
        names += [n for n in picked if n not in names]
    names = [n for n in names if n not in removed]
    left_out = [n for n in dict.fromkeys(left_out) if n not in removed]
    if left_out and report and not _removing:
        log.info("left out %d method(s) whose files are not in the cache: %s (name one to fetch its files; "
                 "`ipiqa-bench list` says what each needs)", len(left_out), ", ".join(left_out))
    if not names and not _removing:
        raise BenchError(f"no methods selected by {spec!r}")
    return names


def removed_method_names(spec: str) -> list[str]:
    """The methods the ``-X`` tokens of a selection remove on purpose (every member of ``X``)."""
    tokens = [t.strip()[1:] for t in spec.split(",") if t.strip().startswith("-")]
    return resolve_method_names(",".join(tokens), _removing=True, report=False) if tokens else []


def _form(value) -> str:
    """How a class attribute is written: property, classmethod, staticmethod, method or value."""
    for kind, name in ((property, "property"), (classmethod, "classmethod"), (staticmethod, "staticmethod")):
        if isinstance(value, kind):
            return name
    return "method" if inspect.isfunction(value) else "value"


# What each form of a contract attribute may be overridden with (a property of the base may
# also be a plain value; a method may become a class or static method).
_ALLOWED_FORMS = {"property": {"property", "value"}, "classmethod": {"classmethod"},
                  "staticmethod": {"staticmethod"}, "method": {"method", "classmethod", "staticmethod"},
                  "value": {"value", "property"}}


def contract_errors(cls: type) -> list[str]:
    """Every overridden piece of the method contract (an attribute a ``bench`` base class of
    ``cls`` defines) written in the wrong form: a method where a property is read
    (``def feature_key(self)`` without ``@property``), a plain method for a classmethod
    (``smoke_config``), a value of another type (``feature_version = 2``), or a property for a
    value read off the class (``smoke_slow``, ``defaults``: the root class's annotated attributes)."""
    bases = [k for k in cls.__mro__ if k.__module__.split(".")[0] == "bench"]
    class_level = set(vars(bases[-1]).get("__annotations__", {})) if bases else set()
    errors = []
    for klass in cls.__mro__:
        if klass in bases or klass is object:
            continue
        for name, value in vars(klass).items():
            base_class = next((b for b in bases if name in vars(b)), None)
            if name.startswith("_") or base_class is None:
                continue
            base = vars(base_class)[name]
            expected, given = _form(base), _form(value)
            where = f"{klass.__qualname__}.{name}"
            if given not in _ALLOWED_FORMS[expected] or (given == "property" and name in class_level):
                shown = {"value": f"a {type(base).__name__} value", "method": "a method"}.get(expected, f"a {expected}")
                errors.append(f"{where} must be {shown} (as in {base_class.__qualname__}), not a {given}")
            elif expected == "value" and given == "value" and not _same_type(base, value):
                errors.append(f"{where} must be of type {type(base).__name__} (as in {base_class.__qualname__}), "
                              f"not {value!r}")
    return errors


def _same_type(base, value) -> bool:
    if base is None or value is None:
        return True
    if isinstance(base, bool) or isinstance(value, bool):
        return isinstance(base, bool) and isinstance(value, bool)
    if isinstance(base, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(base))
