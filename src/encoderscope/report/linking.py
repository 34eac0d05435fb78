"""Pictures of linking results: image grids, a unit's sweep strip, part maps under a sweep, counterfactuals before
and after, and the ``figure()`` / ``_repr_html_()`` of every linking result (pairs, link fit, sweep, part
quantification, counterfactuals).

The results are passed in; this module imports none of the linking modules (they import it, when they draw).

Example:
    >>> import numpy as np
    >>> image_grid(np.zeros((2, 3, 4, 4, 3), np.uint8), pad=1).shape
    (9, 14, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope.report.figures import bar_figure, new_figure, picture_figure
from encoderscope.report.notebook import result_html, table_html, thumbnail_grid
from encoderscope.report.palette import concept_palette, hex_colors

if TYPE_CHECKING:
    from encoderscope.linking.counterfactual import CounterfactualResult
    from encoderscope.linking.network import LinkFit
    from encoderscope.linking.pairs import PairedData
    from encoderscope.linking.quantify import QuantifyResult
    from encoderscope.linking.tune import SweepResult

STRIPS_SHOWN = 4
"""Units whose sweep strips a sweep's notebook view shows."""


def image_grid(images: np.ndarray, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile ``(rows, cols, H, W, 3)`` uint8 images into one picture with ``pad`` pixels between them."""
    rows, cols, h, w, c = images.shape
    out = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, c), fill, dtype=np.uint8)
    for i in range(rows):
        for j in range(cols):
            out[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w] = images[i, j]
    return out


def part_colours(labels: np.ndarray, n_parts: int | None = None) -> np.ndarray:
    """``(..., H, W)`` int part maps -> ``(..., H, W, 3)`` uint8 colours of the concept palette (part ``i`` in
    colour ``i``; ``n_parts`` defaults to the largest label + 1).

    Example:
        >>> part_colours(np.array([[0, 1]])).shape
        (1, 2, 3)
    """
    n = int(labels.max()) + 1 if n_parts is None and labels.size else max(1, n_parts or 1)
    return concept_palette(n)[labels % n]


def sweep_strip(sweep: SweepResult, unit_index: int) -> np.ndarray:
    """One picture for a swept unit: samples as rows, steps as columns."""
    return image_grid(sweep.images[:, unit_index])


def parts_picture(result: QuantifyResult, unit_index: int, sample: int = 0) -> np.ndarray:
    """Step images on the top row and their colour-coded part maps below (the reference's strip layout)."""
    images = result.sweep.images[sample, unit_index]
    maps = part_colours(result.labels[sample, unit_index], len(result.part_names))
    return image_grid(np.stack([images, maps]))


def before_after_picture(result: CounterfactualResult, max_rows: int = 16) -> np.ndarray:
    """Before (left) and after (right) images, one row per counterfactual."""
    n = min(max_rows, len(result.origins))
    return image_grid(np.stack([result.image_before[:n], result.image_after[:n]], axis=1))


def _rows(records: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    header = list(records[0]) if records else []
    return header, [[row[c] for c in header] for row in records]


def pairs_figure(pairs: PairedData) -> Any:
    """The first two latent dimensions of every pair, coloured by the classifier's label."""
    figure, ax = new_figure(figsize=(4.0, 3.5))
    classes = sorted({int(c) for c in pairs.labels})
    colours = hex_colors(concept_palette(max(1, len(classes))))
    second = pairs.latents[:, 1] if pairs.latents.shape[1] > 1 else np.zeros(len(pairs))
    for colour, c in zip(colours, classes, strict=True):
        chosen = pairs.labels == c
        ax.scatter(pairs.latents[chosen, 0], second[chosen], s=8, color=colour, label=f"class {c}")
    ax.set_xlabel("latent 0")
    ax.set_ylabel("latent 1")
    ax.set_title(f"{len(pairs)} pairs", fontsize=10)
    if classes:
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def pairs_html(pairs: PairedData) -> str:
    """Pairs per class and how often the classifier's prediction is the label."""
    rows = [[int(c), int(np.sum(pairs.labels == c)), float(np.mean(pairs.predictions[pairs.labels == c] == c))]
            for c in sorted({int(c) for c in pairs.labels})]
    return result_html(repr(pairs), table_html(["class", "pairs", "predicted as the class"], rows))


def link_fit_figure(fit: LinkFit) -> Any:
    """Train and test R² of the linking network."""
    return bar_figure({"train R²": fit.train_r2, "test R²": fit.test_r2}, ylabel="R²", title=repr(fit.network.method))


def link_fit_html(fit: LinkFit) -> str:
    """The fit's scores."""
    return result_html(repr(fit), table_html(["score", "value"], [[k, v] for k, v in fit.scores().items()], digits=4))


def _ranked_index(sweep: SweepResult, rank: int) -> tuple[int, int]:
    """``(unit, index into the sweep's arrays)`` of the unit at ``rank`` in the sweep's ranking."""
    unit = int(sweep.ranking()[rank]["unit"])
    return unit, int(np.flatnonzero(sweep.units == unit)[0])


def sweep_figure(sweep: SweepResult, rank: int = 0) -> Any:
    """The sweep strip of the unit at ``rank`` (0: the unit that changes the images most)."""
    unit, index = _ranked_index(sweep, rank)
    return picture_figure(sweep_strip(sweep, index), f"unit {unit}: samples (rows) x steps (columns)")


def sweep_html(sweep: SweepResult) -> str:
    """The ranking, and the strips of the first-ranked units."""
    header, rows = _rows(sweep.ranking())
    ranked = [_ranked_index(sweep, r) for r in range(min(STRIPS_SHOWN, len(sweep.units)))]
    strips = [(sweep_strip(sweep, index), f"unit {unit}") for unit, index in ranked]
    return result_html(repr(sweep), table_html(header, rows), thumbnail_grid(strips, total=len(sweep.units), side=480))


def quantify_figure(result: QuantifyResult, unit_index: int = 0, sample: int = 0) -> Any:
    """The step images of one unit and sample, with their part maps below."""
    return picture_figure(parts_picture(result, unit_index, sample),
                          f"unit {int(result.sweep.units[unit_index])}: images and parts")


def quantify_html(result: QuantifyResult) -> str:
    """The most selective units per part and property, and the first unit's parts."""
    header, rows = _rows(result.selective_units())
    pictures = [(parts_picture(result, 0), f"unit {int(result.sweep.units[0])}")] if len(result.sweep.units) else []
    return result_html(repr(result), table_html(header, rows, title="Most selective units"),
                       thumbnail_grid(pictures, side=480))


def counterfactual_figure(result: CounterfactualResult, max_rows: int = 16) -> Any:
    """Before (left) and after (right) images, one row per counterfactual."""
    return picture_figure(before_after_picture(result, max_rows), "before | after")


def counterfactual_html(result: CounterfactualResult) -> str:
    """The summary numbers and the first counterfactuals before and after."""
    summary = table_html(["number", "value"], [[k, v] for k, v in result.summary().items()])
    pictures = [(before_after_picture(result, 8), "before | after")] if len(result.origins) else []
    return result_html(repr(result), summary, thumbnail_grid(pictures, side=320))
