"""mkdocs hook: CONTRIBUTING.md, CHANGELOG.md and BENCHMARKS.md, kept at the repository root, become site pages.

Their links are written for the repository root (``docs/dev/contracts.md``, ``CHANGELOG.md``); on the site they are
rewritten to be relative to the docs folder (``dev/contracts.md``, ``changelog.md``; the README is the home page).

Example:
    >>> site_links("See [the contracts](docs/dev/contracts.md), [changes](CHANGELOG.md) and [us](README.md#x).")
    'See [the contracts](dev/contracts.md), [changes](changelog.md) and [us](index.md).'
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

# site page -> file at the repository root
ROOT_PAGES = {"contributing.md": "CONTRIBUTING.md", "changelog.md": "CHANGELOG.md", "benchmarks.md": "BENCHMARKS.md"}
_SITE_PAGE = {source: page for page, source in ROOT_PAGES.items()} | {"README.md": "index.md"}
_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s]+)\)")


def site_links(markdown: str) -> str:
    """Rewrite repository-root links for a page at the top of the docs folder (the README becomes the home page)."""

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(1)
        location, _, anchor = target.partition("#")
        if location in _SITE_PAGE:
            page = _SITE_PAGE[location]
            return f"]({page}#{anchor})" if anchor and page != "index.md" else f"]({page})"
        return f"]({target.removeprefix('docs/')})"

    return _LINK.sub(rewrite, markdown)


def on_files(files, config):
    """Add the root pages, links rewritten, as generated files."""
    root = Path(config["config_file_path"]).parent
    for page, source in ROOT_PAGES.items():
        text = (root / source).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=site_links(text)))
    return files
