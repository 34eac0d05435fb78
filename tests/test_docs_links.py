"""The documentation stands alone: no pointers to private notes, and every relative link resolves.

Checked without network: the README and every Markdown file under ``docs/``; pointers such as
``docs/methods/nave.md#step-4-layer-weights`` written in docstrings and comments anywhere in ``src/``, ``tests/``,
``benchmarks/`` and ``docs/``. Heading anchors are computed as the site generator (Python-Markdown's ``toc``
extension, used by mkdocs) computes them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED_DIRS = ("src", "tests", "benchmarks", "docs")
SCANNED_SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg", ".yml", ".yaml", ".json", ".html", ".css", ".js"}

# Built from pieces so that this file does not match itself.
_NOTES = "METHODS"
FORBIDDEN = re.compile(
    "|".join(
        [
            rf"{_NOTES}\.md",
            rf"\b{_NOTES}\b\s*(?:§|TODO|:[ \t]+\S)",
            r"\.\./" + "shared",
            "TODO" + "-PDF",
            "the team" + "'s notes",
        ]
    )
)
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
POINTER = re.compile(r"docs/methods/([\w.-]+\.md)(?:#([\w-]+))?")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _scanned_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in SCANNED_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in SCANNED_SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return [path for path in files if path.resolve() != Path(__file__).resolve()]


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slugify(heading: str) -> str:
    """The anchor Python-Markdown's ``toc`` extension gives a heading (inline markup reduced to its text).

    Example:
        >>> slugify("Step 4: layer weights"), slugify("`soft_wpmi`"), slugify("Departures from the authors' code")
        ('step-4-layer-weights', 'soft_wpmi', 'departures-from-the-authors-code')
    """
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("*", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every heading anchor of a Markdown file (repeated headings get ``_1``, ``_2``... as in ``toc``)."""
    seen: set[str] = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        slug = base = slugify(match.group(2))
        counter = 0
        while slug in seen:
            counter += 1
            slug = f"{base}_{counter}"
        seen.add(slug)
    return frozenset(seen)


def _relative_links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        prose = re.sub(r"`[^`]*`", "", line)
        for match in LINK.finditer(prose):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto: ...
            found.append((number, target))
    return found


def _problem(base: Path, target: str) -> str | None:
    """Why ``target`` (a relative link or pointer from ``base``) does not resolve, or ``None``."""
    location, _, anchor = target.partition("#")
    resolved = (base.parent / location).resolve() if location else base.resolve()
    if not resolved.exists():
        return f"{location} does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{location or base.name} has no heading with anchor #{anchor}"
    return None


def test_slugify_matches_the_site_generator():
    assert slugify("Step 3: per-position L2 normalisation") == "step-3-per-position-l2-normalisation"
    assert slugify("The paper's experiments") == "the-papers-experiments"
    assert slugify("`cos_similarity_cubed`") == "cos_similarity_cubed"
    assert slugify("Image and dataset scope") == "image-and-dataset-scope"


def test_problem_detects_missing_files_and_anchors(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Some section\n\n```\n# not a heading\n```\n", encoding="utf-8")
    other = tmp_path / "other.md"
    assert _problem(other, "page.md#some-section") is None
    assert _problem(other, "page.md") is None
    assert "no heading" in (_problem(other, "page.md#not-a-heading") or "")
    assert "does not exist" in (_problem(other, "missing.md") or "")


def _scanned_lines() -> list[tuple[Path, int, str]]:
    """``(file, line number, line)`` of every scanned text file."""
    found = []
    for path in _scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found.extend((path, number, line) for number, line in enumerate(text.splitlines(), start=1))
    return found


def test_no_pointer_to_private_notes():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path, number, line in _scanned_lines()
        if FORBIDDEN.search(line)
    ]
    assert not offenders, "the project must not point to private notes:\n" + "\n".join(offenders)


def test_methods_pages_exist():
    pages = {"index.md", "nave.md", "corloc.md", "lwta.md", "dissection.md", "linking.md"}
    assert pages <= {path.name for path in (ROOT / "docs" / "methods").glob("*.md")}
    for page in pages - {"index.md"}:
        assert "departures-from-the-authors-code" in anchors(ROOT / "docs" / "methods" / page), page


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_markdown_links_resolve(path: Path):
    broken = [f"line {n}: ({target}) {why}" for n, target in _relative_links(path) if (why := _problem(path, target))]
    assert not broken, f"{path.relative_to(ROOT)} has broken links:\n" + "\n".join(broken)


def test_pointers_to_method_pages_resolve():
    broken = []
    for path, number, line in _scanned_lines():
        for match in POINTER.finditer(line):
            page, anchor = match.group(1), match.group(2)
            why = _problem(ROOT / "README.md", f"docs/methods/{page}" + (f"#{anchor}" if anchor else ""))
            if why:
                broken.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}: {why}")
    assert not broken, "pointers to missing method pages or anchors:\n" + "\n".join(broken)
