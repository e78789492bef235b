"""The house is one-way: every import under bench/ (top level and inside functions) follows
bench.layers.LAYERS, no modules import each other in a circle, and an import inside a
function is only of a heavy module (one that loads torch, Ray or matplotlib)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench.layers import HEAVY_PACKAGES, LAYERS, layer_of

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((ROOT / "bench").rglob("*.py"))}


def imports_of(name: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import in module ``name``."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            found.append((target, node.lineno, id(node) not in top_level))
    return found


def bench_module(target: str) -> str | None:
    """The bench module an import names (``bench.x.y.name`` -> ``bench.x.y``), or None."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def heavy_modules() -> set[str]:
    """Modules that load a heavy package when imported, directly or through another module."""
    heavy = set()
    changed = True
    while changed:
        changed = False
        for name in MODULES:
            if name in heavy:
                continue
            for target, _, nested in imports_of(name):
                if nested:
                    continue
                if target.split(".")[0] in HEAVY_PACKAGES or bench_module(target) in heavy:
                    heavy.add(name)
                    changed = True
                    break
    return heavy


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_the_layers_are_listed_in_docs_architecture():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for index, members in enumerate(LAYERS):
        line = f"{index}. " + ", ".join(f"`{m}`" for m in members)
        assert line in text, f"docs/architecture.md lacks the layer line {line!r}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_down_the_layers(name):
    heavy = heavy_modules()
    for target, line, nested in imports_of(name):
        module = bench_module(target) if target.startswith("bench") else None
        if module is None or module == name:
            continue
        assert layer_of(module) <= layer_of(name), (
            f"{MODULES[name].relative_to(ROOT)}:{line} imports {module} from a higher layer")
        assert not nested or module in heavy, (
            f"{MODULES[name].relative_to(ROOT)}:{line} imports {module} inside a function, but it is not "
            "heavy: import it at the top of the module")


def test_no_import_cycles():
    graph = {name: {bench_module(t) for t, _, _ in imports_of(name) if t.startswith("bench")} - {name, None}
             for name in MODULES}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
