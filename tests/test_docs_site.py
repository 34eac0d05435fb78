"""The documentation site: ``mkdocs build --strict`` passes (no warning at all), the generated pages hold what they
should, the hooks' examples run, and the package metadata points at the site.

The strict build runs without executing the tutorials (``ENCODERSCOPE_DOCS_EXECUTE=false``; they are executed by
``tests/test_tutorials.py``), so it takes well under a minute.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted((ROOT / "docs" / "hooks").glob("*.py"))
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _build(out: Path) -> None:
    env = dict(os.environ, ENCODERSCOPE_DOCS_EXECUTE="false", NO_MKDOCS_2_WARNING="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log[-4000:]}"
    assert not re.search(r"^WARNING", log, re.MULTILINE), log[-4000:]


def test_strict_build(tmp_path: Path) -> None:
    """One build (one test, so parallel workers do not build twice), then what its generated pages hold."""
    import encoderscope

    _build(tmp_path)
    for page in ["index.html", "getting-started.html", "models.html", "nave.html", "methods/nave.html",
                 "studies/index.html", "cli.html", "api/index.html", "contributing.html", "changelog.html",
                 "tutorials/01-nave-concept-maps.html"]:
        assert (tmp_path / page).is_file(), page

    def page(name: str) -> str:
        return (tmp_path / name).read_text(encoding="utf-8")

    # the API reference comes from the docstrings, and every flat name has a row
    nave = page("api/nave.html")
    assert 'id="encoderscope.nave.NaveResult"' in nave and 'id="encoderscope.nave.config.NaveConfig"' in nave
    flat = page("api/index.html")
    assert not [name for name in encoderscope.__all__ if f"es.{name}<" not in flat]
    assert "Examples:" in page("api/cluster.html") and ":func:" not in page("api/cluster.html")
    # the command line reference lists every command, generated at build time
    cli = page("cli.html")
    for command in ["encoderscope nave", "encoderscope compare", "encoderscope link counterfactual",
                    "encoderscope lwta train", "encoderscope dissect"]:
        assert command in cli, command
    assert "--config" in cli and "cli-reference" not in cli
    # the root pages link the site's pages
    contributing = page("contributing.html")
    assert 'href="dev/contracts.html"' in contributing and "Contributing to encoderscope" in contributing
    assert 'href="contributing.html"' in page("index.html")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: p.stem)
def test_hook_examples(path: Path) -> None:
    module = _load(path)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__)
    assert tests and any(test.examples for test in tests), "every hook has an example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.summarize(verbose=False).failed == 0, "".join(report)


def test_every_hook_is_registered() -> None:
    registered = set(re.findall(r"docs/hooks/(\w+)\.py", MKDOCS))
    assert registered == {path.stem for path in HOOKS}


def test_package_metadata_points_at_the_site() -> None:
    urls = PROJECT["urls"]
    site_url = re.search(r"^site_url:\s*(\S+)", MKDOCS, re.MULTILINE).group(1)
    repo_url = re.search(r"^repo_url:\s*(\S+)", MKDOCS, re.MULTILINE).group(1)
    assert urls["Documentation"] == site_url and urls["Source"] == repo_url
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in PROJECT["classifiers"])
    docs_extra = {re.match(r"[\w.-]+", r).group(0).lower() for r in PROJECT["optional-dependencies"]["docs"]}
    assert {"mkdocs", "mkdocs-material", "mkdocs-jupyter", "nbclient"} <= docs_extra
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r'-e "\.\[[\w,]*\bdocs\b[\w,]*\]"', makefile), "make setup installs the docs extra"
    assert "mkdocs build --strict" in makefile


def test_citation_lists_the_software_and_the_three_papers() -> None:
    yaml = pytest.importorskip("yaml")  # installed with the docs extra (mkdocs reads YAML)
    import encoderscope

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0" and citation["version"] == encoderscope.__version__
    identifiers = {ref["identifiers"][0]["value"] for ref in citation["references"]}
    assert identifiers == {"arXiv:2411.19700", "arXiv:2310.04929", "arXiv:2409.16865"}


def test_changelog_has_the_current_version() -> None:
    import encoderscope

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog and f"## [{encoderscope.__version__}] - " in changelog
