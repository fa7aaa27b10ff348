"""The import graph of ``registry/``: no circles, and models stay at the bottom.

Walks every module with ``ast`` (nothing is imported), builds the graph of imports made
when a module loads (module level) and, separately, of imports made inside functions,
and checks both for circles. A circle held apart by an import hidden in a function is
still a circle: the two modules cannot be understood or changed one without the other.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "registry"

# Known circles that another change removes; the lead empties these sets after merging.
ALLOWED_CYCLES: set[frozenset[str]] = set()  # none: keep it that way
# Known imports from a models module upwards, (models, module).
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> set[str]:
    """The ``registry`` modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if _is_package(module) else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        # ``from pkg import sub`` loads the module pkg.sub; ``from mod import name`` loads mod
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    return {name for name in names if name in MODULES}


def _graphs() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(imports at module level, imports inside functions), module -> modules."""
    top: dict[str, set[str]] = {name: set() for name in MODULES}
    inner: dict[str, set[str]] = {name: set() for name in MODULES}

    def visit(node, module: str, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top)[module] |= _targets(child, module) - {module}
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # typing only: never runs
            else:
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, module, nested)

    for name, path in MODULES.items():
        visit(ast.parse(path.read_text(encoding="utf-8")), name, False)
    return top, inner


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


@functools.cache
def _read() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The graphs, read when a test first asks (not at collection: every xdist worker
    collects this module, and parsing every module of registry/ cost each ~0.7 s)."""
    return _graphs()


def _top() -> dict[str, set[str]]:
    return _read()[0]


def _inner() -> dict[str, set[str]]:
    return _read()[1]


def _merged() -> dict[str, set[str]]:
    return {name: _top()[name] | _inner()[name] for name in MODULES}


def _show(cycles) -> list[list[str]]:
    return sorted(sorted(c) for c in cycles)


def test_the_graph_is_read():
    assert "registry.scopes" in MODULES
    assert "registry.regions.models" in _top()["registry.people.models"]


def test_no_circle_at_module_level():
    assert _show(_cycles(_top()) - ALLOWED_CYCLES) == []


def test_no_circle_held_apart_by_an_import_inside_a_function():
    """Function-level imports counted too: hiding an import in a function does not
    remove the circle."""
    assert _show(_cycles(_merged()) - ALLOWED_CYCLES) == []


def test_the_allowed_circles_still_exist():
    """An allowed circle that is gone must leave ALLOWED_CYCLES."""
    assert _show(ALLOWED_CYCLES - _cycles(_top()) - _cycles(_merged())) == []


MODEL_MODULES = sorted(name for name in MODULES if name.endswith(".models") and name.count(".") == 2)
UPPER = ("services", "views", "forms", "scopes", "scope", "summary", "coverage", "demo", "cli")


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_a_model_imports_no_service_view_or_scope(module):
    """Models sit at the bottom: they import core helpers and (for relationships) the
    models they point at, never a service, a view or the scope rules."""
    upper = sorted(
        target
        for target in _top()[module] | _inner()[module]
        if target.rpartition(".")[2] in UPPER and (module, target) not in ALLOWED_UPWARD
    )
    assert upper == []


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_a_model_imports_other_models_only_at_module_level(module):
    """An import hidden in a function was how a model reached a higher one for
    visibility; scope rules live in registry/scopes.py now."""
    assert sorted(t for t in _inner()[module] if t.endswith(".models")) == []
