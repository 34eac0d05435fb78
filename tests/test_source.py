"""Checks on the package's source: private modules stay in their package and private names in their module; one CSV
writer, one run.json writer."""

from __future__ import annotations

import ast
from pathlib import Path

import encoderscope

PACKAGE = Path(encoderscope.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def test_private_names_are_not_used_across_packages() -> None:
    """``from encoderscope.a._m import x`` only inside ``encoderscope.a``; ``from encoderscope.a.m import _x`` never
    (a private name stays in its module: what another module needs is public)."""
    wrong = []
    for path in SOURCES:
        here = _package(_module(path), path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.level or not (node.module or "").startswith("encoderscope"):
                continue
            parts = node.module.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_")]
            owner = ".".join(parts[: private[0]]) if private else node.module.rpartition(".")[0] or node.module
            names = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
            if private and not (here + ".").startswith(owner + "."):
                wrong.append(f"{path.relative_to(PACKAGE)}: from {node.module} import ...")
            if names:
                wrong.append(f"{path.relative_to(PACKAGE)}: from {node.module} import {', '.join(names)}")
    assert not wrong, wrong


def test_one_csv_writer() -> None:
    writers = [str(p.relative_to(PACKAGE)) for p in SOURCES if "csv.writer(" in p.read_text()
               or "csv.DictWriter(" in p.read_text()]
    assert writers == ["_io.py"]


def test_one_run_json_writer() -> None:
    """Only :mod:`encoderscope.runs` names the file; everything else writes a ``RunRecord``."""
    naming = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "run.json":
                naming.append(str(path.relative_to(PACKAGE)))
    assert sorted(set(naming)) == ["runs.py"]
