"""The docstring examples of every module of the package run as tests (one test per module, so they spread over
the workers). Examples that need the offline zoo's real weights or data carry ``# doctest: +SKIP`` in the source."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import encoderscope

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(encoderscope.__path__, prefix="encoderscope.")
    if not info.name.endswith("__main__")  # running it would start the command line
)


def test_every_module_is_collected() -> None:
    assert "encoderscope.nave.pipeline" in MODULES and "encoderscope.runs" in MODULES and len(MODULES) > 80


@pytest.mark.parametrize("name", ["encoderscope", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
