"""The package's import graph has no cycle, and the methods do not depend on the pictures (docs/dev/contracts.md,
"Layers").

Every module of ``src/encoderscope`` is parsed with :mod:`ast`; every ``import`` and ``from ... import`` counts,
at module level AND inside functions and classes, except the ones under ``if TYPE_CHECKING:``. Relative imports are
resolved, and a name taken from a package's ``__init__`` counts as an import of the module that defines it (so
``from encoderscope.report import overlay`` depends on ``encoderscope.report.overlay``, not on every module the
package re-exports).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import encoderscope

PACKAGE = Path(encoderscope.__file__).parent
ROOT = "encoderscope"

# The layers, bottom to top. A module may import any module of its own layer or of a lower one; the only upward
# imports allowed are the "drawing" ones below: a method's result may import report code inside a function.
LAYERS: list[tuple[str, ...]] = [
    # "": the package's __init__, which imports nothing when loaded (its flat API resolves names lazily) and holds
    # __version__
    ("", "errors", "_optional", "_progress", "_io", "_finite", "_background", "devices", "runs", "configs", "lazy"),
    ("zoo", "capture", "data", "cluster"),
    ("nave", "dissect", "lwta", "linking"),
    ("report",),
    ("results", "studies", "cli", "__main__"),
]
DRAWING = "report"
DRAWN = (1, 2)  # the layers whose results may draw through report (data's ScenesSummary, the methods' results)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, depth: int = 0) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import node under ``tree`` (but not under ``if TYPE_CHECKING:``) and whether it is at module level."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), depth)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, depth == 0
            continue
        inner = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef)
        yield from _imports(node, depth + 1 if inner else depth)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _defining_module(package: str, name: str, seen: frozenset[str] = frozenset()) -> str:
    """The module a package's ``__init__`` takes ``name`` from (the package itself when it defines it)."""
    if f"{package}.{name}" in MODULES:
        return f"{package}.{name}"
    if package in seen or package not in MODULES or not _is_package(package):
        return package
    for node, _ in _imports(ast.parse(MODULES[package].read_text())):
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            source = _absolute(package, node)
            original = next(a.name for a in node.names if (a.asname or a.name) == name)
            if source in MODULES and _is_package(source):
                return _defining_module(source, original, seen | {package})
            return source if source in MODULES else package
    return package


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                yield alias.name
        return
    source = _absolute(module, node)
    if source != ROOT and not source.startswith(ROOT + "."):
        return
    for alias in node.names:
        yield _defining_module(source, alias.name) if source in MODULES and _is_package(source) else source


def import_graph() -> dict[str, dict[str, bool]]:
    """module -> {imported module: whether one of its imports is at module level}."""
    graph: dict[str, dict[str, bool]] = {}
    for module, path in MODULES.items():
        edges: dict[str, bool] = {}
        for node, top in _imports(ast.parse(path.read_text())):
            for target in _targets(module, node):
                if target in MODULES and target != module:
                    edges[target] = edges.get(target, False) or top
        graph[module] = edges
    return graph


def strongly_connected(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # iterative, so deep chains do not hit the recursion limit
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return sorted(found)


def _layer(module: str) -> int:
    top = module.removeprefix(ROOT).removeprefix(".").partition(".")[0]
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")


def test_no_import_cycle() -> None:
    cycles = strongly_connected(import_graph())
    assert not cycles, "import cycles (strongly connected modules):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_imports_go_down_the_layers() -> None:
    """Lower layers never import higher ones, except that a result of a building block or a method may import
    ``report`` inside a function (its ``figure()``, ``_repr_html_()`` or ``save(report=True)``); never at module
    level."""
    wrong = []
    for module, edges in import_graph().items():
        for target, top in edges.items():
            if _layer(target) <= _layer(module):
                continue
            drawing = target.startswith(f"{ROOT}.{DRAWING}") and _layer(module) in DRAWN
            if drawing and not top:
                continue
            wrong.append(f"{module} -> {target}" + (" (at module level)" if top else ""))
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    """The parser's own cases: an import inside a function counts, one under TYPE_CHECKING does not, and a name
    re-exported by a package resolves to the module that defines it."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import encoderscope.report\n"
        "def f():\n    from encoderscope.report import overlay\n"
    )
    found = [(node, top) for node, top in _imports(tree)]
    assert [top for _, top in found] == [True, False]
    targets = list(_targets(f"{ROOT}.nave.result", found[1][0]))
    assert targets == [f"{ROOT}.report.overlay"]
    assert strongly_connected({"a": {"b": True}, "b": {"a": False}, "c": {"a": True}}) == [["a", "b"]]
