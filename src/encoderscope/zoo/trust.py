"""Whether pickled objects may be loaded: an explicit ``trust_pickle=`` argument, else the enclosing
:func:`trusting_pickles` block (the command line's ``--trust-pickle``), else not.

Pickles can run code, so ``file:`` checkpoints are read with ``weights_only=True`` and StyleGAN pickles are refused
unless the user says so, for one call or for a block of calls that load models from their specs.

Example:
    >>> with trusting_pickles():
    ...     pickles_trusted(), pickles_trusted(False)
    (True, False)
    >>> pickles_trusted()
    False
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("encoderscope_trust_pickle", default=False)


@contextlib.contextmanager
def trusting_pickles(trust: bool = True) -> Iterator[None]:
    """Within the block, ``file:`` checkpoints may hold pickled objects and StyleGAN pickles load (what
    ``trust_pickle=True`` allows for one call), e.g. around ``es.nave("file:ckpt.pt", ...)``."""
    token = _TRUSTED.set(trust)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def pickles_trusted(explicit: bool | None = None) -> bool:
    """``explicit`` when given, else whether the enclosing :func:`trusting_pickles` block trusts pickles."""
    return _TRUSTED.get() if explicit is None else bool(explicit)
