"""The alluvial (Sankey) figure of a concept flow across depths, and its small HTML report.

One column per depth, one box per concept (its height the concept's share of the positions), one ribbon per pair of
concepts of consecutive depths: a ribbon leaves concept ``i`` with a thickness of its share of ``i`` and enters
concept ``j`` with a thickness of its share of ``j``, so the ribbons fill each box exactly. Colours follow the
concepts: a concept of the next depth takes the colour of the concept it is matched to by Hungarian matching on the
transition counts (:func:`~encoderscope.data.label_maps.match_counts`), so a persisting concept keeps its colour;
unmatched concepts take new palette colours. Drawn with matplotlib's Agg canvas in the style of
:mod:`encoderscope.report.plots`; this module takes plain arrays and imports no method.

Example:
    >>> fig = flow_figure(["a", "b"], [np.array([[5, 0], [2, 3]])])
    >>> figure_png(fig)[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope.data.label_maps import match_counts
from encoderscope.errors import ParameterError
from encoderscope.report.palette import concept_palette, hex_colors
from encoderscope.report.plots import PLOT_STYLE, finish_plot, new_plot

__all__ = ["chain_colours", "column_orders", "figure_png", "flow_figure", "write_flow_report"]

_GAP = 0.02  # vertical gap between boxes, in units of a column's total height (1)
_BOX = 0.06  # box width, in units of the distance between columns (1)
_MIN_RIBBON = 1e-3  # ribbons thinner than this share of the positions are not drawn


def chain_colours(counts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Colour ids of every depth's concepts: depth 0 keeps its ids; a concept of the next depth takes the colour of
    the concept it is matched to (Hungarian matching on the counts), an unmatched one the next unused id.

    Example:
        >>> [c.tolist() for c in chain_colours([np.array([[0, 4], [3, 0]]), np.array([[1, 0, 0], [0, 2, 2]])])]
        [[0, 1], [1, 0], [1, 0, 2]]
    """
    if not counts:
        return []
    colours = [np.arange(counts[0].shape[0])]
    used = counts[0].shape[0]
    for table in counts:
        previous = colours[-1]
        mapping = match_counts(np.asarray(table))  # target j -> source id, or >= k_from when unmatched
        k_from = table.shape[0]
        current = np.empty(table.shape[1], dtype=np.int64)
        for j, source in enumerate(mapping):
            if source < k_from:
                current[j] = previous[source]
            else:
                current[j] = used
                used += 1
        colours.append(current)
    return colours


def _boxes(shares: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom of each box of one column (indexed by concept id), stacked top to bottom in ``order`` with
    gaps (y grows upwards)."""
    gaps = _GAP * (len(shares) - 1)
    scale = 1.0 / (1.0 + gaps)
    tops, bottoms, y = np.empty(len(shares)), np.empty(len(shares)), 1.0
    for i in order:
        tops[i], bottoms[i] = y, y - shares[i] * scale
        y = bottoms[i] - _GAP * scale
    return tops, bottoms


def column_orders(counts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The top-to-bottom order of every depth's concepts: depth 0 by id; each next depth by the mean position of the
    concepts its positions come from (the barycentre rule, which keeps persisting concepts level and few ribbons
    crossing).

    Example:
        >>> [order.tolist() for order in column_orders([np.array([[0, 4], [3, 0]])])]
        [[0, 1], [1, 0]]
    """
    if not counts:
        return []
    orders = [np.arange(np.asarray(counts[0]).shape[0])]
    for table in counts:
        table = np.asarray(table, dtype=np.float64)
        rank = np.empty(table.shape[0])
        rank[orders[-1]] = np.arange(table.shape[0])
        cols = table.sum(axis=0)
        centre = np.divide(rank @ table, cols, out=np.full(table.shape[1], np.inf), where=cols > 0)
        orders.append(np.lexsort((np.arange(table.shape[1]), centre)))
    return orders


def _stack(share: np.ndarray, tops: np.ndarray, bottoms: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``(n, m, 2)`` top and bottom of each ribbon end in box ``i`` (``share[i, j]`` of its height), stacked in the
    ``order`` of the other column."""
    ends = np.zeros((*share.shape, 2))
    for i in range(share.shape[0]):
        cursor = tops[i]
        for j in order:
            height = share[i, j] * (tops[i] - bottoms[i])
            ends[i, j] = cursor, cursor - height
            cursor -= height
    return ends


def _ribbon(ax: Any, x0: float, x1: float, left: tuple[float, float], right: tuple[float, float], colour: str) -> None:
    """A band from ``left`` (top, bottom) at ``x0`` to ``right`` at ``x1``, with smoothstep edges."""
    t = np.linspace(0.0, 1.0, 40)
    smooth = t * t * (3 - 2 * t)
    xs = x0 + (x1 - x0) * t
    top = left[0] + (right[0] - left[0]) * smooth
    bottom = left[1] + (right[1] - left[1]) * smooth
    ax.fill_between(xs, bottom, top, color=colour, alpha=0.45, linewidth=0)


def flow_figure(
    layers: Sequence[str],
    counts: Sequence[np.ndarray],
    names: Sequence[Sequence[str]] | None = None,
    notes: Sequence[str] | None = None,
    title: str = "",
) -> Any:
    """The alluvial figure (a matplotlib ``Figure``) of ``counts[d]``, the ``(K_d, K_{d+1})`` transition counts
    between depths ``layers[d]`` and ``layers[d + 1]``.

    ``names[d][i]`` labels concept ``i`` of depth ``d`` (default ``c0, c1, ...``); ``notes[d]`` is printed under
    step ``d`` (e.g. its persist / split / merge counts and MI).
    """
    from matplotlib import rc_context

    if len(layers) != len(counts) + 1 or not counts:
        raise ParameterError(f"a flow figure needs one more layer than transition tables, got {len(layers)} layers "
                             f"and {len(counts)} tables")
    tables = [np.asarray(table, dtype=np.float64) for table in counts]
    for d, table in enumerate(tables[1:], start=1):
        if table.shape[0] != tables[d - 1].shape[1]:
            raise ParameterError(
                f"transition table {d} has {table.shape[0]} rows, the previous one {tables[d - 1].shape[1]} columns"
            )
    ks = [tables[0].shape[0], *(table.shape[1] for table in tables)]
    labels = [list(names[d]) if names is not None else [f"c{i}" for i in range(k)] for d, k in enumerate(ks)]
    colour_ids = chain_colours(counts)
    palette = hex_colors(concept_palette(max(int(c.max(initial=0)) for c in colour_ids) + 1))
    # a depth's box heights: its share of the positions in the step it starts (the last depth: the step it ends)
    shares = [table.sum(axis=1) / max(table.sum(), 1.0) for table in tables]
    shares.append(tables[-1].sum(axis=0) / max(tables[-1].sum(), 1.0))
    orders = column_orders(counts)
    boxes = [_boxes(share, order) for share, order in zip(shares, orders, strict=True)]
    width = 1.4 + 2.2 * len(tables)
    height = 2.6 + 0.16 * max(ks)
    with rc_context({**PLOT_STYLE, "axes.grid": False}):
        fig, ax = new_plot((width, height))
        for d, table in enumerate(tables):
            x0, x1 = d + _BOX / 2, d + 1 - _BOX / 2
            total = max(table.sum(), 1.0)
            rows, cols = table.sum(axis=1, keepdims=True), table.sum(axis=0, keepdims=True)
            out_share = np.divide(table, rows, out=np.zeros_like(table), where=rows > 0)
            in_share = np.divide(table, cols, out=np.zeros_like(table), where=cols > 0)
            (tops0, bottoms0), (tops1, bottoms1) = boxes[d], boxes[d + 1]
            # a ribbon's end in its source box follows the order of the targets, and vice versa: no twist
            left = _stack(out_share, tops0, bottoms0, orders[d + 1])
            right = _stack(in_share.T, tops1, bottoms1, orders[d]).transpose(1, 0, 2)
            for i in orders[d]:
                for j in orders[d + 1]:
                    if table[i, j] / total >= _MIN_RIBBON:
                        _ribbon(ax, x0, x1, tuple(left[i, j]), tuple(right[i, j]), palette[colour_ids[d][i]])
            if notes is not None:
                ax.text(d + 0.5, -0.06, notes[d], ha="center", va="top", fontsize=7, color="#444444")
        for d, (tops, bottoms) in enumerate(boxes):
            for i, (top, bottom) in enumerate(zip(tops, bottoms, strict=True)):
                if top - bottom <= 0:
                    continue
                ax.add_patch(_rectangle(d - _BOX / 2, bottom, _BOX, top - bottom, palette[colour_ids[d][i]]))
                if top - bottom >= 0.025:
                    side = -1 if d == 0 else 1
                    ax.text(d + side * (_BOX / 2 + 0.02), (top + bottom) / 2, labels[d][i], fontsize=7,
                            ha="right" if side < 0 else "left", va="center")
            ax.text(d, 1.03, layers[d], ha="center", va="bottom", fontsize=8, fontweight="bold")
        ax.set_xlim(-0.35, len(tables) + 0.35)
        ax.set_ylim(-0.22 if notes is not None else -0.04, 1.09)
        ax.set_axis_off()
        if title:
            ax.set_title(title)
    return fig


def _rectangle(x: float, y: float, width: float, height: float, colour: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), width, height, facecolor=colour, edgecolor="white", linewidth=0.5)


def figure_png(fig: Any, dpi: int = 150, path: str | os.PathLike[str] | None = None) -> bytes:
    """PNG bytes of a matplotlib figure (white background); with ``path``, also written atomically."""
    return finish_plot(fig, path, dpi)


def write_flow_report(
    path: str | os.PathLike[str],
    title: str,
    png: bytes,
    rows: Sequence[Mapping[str, Any]],
    caption: str = "",
    config: Mapping[str, Any] | None = None,
) -> Path:
    """``report.html``: the flow figure and one table row per depth step (self-contained)."""
    from encoderscope.report.html import Figure, Section, Table, write_report

    section = Section("Concept flow across depths", [Figure(png, caption), Table(list(rows), "Per depth step")])
    return write_report(path, title, [section], config=config)
