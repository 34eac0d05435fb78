"""Links that import their target only when used: :func:`import_object` resolves a ``"module:name"`` spec (the
result loaders, the study registry), and :func:`drawn_by` makes a result's ``figure()`` or ``_repr_html_()`` call a
drawer of ``encoderscope.report``.

The method packages compute and ``report/`` draws; ``report`` imports the method packages, never the other way at
import time, so a result class declares its drawer in one line instead of repeating an import inside a method.

Example:
    >>> import_object("math:pi") > 3
    True
    >>> class Bag(list):
    ...     size = drawn_by("builtins:len", "How many things are in the bag.")
    >>> Bag([1, 2]).size(), Bag.size.__doc__
    (2, 'How many things are in the bag.')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def import_object(spec: str) -> Any:
    """The object ``name`` of ``module`` for ``spec = "module:name"`` (the module is imported now)."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"expected 'module:name', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def drawn_by(spec: str, doc: str) -> Callable[[Any], Any]:
    """A method without arguments that returns ``drawer(self)``, ``spec`` naming the drawer as ``"module:name"``
    (kept as the method's ``drawer`` attribute)."""

    def method(self: Any) -> Any:
        return import_object(spec)(self)

    method.__doc__ = doc
    method.drawer = spec  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = spec.rpartition(":")[2]
    return method
