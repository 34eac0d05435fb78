"""Small publication-style plots for the studies: lines (e.g. a metric vs K per model), bars and histograms.

Each function draws with matplotlib's Agg canvas (no display, no global pyplot state), uses the concept palette's
colour-blind-aware colours in series order, and returns PNG bytes; pass ``path`` to also write the PNG atomically.
The bytes go straight into a report: ``Figure(line_plot(...), "caption")``.

Example:
    >>> png = line_plot({"dinov2": ([2, 3, 4], [0.5, 0.6, 0.55])}, xlabel="K", ylabel="CorLoc")
    >>> png[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from encoderscope.errors import ParameterError
from encoderscope.report.encoding import figure_png, save_png
from encoderscope.report.palette import concept_palette, hex_colors

__all__ = ["bar_plot", "histogram", "line_plot", "matrix_plot", "scatter_plot"]

PLOT_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
}
"""The matplotlib style of every report plot."""

_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def new_plot(size: tuple[float, float]) -> tuple[Any, Any]:
    """A ``(figure, axes)`` pair of ``size`` inches, drawn without pyplot (use inside ``rc_context(PLOT_STYLE)``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def finish_plot(fig: Any, path: str | os.PathLike[str] | None, dpi: int) -> bytes:
    """The figure as PNG bytes, also written atomically to ``path`` when one is given."""
    data = figure_png(fig, dpi)
    if path is not None:
        save_png(path, data)
    return data


def _colours(n: int) -> list[str]:
    return hex_colors(concept_palette(max(n, 1)))


def _decorate(ax: Any, title: str, xlabel: str, ylabel: str, n_series: int, outside: bool = False) -> None:
    """Title, axis labels, and a legend when there are several series (outside the axes: it never hides data)."""
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if n_series > 1 and outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    elif n_series > 1:
        ax.legend(loc="best")


def line_plot(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]] | tuple[Sequence[float], ...]],
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    path: str | os.PathLike[str] | None = None,
    logx: bool = False,
    logy: bool = False,
    size: tuple[float, float] = (5.4, 3.0),
    dpi: int = 200,
) -> bytes:
    """Lines with markers, one per series: ``{name: (x, y)}`` or ``{name: (x, y, yerr)}`` (shaded band).

    Example:
        >>> len(line_plot({"a": ([1, 2], [1, 4], [0.1, 0.2]), "b": ([1, 2], [2, 3])}, title="t")) > 1000
        True
    """
    from matplotlib import rc_context

    if not series:
        raise ParameterError("line_plot needs at least one series")
    with rc_context(PLOT_STYLE):
        fig, ax = new_plot(size)
        for i, ((name, data), colour) in enumerate(zip(series.items(), _colours(len(series)), strict=True)):
            if len(data) not in (2, 3):
                raise ParameterError(f"series {name!r} must be (x, y) or (x, y, yerr)")
            x = np.asarray(data[0], dtype=np.float64)
            y = np.asarray(data[1], dtype=np.float64)
            if x.shape != y.shape:
                raise ParameterError(f"series {name!r}: x has {x.size} values, y has {y.size}")
            ax.plot(x, y, marker=_MARKERS[i % len(_MARKERS)], color=colour, label=str(name))
            if len(data) == 3:
                err = np.asarray(data[2], dtype=np.float64)
                ax.fill_between(x, y - err, y + err, color=colour, alpha=0.18, linewidth=0)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        _decorate(ax, title, xlabel, ylabel, len(series), outside=True)
        return finish_plot(fig, path, dpi)


def bar_plot(
    values: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    ylabel: str = "",
    title: str = "",
    path: str | os.PathLike[str] | None = None,
    errors: Mapping[str, float] | Mapping[str, Mapping[str, float]] | None = None,
    annotate: bool = True,
    size: tuple[float, float] = (4.6, 3.0),
    dpi: int = 200,
) -> bytes:
    """Bars: ``{name: value}``, or grouped ``{group: {name: value}}`` (one colour per name, groups on the x axis).

    ``errors`` mirrors ``values`` (error bars); ``annotate`` writes each value above its bar.

    Example:
        >>> len(bar_plot({"K=3": {"dino": 0.6, "random": 0.2}, "K=5": {"dino": 0.7, "random": 0.25}})) > 1000
        True
    """
    from matplotlib import rc_context

    if not values:
        raise ParameterError("bar_plot needs at least one value")
    grouped = isinstance(next(iter(values.values())), Mapping)
    groups: dict[str, Mapping[str, float]] = (
        {str(g): v for g, v in values.items()} if grouped else {"": values}  # type: ignore[misc]
    )
    errs: Mapping[str, Any] = (errors or {}) if grouped else {"": errors or {}}
    names: list[str] = []
    for group in groups.values():
        names.extend(n for n in group if n not in names)
    width = 0.8 / len(names)
    with rc_context({**PLOT_STYLE, "axes.grid.axis": "y"}):
        fig, ax = new_plot(size)
        centres = np.arange(len(groups))
        for j, (name, colour) in enumerate(zip(names, _colours(len(names)), strict=True)):
            heights = np.array([float(g.get(name, np.nan)) for g in groups.values()])
            err = np.array([float(errs.get(k, {}).get(name, np.nan)) for k in groups]) if errors else None
            bars = ax.bar(
                centres - 0.4 + width * (j + 0.5),
                heights,
                width * 0.92,
                color=colour,
                label=str(name),
                yerr=err,
                capsize=2 if errors else 0,
            )
            if annotate:
                ax.bar_label(
                    bars, labels=[f"{h:.3g}" if np.isfinite(h) else "" for h in heights], fontsize=7, padding=2
                )
        ax.set_xticks(centres, list(groups) if grouped else [])
        if not grouped:
            ax.set_xticks(centres - 0.4 + width * (np.arange(len(names)) + 0.5), names)
        ax.margins(y=0.12)
        _decorate(ax, title, "", ylabel, len(names) if grouped else 1, outside=True)
        return finish_plot(fig, path, dpi)


def histogram(
    values: Sequence[float] | np.ndarray | Mapping[str, Sequence[float] | np.ndarray],
    bins: int | Sequence[float] = 30,
    xlabel: str = "",
    ylabel: str = "count",
    title: str = "",
    path: str | os.PathLike[str] | None = None,
    density: bool = False,
    logy: bool = False,
    size: tuple[float, float] = (4.6, 3.0),
    dpi: int = 200,
) -> bytes:
    """A histogram of one array, or overlaid step histograms of ``{name: array}`` on shared bins.

    Non-finite values are dropped (and counted in the legend label). Example:
        >>> len(histogram({"dense": np.arange(10.0), "lwta": np.zeros(10)}, bins=5)) > 1000
        True
    """
    from matplotlib import rc_context

    named = values if isinstance(values, Mapping) else {"": values}
    if not named:
        raise ParameterError("histogram needs at least one array")
    arrays = {}
    for name, data in named.items():
        arr = np.asarray(data, dtype=np.float64).ravel()
        finite = arr[np.isfinite(arr)]
        dropped = arr.size - finite.size
        arrays[f"{name} ({dropped} non-finite dropped)" if dropped and name else str(name)] = finite
    pooled = np.concatenate(list(arrays.values()))
    if pooled.size == 0:
        raise ParameterError("histogram got no finite values")
    edges = np.histogram_bin_edges(pooled, bins=bins)
    with rc_context({**PLOT_STYLE, "axes.grid.axis": "y"}):
        fig, ax = new_plot(size)
        many = len(arrays) > 1
        for (name, arr), colour in zip(arrays.items(), _colours(len(arrays)), strict=True):
            if many:
                ax.hist(arr, bins=edges, density=density, histtype="step", linewidth=1.6, color=colour, label=name)
            else:
                ax.hist(arr, bins=edges, density=density, color=colour, edgecolor="white", linewidth=0.5)
        if logy:
            ax.set_yscale("log")
        _decorate(ax, title, xlabel, "density" if density and ylabel == "count" else ylabel, len(arrays))
        return finish_plot(fig, path, dpi)


def matrix_plot(
    matrix: np.ndarray | Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str] | None = None,
    title: str = "",
    path: str | os.PathLike[str] | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool = True,
    colorbar_label: str = "",
    dpi: int = 200,
) -> bytes:
    """A labelled matrix as a heat map (e.g. the mean ARI between models, or unit-by-concept similarities).

    Values are written in the cells when ``annotate`` (in white or black, whichever reads better); NaN cells are
    left blank. The figure grows with the number of rows and columns. Example:
        >>> len(matrix_plot([[1.0, 0.2], [0.2, 1.0]], ["dino", "slic"], title="ARI", vmin=0, vmax=1)) > 1000
        True
    """
    from matplotlib import colormaps, rc_context

    data = np.asarray(matrix, dtype=np.float64)
    col_labels = list(row_labels) if col_labels is None else list(col_labels)
    if data.ndim != 2 or data.shape != (len(row_labels), len(col_labels)):
        raise ParameterError(
            f"matrix of shape {data.shape} does not match {len(row_labels)} x {len(col_labels)} labels"
        )
    finite = data[np.isfinite(data)]
    lo = float(finite.min()) if vmin is None and finite.size else (0.0 if vmin is None else float(vmin))
    hi = float(finite.max()) if vmax is None and finite.size else (1.0 if vmax is None else float(vmax))
    size = (1.6 + 0.55 * data.shape[1] + 0.06 * max(map(len, row_labels), default=0), 1.2 + 0.42 * data.shape[0])
    with rc_context({**PLOT_STYLE, "axes.grid": False, "axes.spines.top": True, "axes.spines.right": True}):
        fig, ax = new_plot(size)
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_xticks(range(len(col_labels)), col_labels, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(len(row_labels)), row_labels)
        ax.tick_params(length=0)
        if annotate:
            colours = colormaps[cmap]
            for (r, c), value in np.ndenumerate(data):
                if not np.isfinite(value):
                    continue
                rgb = colours((value - lo) / (hi - lo) if hi > lo else 0.5)[:3]
                luminance = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
                ax.text(
                    c,
                    r,
                    f"{value:.2g}",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="black" if luminance > 0.5 else "white",
                )
        bar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.02)
        bar.outline.set_visible(False)
        if colorbar_label:
            bar.set_label(colorbar_label)
        if title:
            ax.set_title(title)
        return finish_plot(fig, path, dpi)


def scatter_plot(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    path: str | os.PathLike[str] | None = None,
    labels: Mapping[str, Sequence[str]] | None = None,
    diagonal: bool = False,
    size: tuple[float, float] = (4.2, 3.4),
    dpi: int = 200,
) -> bytes:
    """Points per series ``{name: (x, y)}``; ``labels[name]`` names each point; ``diagonal`` draws y = x.

    Example:
        >>> len(scatter_plot({"units": ([0.1, 0.5], [0.2, 0.4])}, xlabel="dense", ylabel="LWTA", diagonal=True)) > 1000
        True
    """
    from matplotlib import rc_context

    if not series:
        raise ParameterError("scatter_plot needs at least one series")
    with rc_context(PLOT_STYLE):
        fig, ax = new_plot(size)
        for i, ((name, (xs, ys)), colour) in enumerate(zip(series.items(), _colours(len(series)), strict=True)):
            x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
            if x.shape != y.shape:
                raise ParameterError(f"series {name!r}: x has {x.size} values, y has {y.size}")
            ax.scatter(
                x,
                y,
                s=16,
                color=colour,
                marker=_MARKERS[i % len(_MARKERS)],
                label=str(name),
                edgecolors="white",
                linewidths=0.4,
            )
            for text, px, py in zip((labels or {}).get(name, []), x, y, strict=False):
                ax.annotate(str(text), (px, py), textcoords="offset points", xytext=(3, 3), fontsize=7)
        if diagonal:
            lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
            hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
            ax.plot([lo, hi], [lo, hi], color="0.6", linewidth=0.8, linestyle="--", zorder=0)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
        _decorate(ax, title, xlabel, ylabel, len(series), outside=True)
        return finish_plot(fig, path, dpi)
