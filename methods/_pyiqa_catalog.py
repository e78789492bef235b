"""What pyiqa says about its no-reference metrics, read from pyiqa itself.

The metric list and each metric's sign come from pyiqa's ``DEFAULT_CONFIGS`` (what
``pyiqa.list_models(metric_mode="NR")`` filters, in its order), read from its module file:
``import pyiqa`` loads torch, timm and transformers (15 s), too slow for every command. Two facts pyiqa keeps in its network code rather than in its config
table are read from the source of its ``archs`` modules, without importing them (some need
optional packages, and importing every network would make ``ipiqa-bench list`` slow):

* distribution metrics (FID, Inception Score) are the networks whose ``forward`` takes a
  folder of images instead of an image tensor: they score a set, not an image, so they are
  not rows;
* the pretrained files a metric loads are the entries of its module's ``default_model_urls``
  that its options select, and the CLIP release it names. Backbones a network fetches on
  its own (timm, torchvision) are not listed here; they are still resolved through the asset
  cache when the metric is built (methods/_pyiqa_downloads.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, metadata
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path

PYIQA_WEIGHTS = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main"
PYIQA_RELEASES = "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights"
# Calls and arguments by which a pyiqa network reaches for a file it did not ship with.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DOWNLOADS = ("load_pretrained_network", "load_file_from_url", "from_pretrained", "load_state_dict_from_url",
              "clip.load", "create_model", "weights=", "pretrained=True")


@dataclass(frozen=True)
class ZooMetric:
    name: str            # pyiqa's metric name, e.g. "topiq_nr"
    arch: str            # the network type in its metric_opts, e.g. "CFANet"
    lower_better: bool
    score_range: str
    urls: tuple[str, ...]  # the pretrained files its options select (see module docstring)
    downloads: bool      # its network module loads anything at all
    takes_text: bool     # its network scores an image against a caption (pyiqa's CLIPScore)
    hub_repos: tuple[str, ...] = ()  # Hugging Face repositories it reads with from_pretrained


@dataclass(frozen=True)
class _Arch:
    forward_args: tuple
    init_defaults: dict
    model_urls: dict
    uses_clip: bool
    downloads: bool
    always_read: tuple  # the default_model_urls keys its code subscripts with a literal
    hub_repos: dict     # module-level {key: "org/name"} tables and from_pretrained("org/name") literals


def pyiqa_licence() -> str:
    """The licence pyiqa's installed distribution declares (PolyForm Noncommercial since 2026)."""
    try:
        meta = metadata("pyiqa")
    except PackageNotFoundError:
        return "unknown"
    return meta.get("License-Expression") or meta.get("License") or "unknown"


@lru_cache(maxsize=1)
def zoo_metrics() -> tuple[ZooMetric, ...]:
    """Every pyiqa no-reference metric that scores single images, in pyiqa's order."""
    configs = _default_configs()
    archs = _read_archs()
    clip_urls = _clip_release_urls()
    metrics = []
    for name in _no_reference(configs):
        config = configs[name]
        options = dict(config["metric_opts"])
        arch = archs.get(options["type"])
        if arch is not None and arch.forward_args and "dir" in arch.forward_args[0]:
            continue  # a distribution metric: it reads folders, not images
        urls = _selected_urls(name, arch, options, clip_urls) if arch else ()
        repos = _selected_repos(arch, options) if arch else ()
        metrics.append(ZooMetric(name=name, arch=options["type"], lower_better=bool(config.get("lower_better", False)),
                                 score_range=str(config.get("score_range", "")), urls=urls,
                                 downloads=arch is None or arch.downloads,
                                 takes_text=arch is not None and any("caption" in a for a in arch.forward_args),
                                 hub_repos=repos))
    return tuple(metrics)


def distribution_metrics() -> list[str]:
    """pyiqa's NR metrics left out because they score image sets (for tests and the README)."""
    kept = {m.name for m in zoo_metrics()}
    return [name for name in _no_reference(_default_configs()) if name not in kept]


def _no_reference(configs: dict) -> list[str]:
    """``pyiqa.list_models(metric_mode="NR")``: the NR names in natural sort order."""
    def natural(name):
        return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", name.lower())]

    return sorted((name for name, config in configs.items() if config.get("metric_mode") == "NR"), key=natural)


@lru_cache(maxsize=1)
def _default_configs() -> dict:
    """pyiqa's ``DEFAULT_CONFIGS``, executed from its own file outside the package."""
    path = _archs_folder().parent / "default_model_configs.py"
    spec = spec_from_file_location("_pyiqa_default_model_configs", path)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DEFAULT_CONFIGS


def _selected_urls(name: str, arch: _Arch, options: dict, clip_urls: dict) -> tuple[str, ...]:
    """The files a metric's options (its name, its options, its network's defaults) select:
    keys equal to one of them or made of them (``f"{backbone}-{dataset}"``), else the
    module's ``"url"`` entry, else the entries its code always reads."""
    chosen = {**arch.init_defaults, **options}
    values = {name} | {v for v in chosen.values() if isinstance(v, str)}
    urls = [url for key, url in arch.model_urls.items()
            if key in values or all(part in values for part in str(key).split("-"))]
    if not urls and "url" in arch.model_urls:
        urls = [arch.model_urls["url"]]
    if not urls:
        urls = [arch.model_urls[key] for key in arch.always_read if key in arch.model_urls]
    if arch.uses_clip:
        urls += [clip_urls[v] for v in values if v in clip_urls]
    return tuple(dict.fromkeys(urls))


def _selected_repos(arch: _Arch, options: dict) -> tuple[str, ...]:
    if not arch.hub_repos:
        return ()
    chosen = {**arch.init_defaults, **options}
    values = [v for v in chosen.values() if isinstance(v, str)]
    repos = [arch.hub_repos[v] for v in values if v in arch.hub_repos]
    repos += [repo for key, repo in arch.hub_repos.items() if key is None]  # from_pretrained literals
    repos += [v for v in values if _HUB_ID.match(v)]
    return tuple(dict.fromkeys(repos))


def _hub_repos(tree: ast.Module) -> dict:
    repos = {}
    for node in tree.body:  # module-level tables such as {"mini": "q-future/Q-ReAlign-Mini-0.8B"}
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Constant) \
                        and isinstance(value.value, str) and _HUB_ID.match(value.value):
                    repos[key.value] = value.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_pretrained" and node.args \
                and isinstance(node.args[0], ast.Constant) and _HUB_ID.match(str(node.args[0].value)):
            repos.setdefault(None, node.args[0].value)
    return repos


def _archs_folder() -> Path:
    return Path(find_spec("pyiqa").submodule_search_locations[0]) / "archs"


@lru_cache(maxsize=1)
def _read_archs() -> dict[str, _Arch]:
    """Registered network classes of pyiqa's ``archs`` package, by class name."""
    archs = {}
    for path in sorted(_archs_folder().glob("*_arch.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        model_urls = _model_urls(tree)
        downloads = any(marker in source for marker in _DOWNLOADS)
        uses_clip = "clip" in source and "load(" in source
        downloads = downloads or uses_clip
        hub_repos = _hub_repos(tree) if "from_pretrained" in source else {}
        always_read = tuple(re.findall(r"default_model_urls\[['\"]([^'\"]+)['\"]\]", source))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any("ARCH_REGISTRY" in ast.unparse(d) for d in node.decorator_list):
                archs[node.name] = _Arch(_forward_args(node), _init_defaults(node), model_urls, uses_clip, downloads,
                                     always_read, hub_repos)
    return archs


def _forward_args(cls: ast.ClassDef) -> tuple:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "forward":
            return tuple(a.arg for a in item.args.args[1:])
    return ()


def _init_defaults(cls: ast.ClassDef) -> dict:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args.args[1:]
            defaults = item.args.defaults
            pairs = zip(args[len(args) - len(defaults):], defaults)
            return {a.arg: d.value for a, d in pairs if isinstance(d, ast.Constant)}
    return {}


def _model_urls(tree: ast.Module) -> dict:
    """The module's ``default_model_urls = {key: get_url_from_name('file') or 'https://...'}``."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "default_model_urls" for t in node.targets) \
                and isinstance(node.value, ast.Dict):
            urls = {}
            for key, value in zip(node.value.keys, node.value.values):
                url = _url_of(value)
                if isinstance(key, ast.Constant) and url:
                    urls[key.value] = url
            return urls
    return {}


def _url_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("http"):
        return node.value
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "get_url_from_name":
        args = {**{k.arg: k.value for k in node.keywords}, **dict(zip(("name", "store_base"), node.args))}
        name = args.get("name")
        store = args.get("store_base")
        if isinstance(name, ast.Constant):
            github = isinstance(store, ast.Constant) and store.value == "github"
            return f"{PYIQA_RELEASES if github else PYIQA_WEIGHTS}/{name.value}"
    return None


@lru_cache(maxsize=1)
def _clip_release_urls() -> dict:
    """OpenAI's CLIP release files by model name, from pyiqa's copy of ``clip._MODELS``."""
    tree = ast.parse((_archs_folder() / "clip_model.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_MODELS" for t in node.targets):
            return {k.value: v.value for k, v in zip(node.value.keys, node.value.values)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
    return {}
