"""Griffe extension for the API reference: read the project's docstrings as written.

The docstrings follow Google style with two habits of their own: the examples section is headed ``Example:``
(Google style's own spelling, which griffe knows as ``Examples:``), and cross-references use Sphinx roles
(``:func:`fit_link```). This extension renames the heading so examples render as code, and turns each role into
inline code (``~a.b.c`` becomes ``c``), before griffe parses the docstring.

Example:
    >>> normalise("Fit it, see :func:`~encoderscope.linking.fit_link`.\\n\\nExample:\\n    >>> 1\\n    1")
    'Fit it, see `fit_link`.\\n\\nExamples:\\n    >>> 1\\n    1'
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def normalise(docstring: str) -> str:
    """The docstring with ``Example:`` headings renamed and Sphinx roles turned into inline code."""
    return _ROLE.sub(_role, _EXAMPLE_HEADING.sub(r"\1Examples:", docstring))


class ProjectDocstrings(griffe.Extension):
    """Applies :func:`normalise` to every object's docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = normalise(obj.docstring.value)
