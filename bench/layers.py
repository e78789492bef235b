"""The layers of the house, bottom first: a module imports only from its own layer or the
ones below it, never from above, not even inside a function (tests/test_layers.py checks
every import; docs/architecture.md shows this list).

An import inside a function is kept only where the imported module is heavy (it loads torch,
Ray or matplotlib when imported), so that ``ipiqa-bench --help`` and the tables start fast.
"""

LAYERS: tuple[tuple[str, ...], ...] = (
    ("bench", "bench.layers", "bench.data", "bench.errors", "bench.files", "bench.images", "bench.devices",
     "bench.bars"),
    ("bench.assets", "bench.plugins"),
    ("bench.targets", "bench.config", "bench.method", "bench.registry"),
    ("bench.datasets",),
    ("bench.splits",),
    ("bench.results",),
    ("bench.train",),
    ("bench.run",),
    ("bench.report",),
    ("bench.api",),
    ("bench.testing",),
    ("bench.cli", "bench.__main__"),
)
# Third-party packages whose import costs seconds or needs an optional extra.
HEAVY_PACKAGES = ("torch", "torchvision", "open_clip", "pyiqa", "ray", "matplotlib", "transformers")


def layer_of(module: str) -> int:
    """The index of the layer ``module`` (``bench.x.y``) belongs to: its longest listed prefix."""
    best, found = -1, None
    for index, members in enumerate(LAYERS):
        for member in members:
            inside = module == member or (member != "bench" and module.startswith(member + "."))
            if inside and len(member) > best:
                best, found = len(member), index
    if found is None:
        raise KeyError(f"{module} is in no layer of bench.layers.LAYERS")
    return found
