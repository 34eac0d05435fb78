"""Errors that reach users as one clear line.

Every failure caused by the user's input (a missing file, an unknown layer, an impossible K) raises a subclass of
:class:`EncoderscopeError`. The CLI prints ``error: <message>`` and exits with status 2; Python users can catch the
base class.
"""

from __future__ import annotations


class EncoderscopeError(Exception):
    """Base class: a problem with the user's input, explained in one line."""


class SourceError(EncoderscopeError):
    """A model, generator or image source spec that cannot be resolved."""


class WeightsUnavailableError(SourceError):
    """Pretrained weights that cannot be had here (offline, missing file)."""


class LayerError(EncoderscopeError):
    """An unknown or unusable layer name."""


class ImageError(EncoderscopeError):
    """An unreadable, corrupt or empty image input."""


class ParameterError(EncoderscopeError):
    """A parameter value that cannot work (K < 2, K above the number of positions, bad U, ...)."""


class ActivationError(EncoderscopeError):
    """Activations that cannot be used (NaN or Inf values, wrong shape)."""


class DeviceError(EncoderscopeError):
    """A device that is unknown or not available here (``cuda:1`` on a one-GPU machine), or autocast it lacks."""


class MissingExtraError(EncoderscopeError):
    """An optional dependency that is not installed; the message names the extra to install."""


class UnsupportedModelError(SourceError):
    """A model that cannot give what was asked (no spatial output, an input it cannot take, a failing forward)."""


class EngineError(EncoderscopeError):
    """A distributed run that cannot go on: an unreachable Ray cluster, a worker that failed or died."""


def first_line(err: BaseException) -> str:
    """``"TypeName: first line of the message"`` of an exception (for one-line errors; empty messages too).

    Example:
        >>> first_line(ValueError("bad value\\nmore detail")), first_line(EOFError())
        ('ValueError: bad value', 'EOFError')
    """
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__
