"""matplotlib figures without pyplot: a new figure on the Agg canvas (no display, no global state to close), and a
picture shown as a figure (what ``figure()`` of a result returns when its natural figure is a picture).

Example:
    >>> import numpy as np
    >>> fig, axes = new_figure(1, 2, figsize=(4, 2))
    >>> len(axes), type(picture_figure(np.zeros((20, 30, 3), np.uint8), "a title")).__name__
    (2, 'Figure')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from encoderscope.report.overlay import ImageLike, to_rgb_array
from encoderscope.report.palette import concept_palette, hex_colors

__all__ = ["bar_figure", "new_figure", "picture_figure"]

PICTURE_DPI = 100
"""Dots per inch of :func:`picture_figure`: one pixel of the picture is one dot."""


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (5.0, 3.0), **subplots: Any) -> Any:
    """``(figure, axes)`` like ``pyplot.subplots`` (``squeeze``, ``sharex``, ``sharey``... are passed on), on an
    Agg canvas; nothing needs closing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    figure._repr_png_ = lambda: _png(figure)  # type: ignore[attr-defined]  # notebooks show it without pyplot
    return figure, figure.subplots(nrows, ncols, **subplots)


def _png(figure: Any) -> bytes:
    """PNG bytes of a figure (what a notebook shows)."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def picture_figure(picture: ImageLike, title: str = "", dpi: int = PICTURE_DPI) -> Any:
    """A matplotlib figure showing ``picture`` at its own size (one pixel per dot at ``dpi``), axes hidden, with an
    optional title above it.

    Example:
        >>> import numpy as np
        >>> fig = picture_figure(np.zeros((50, 80, 3), np.uint8))
        >>> [round(float(v), 2) for v in fig.get_size_inches()]
        [0.8, 0.5]
    """
    rgb = to_rgb_array(picture)
    height, width = rgb.shape[:2]
    title_inches = 0.3 if title else 0.0
    figure, ax = new_figure(figsize=(width / dpi, height / dpi + title_inches))
    figure.set_dpi(dpi)
    ax.set_position((0.0, 0.0, 1.0, height / (height + title_inches * dpi)))
    ax.imshow(rgb, interpolation="nearest")
    ax.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=9, y=1.0, va="top")
    return figure


def bar_figure(values: Mapping[str, float], ylabel: str = "", title: str = "", max_bars: int = 30) -> Any:
    """A matplotlib figure with one bar per ``{name: value}`` (the first ``max_bars``), in the palette's colours.

    Example:
        >>> fig = bar_figure({"train": 0.5, "test": 0.7}, ylabel="MSE")
        >>> [float(bar.get_height()) for bar in fig.axes[0].patches]
        [0.5, 0.7]
    """
    names = list(values)[:max_bars]
    figure, ax = new_figure(figsize=(max(3.0, 0.45 * len(names) + 1.5), 3.0))
    ax.bar(range(len(names)), [float(values[n]) for n in names], color=hex_colors(concept_palette(max(1, len(names)))))
    ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 4 else 0, ha="right" if len(names) > 4 else
                  "center", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
