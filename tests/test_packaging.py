"""Packaging: version source, torch ranges and the constraints pin, package data, and every import declared.

The import check reads every module of ``src/encoderscope`` (AST, nothing imported), maps each third-party import
to its distributions with ``importlib.metadata.packages_distributions()`` and checks it against pyproject.toml:
imports at module level must be core dependencies; the others may come from an extra, and must then be guarded so
that a missing extra is one line naming it (``encoderscope._optional.require(module, extra)``, or an
``except ImportError`` that says ``pip install 'encoderscope[extra]'``). Packages the Makefile installs with
``--no-deps`` (their own requirements are not needed) count as declared; they are found through
``encoderscope.zoo.locate`` before being imported.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import encoderscope

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "encoderscope"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return _normal(match.group(0))


def _no_deps() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^NO_DEPS_ZOO\s*:=\s*(.+)$", makefile, re.MULTILINE)
    assert match, "the Makefile lists the --no-deps packages in NO_DEPS_ZOO"
    return {_requirement_name(item) for item in match.group(1).split()}


CORE = {_requirement_name(r) for r in PROJECT["dependencies"]}
EXTRAS = {extra: {_requirement_name(r) for r in reqs} for extra, reqs in PROJECT["optional-dependencies"].items()}
NO_DEPS = _no_deps()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.match(r"\d+(\.\d+)*", text).group(0).split("."))


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "encoderscope.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", encoderscope.__version__)


@pytest.mark.parametrize(("name", "low", "high"), [("torch", "2.14", "3"), ("torchvision", "0.29", "1")])
def test_torch_ranges_and_the_constraints_pin(name: str, low: str, high: str) -> None:
    requirement = next(r for r in PROJECT["dependencies"] if _requirement_name(r) == name)
    assert requirement.replace(" ", "") == f"{name}>={low},<{high}"
    pins = {
        _requirement_name(line): line.split("==", 1)[1].strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    pinned = _version(pins[name])
    assert _version(low) <= pinned < _version(high)  # the pin lies in the declared range
    assert pinned == _version(importlib.metadata.version(name))  # and is what this machine runs
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def test_package_data_lists_only_existing_files_and_ships_py_typed() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["encoderscope"]
    assert "py.typed" in patterns and (PACKAGE / "py.typed").is_file()
    for pattern in patterns:
        assert any(path.is_file() for path in PACKAGE.glob(pattern)), f"package-data {pattern!r} matches no file"


@dataclass
class Use:
    """One third-party import (or ``require`` call) in the package."""

    module: str
    where: str
    top_level: bool
    guarded_by: str | None  # the extra a guard names, "try" for a guard naming none, None for no guard


def _extra_named(handler: ast.ExceptHandler, source: str) -> str | None:
    text = ast.get_source_segment(source, handler) or ""
    match = re.search(r"encoderscope\[(\w+)\]", text)
    return match.group(1) if match else "try"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def _uses(path: Path) -> list[Use]:
    source = path.read_text()
    tree = ast.parse(source)
    where = str(path.relative_to(ROOT))
    found: list[Use] = []

    def visit(node: ast.AST, in_function: bool, guard: str | None, type_checking: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                visit(child, in_function, guard, True)
            return
        if isinstance(node, ast.Try):
            handlers = [h for h in node.handlers if _catches_import_error(h)]
            inner = _extra_named(handlers[0], source) if handlers else guard
            for child in node.body:
                visit(child, in_function, inner, type_checking)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, in_function, guard, type_checking)
            return
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "require":
            module, extra = (a.value if isinstance(a, ast.Constant) else None for a in node.args[:2])
            if isinstance(module, str):
                found.append(Use(module.split(".")[0], where, False, extra))
        for module in modules:
            top = module.split(".")[0]
            if top != "encoderscope" and top not in sys.stdlib_module_names and not type_checking:
                found.append(Use(top, where, not in_function, guard))
        nested = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, nested, guard, type_checking)

    visit(tree, False, None, False)
    return found


USES = [use for path in sorted(PACKAGE.rglob("*.py")) for use in _uses(path)]
DISTRIBUTIONS = importlib.metadata.packages_distributions()


def test_the_scan_sees_the_imports() -> None:
    modules = {use.module for use in USES}
    assert {"torch", "numpy", "typer", "PIL", "open_clip", "transformers", "wordfreq"} <= modules


@pytest.mark.parametrize("module", sorted({use.module for use in USES}))
def test_every_import_is_declared(module: str) -> None:
    uses = [use for use in USES if use.module == module]
    assert module in DISTRIBUTIONS, f"{module} (imported in {uses[0].where}) is not installed here"
    dists = {_normal(d) for d in DISTRIBUTIONS[module]}
    if dists & NO_DEPS:
        assert not any(use.top_level for use in uses), f"{module} is imported at module level"
        return
    if dists & CORE:
        return
    extras = sorted(extra for extra, names in EXTRAS.items() if dists & names)
    assert extras, f"{module} ({', '.join(sorted(dists))}) is not a dependency; imported in {uses[0].where}"
    for use in uses:
        assert not use.top_level, f"{use.where}: {module} comes from an extra but is imported at module level"
        assert use.guarded_by in extras, (
            f"{use.where}: {module} needs a guard naming one of the extras {extras} "
            f"(encoderscope._optional.require), got {use.guarded_by!r}"
        )
