"""mkdocs hook: pages that may not exist in every checkout join the nav only when present.

``scale.md`` (running at scale) is written alongside this site; until it lands the nav simply has no such entry,
and once it exists it is listed after the studies (a page outside the nav is an error in strict mode).

Example:
    >>> with_optional_pages([{"Home": "index.md"}, {"Studies": ["studies/index.md"]}], present={"scale.md"})
    [{'Home': 'index.md'}, {'Studies': ['studies/index.md']}, {'Scale': 'scale.md'}]
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

# page -> (nav title, the top-level section it follows)
OPTIONAL: dict[str, tuple[str, str]] = {"scale.md": ("Scale", "Studies")}


def with_optional_pages(nav: list[Any], present: Collection[str]) -> list[Any]:
    """``nav`` with an entry for every optional page in ``present`` that it does not list yet."""
    listed = repr(nav)
    result = list(nav)
    for page, (title, after) in OPTIONAL.items():
        if page not in present or repr(page) in listed:
            continue
        titles = [next(iter(item)) if isinstance(item, dict) else None for item in result]
        position = titles.index(after) + 1 if after in titles else len(result)
        result.insert(position, {title: page})
    return result


def on_config(config):
    """Add the optional pages that exist under ``docs_dir`` to the nav."""
    docs = Path(config["docs_dir"])
    present = {page for page in OPTIONAL if (docs / page).is_file()}
    config["nav"] = with_optional_pages(config["nav"], present)
    return config
