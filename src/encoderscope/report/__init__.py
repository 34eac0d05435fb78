"""encoderscope.report: pictures and the self-contained HTML report.

Modules (each one concern):

* ``palette``  -- :func:`concept_palette` (K distinct, colour-blind-aware colours); the concept ids of several maps
  are matched by :mod:`encoderscope.data.label_maps` (:func:`match_labels`, :func:`align_labels`,
  :func:`align_many`: Hungarian matching on pixel overlap), re-exported here.
* ``overlay``  -- label map + photo -> :func:`overlay`; :func:`label_panel`, :func:`heatmap_overlay`;
  :func:`side_by_side` and :func:`panel_grid` figures with captions.
* ``text``     -- the report font, word wrap and blocks of lines on pictures (:mod:`encoderscope.report.text`).
* ``encoding`` -- :func:`png_bytes`, :func:`jpeg_bytes` and :func:`save_png`, the one PNG writer (pictures and
  matplotlib figures).
* ``figures``  -- :func:`new_figure` (matplotlib without pyplot) and :func:`picture_figure`.
* ``gallery``  -- concept galleries and neuron galleries as single figures.
* ``html``     -- :func:`write_report` with :class:`Section`, :class:`PanelRow`, :class:`Panel`, :class:`Legend`,
  :class:`Table`, :class:`Figure`, :class:`Note`.
* ``plots``    -- line, bar, histogram, matrix and scatter plots to PNG for the studies.
* ``explorer`` -- :func:`~encoderscope.report.explorer.write_explorer`, the interactive explorer page (its concept-map
  views in ``explorer_maps``, its thumbnails in ``explorer_images``, its script and style in ``assets/``).

Example:
    >>> import numpy as np
    >>> from encoderscope.report import overlay, concept_palette
    >>> overlay(np.zeros((8, 8, 3), np.uint8), np.eye(8, dtype=int), concept_palette(2)).shape
    (8, 8, 3)
"""

from __future__ import annotations

from encoderscope.data.label_maps import (
    IGNORE_LABEL,
    align_labels,
    align_many,
    match_labels,
    overlap_matrix,
    resize_labels,
)
from encoderscope.report.encoding import jpeg_bytes, png_bytes, save_png
from encoderscope.report.figures import new_figure, picture_figure
from encoderscope.report.gallery import (
    GalleryRow,
    concept_gallery,
    concept_presence,
    gallery_figure,
    highlight_concept,
    neuron_gallery,
    top_images,
)
from encoderscope.report.html import Figure, Legend, Note, Panel, PanelRow, Section, Table, render_report, write_report
from encoderscope.report.overlay import (
    color_labels,
    heatmap_overlay,
    label_panel,
    overlay,
    panel_grid,
    side_by_side,
    thumbnail,
    to_rgb_array,
)
from encoderscope.report.palette import concept_palette, hex_colors
from encoderscope.report.plots import bar_plot, histogram, line_plot, matrix_plot, scatter_plot

__all__ = [
    "IGNORE_LABEL",
    "Figure",
    "GalleryRow",
    "Legend",
    "Note",
    "Panel",
    "PanelRow",
    "Section",
    "Table",
    "align_labels",
    "align_many",
    "bar_plot",
    "color_labels",
    "concept_gallery",
    "concept_palette",
    "concept_presence",
    "gallery_figure",
    "heatmap_overlay",
    "hex_colors",
    "highlight_concept",
    "histogram",
    "jpeg_bytes",
    "label_panel",
    "line_plot",
    "match_labels",
    "matrix_plot",
    "neuron_gallery",
    "new_figure",
    "overlap_matrix",
    "overlay",
    "panel_grid",
    "picture_figure",
    "png_bytes",
    "render_report",
    "resize_labels",
    "save_png",
    "scatter_plot",
    "side_by_side",
    "thumbnail",
    "to_rgb_array",
    "top_images",
    "write_report",
]
