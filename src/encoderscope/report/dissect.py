"""Pictures of a dissection: galleries of each unit's top-activating probe images with its description, and the
``figure()`` / ``_repr_html_()`` of :class:`~encoderscope.dissect.describe.Dissection`.

The dissection is passed in; this module imports none of the dissect modules (they import it, when they draw).

Example:
    >>> unit_caption("stripes", "cos_similarity", 0.51234)
    'stripes (cos_similarity 0.512)'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope._progress import warn
from encoderscope.report.encoding import save_png
from encoderscope.report.figures import bar_figure, picture_figure
from encoderscope.report.gallery import neuron_gallery
from encoderscope.report.notebook import result_html, table_html, thumbnail_grid

if TYPE_CHECKING:
    from encoderscope.dissect.describe import Dissection

UNITS_SHOWN = 8
"""Units a dissection's figure and notebook view show."""


def unit_caption(concept: str, similarity: str, score: float) -> str:
    """A unit's description with its similarity score."""
    return f"{concept} ({similarity} {score:.3g})"


def unit_gallery(dissection: Dissection, units: Sequence[int], n_images: int = 6) -> np.ndarray:
    """One picture: per unit, its description and its ``n_images`` top-activating probe images (with values).
    Raises when the probe images cannot be loaded (given as a matrix, or moved)."""
    units = list(units)
    values = dissection.activations.values
    tops = [[int(i) for i in dissection.top_images[unit, :n_images]] for unit in units]
    images = [[dissection.activations.items[i].load() for i in top] for top in tops]
    return neuron_gallery(
        units,
        images,
        [unit_caption(dissection.concept_of(u), dissection.similarity, float(dissection.best_scores[u, 0]))
         for u in units],
        [[float(values[i, u]) for i in top] for u, top in zip(units, tops, strict=True)],
        title=f"{dissection.layer}: units {units[0]}-{units[-1]}",
    )


def write_galleries(dissection: Dissection, folder: Path, units: Sequence[int], n_images: int = 6,
                    per_figure: int = 8) -> None:
    """Per-unit galleries of top-activating probe images, ``per_figure`` units per PNG (``units_AAAAA-BBBBB.png``);
    a warning, and no galleries, when the probe images cannot be loaded."""
    units = list(units)
    for start in range(0, len(units), per_figure):
        chunk = units[start : start + per_figure]
        try:
            picture = unit_gallery(dissection, chunk, n_images)
        except Exception as err:  # images given as a matrix, or unreadable now
            warn(f"galleries skipped: {err}")
            return
        save_png(folder / f"units_{chunk[0]:05d}-{chunk[-1]:05d}.png", picture)


def dissection_figure(dissection: Dissection, units: Sequence[int] | None = None, n_images: int = 6) -> Any:
    """The gallery of ``units`` (default: the first :data:`UNITS_SHOWN`); when the probe images cannot be loaded,
    the units' best similarity scores as bars, labelled with their descriptions."""
    chosen = list(units) if units is not None else list(range(min(UNITS_SHOWN, dissection.n_units)))
    try:
        return picture_figure(unit_gallery(dissection, chosen, n_images))
    except Exception:  # no images to show: the scores instead
        scores = {f"{u}: {dissection.concept_of(u)}": float(dissection.best_scores[u, 0]) for u in chosen}
        return bar_figure(scores, ylabel=dissection.similarity, title=f"{dissection.layer}: best concept per unit")


def dissection_html(dissection: Dissection) -> str:
    """The units' descriptions, and the gallery of the first units when the probe images can be loaded."""
    header = ["unit", "concept", "score", "top_images"]
    rows = [[row[c] for c in header] for row in dissection.descriptions()]
    blocks = [table_html(header, rows)]
    try:
        picture = unit_gallery(dissection, range(min(UNITS_SHOWN, dissection.n_units)))
    except Exception:  # probe images not loadable: the table alone
        picture = None
    if picture is not None:
        blocks.append(thumbnail_grid([(picture, "top-activating images")], side=640))
    return result_html(repr(dissection), *blocks)
