"""Linking pictures: image grids, part colours, and a sweep's strip and notebook view."""

from __future__ import annotations

import numpy as np

from encoderscope.report.linking import image_grid, part_colours
from encoderscope.report.palette import concept_palette


def test_image_grid_tiles_rows_and_columns_with_padding() -> None:
    images = np.zeros((2, 3, 4, 5, 3), np.uint8)
    images[1, 2] = 7
    grid = image_grid(images, pad=1, fill=255)
    assert grid.shape == (2 * 4 + 1, 3 * 5 + 2, 3)
    assert (grid[5:, 12:] == 7).all() and (grid[4] == 255).all() and (grid[:, 5] == 255).all()


def test_part_colours_are_the_concept_palette() -> None:
    labels = np.array([[[0, 1], [2, 1]]])
    colours = part_colours(labels, 3)
    assert colours.shape == (1, 2, 2, 3)
    assert np.array_equal(colours[0, 1, 0], concept_palette(3)[2])
    assert np.array_equal(part_colours(labels), colours)  # the number of parts defaults to the largest label + 1
