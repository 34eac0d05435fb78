"""Test files mirror the package: ``tests/<subpackage>/test_<module>.py`` (or ``test_<module>_<aspect>.py``, e.g.
``test_extract_devices.py``), where ``<module>`` is a module of ``src/encoderscope/<subpackage>/`` (leading
underscore dropped) or the subpackage itself (tests of the package as a whole). No test imports the conftest."""

from __future__ import annotations

from pathlib import Path

import encoderscope

TESTS = Path(__file__).parent
PACKAGE = Path(encoderscope.__file__).parent

# cross-cutting checks of the project itself (not of one module)
PROJECT_TESTS = {"test_packaging.py", "test_docs_links.py", "test_doctests.py", "test_fake_cuda.py",
                 "test_test_files.py", "test_source.py", "test_import_graph.py", "test_docs_site.py",
                 "test_tutorials.py"}


def _modules(folder: Path) -> set[str]:
    names = {p.stem.lstrip("_") for p in folder.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    return names | ({folder.name} if folder != PACKAGE else {"encoderscope"})


def test_test_files_mirror_modules() -> None:
    wrong = []
    for path in sorted(TESTS.rglob("test_*.py")):
        relative = path.relative_to(TESTS)
        if len(relative.parts) == 1 and path.name in PROJECT_TESTS:
            continue
        source = PACKAGE.joinpath(*relative.parts[:-1])
        stem = path.stem.removeprefix("test_")
        modules = _modules(source) if source.is_dir() else set()
        if not any(stem == m or stem.startswith(f"{m}_") for m in modules):
            wrong.append(str(relative))
    assert not wrong, f"test files that mirror no module: {wrong}"


def test_no_test_imports_the_conftest() -> None:
    pattern = "tests" + ".conftest"  # spelled apart so that this file does not match itself
    importing = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py") if pattern in p.read_text()]
    assert importing == []
