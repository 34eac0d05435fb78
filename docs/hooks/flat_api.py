"""mkdocs hook: the table of the flat API (``import encoderscope as es``) on ``api/index.md``, from ``__all__``.

Every public name links to its reference (mkdocstrings cross-reference by its defining module), so a name added to
the flat API appears here and fails the strict build until some API page documents it.

Example:
    >>> flat_api_rows()[0].startswith("| `es.")
    True
"""

from __future__ import annotations

import inspect
import types

import encoderscope

MARKER = "<!-- flat-api -->"
PAGE = "api/index.md"


def _target(name: str) -> tuple[str, str]:
    """``(identifier to link to, kind)`` of the flat name ``name``."""
    value = getattr(encoderscope, name)
    if isinstance(value, types.ModuleType):
        return value.__name__, "subpackage"
    kind = "class" if inspect.isclass(value) else "function"
    return f"{value.__module__}.{value.__qualname__}", kind


def _summary(name: str) -> str:
    doc = inspect.getdoc(getattr(encoderscope, name)) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
    return first


def flat_api_rows() -> list[str]:
    """One Markdown table row per name of ``encoderscope.__all__``."""
    rows = []
    for name in encoderscope.__all__:
        identifier, kind = _target(name)
        rows.append(f"| `es.{name}` | [`{identifier}`][{identifier}] | {kind} | {_summary(name)} |")
    return rows


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker of the API index with the table."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its marker line {MARKER!r}")
    table = ["| name | defined as | kind | summary |", "|---|---|---|---|", *flat_api_rows()]
    return markdown.replace(MARKER, "\n".join(table))
