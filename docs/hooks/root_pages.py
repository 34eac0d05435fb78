"""mkdocs hook: CONTRIBUTING.md, CHANGELOG.md and BENCHMARKS.md, kept at the repository root, become site pages.

Links are written so that they work in the repository: the root pages link ``docs/dev/contracts.md``, and docs
pages link ``../CONTRIBUTING.md``. On the site both are rewritten to the site's pages (``dev/contracts.md``,
``contributing.md``; the README becomes the home page).

Example:
    >>> site_links("See [the contracts](docs/dev/contracts.md), [changes](CHANGELOG.md) and [us](README.md#x).", "")
    'See [the contracts](dev/contracts.md), [changes](changelog.md) and [us](index.md).'
    >>> site_links("[Contributing](../../CONTRIBUTING.md#tests)", "docs/studies")
    '[Contributing](../contributing.md#tests)'
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

# site page -> file at the repository root
ROOT_PAGES = {"contributing.md": "CONTRIBUTING.md", "changelog.md": "CHANGELOG.md", "benchmarks.md": "BENCHMARKS.md"}
_SITE_PAGE = {source: page for page, source in ROOT_PAGES.items()} | {"README.md": "index.md"}
_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s]+)\)")


def site_links(markdown: str, folder: str) -> str:
    """Rewrite the links of a file in repository folder ``folder`` ("" for the root) for its place on the site."""
    site_folder = folder.removeprefix("docs").strip("/") if folder.startswith("docs") else ""

    def rewrite(match: re.Match[str]) -> str:
        location, _, anchor = match.group(1).partition("#")
        target = posixpath.normpath(posixpath.join(folder, location))  # relative to the repository root
        if target in _SITE_PAGE:
            page = _SITE_PAGE[target]
            anchor = anchor if page != "index.md" else ""
        elif target.startswith("docs/"):
            page = target.removeprefix("docs/")
        else:
            return match.group(0)
        relative = posixpath.relpath(page, site_folder or ".")
        return f"]({relative}#{anchor})" if anchor else f"]({relative})"

    return _LINK.sub(rewrite, markdown)


def on_files(files, config):
    """Add the root pages, links rewritten, as generated files."""
    root = Path(config["config_file_path"]).parent
    for page, source in ROOT_PAGES.items():
        text = (root / source).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=site_links(text, "")))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Links from docs pages to the root files point at their site pages."""
    if page.file.src_uri in ROOT_PAGES:
        return markdown
    folder = posixpath.dirname(f"docs/{page.file.src_uri}")
    return site_links(markdown, folder)
