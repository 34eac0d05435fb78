"""Overlays and panel figures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.segmentation import find_boundaries

from encoderscope.errors import ImageError, ParameterError
from encoderscope.report.encoding import png_bytes
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
from encoderscope.report.palette import concept_palette
from encoderscope.report.text import text_size


def test_to_rgb_conversions() -> None:
    assert to_rgb_array(np.full((2, 3), 7, np.uint8))[0, 0].tolist() == [7, 7, 7]
    assert to_rgb_array(np.ones((2, 2, 3)))[0, 0].tolist() == [255, 255, 255]
    assert to_rgb_array(np.full((1, 1, 3), 128.0))[0, 0].tolist() == [128, 128, 128]
    assert to_rgb_array(np.full((1, 1), 65535, np.uint16))[0, 0].tolist() == [255, 255, 255]
    assert to_rgb_array(np.array([[True, False]]))[0].tolist() == [[255, 255, 255], [0, 0, 0]]
    rgba = np.zeros((1, 1, 4), np.uint8)  # fully transparent black -> white page
    assert to_rgb_array(rgba)[0, 0].tolist() == [255, 255, 255]
    assert to_rgb_array(Image.new("LA", (2, 2), (0, 255)))[0, 0].tolist() == [0, 0, 0]
    assert to_rgb_array(png_bytes(np.full((2, 2, 3), 9, np.uint8))).shape == (2, 2, 3)
    with pytest.raises(ImageError, match="shape"):
        to_rgb_array(np.zeros((2, 2, 2)))
    with pytest.raises(ImageError, match="NaN"):
        to_rgb_array(np.full((2, 2), np.nan))


def test_overlay_blend_hand_computed() -> None:
    photo = np.full((2, 2, 3), 100, np.uint8)
    labels = np.array([[0, -1], [0, -1]])
    out = overlay(photo, labels, alpha=0.25, boundaries=False)
    orange = np.array([230, 159, 0])
    assert out[0, 0].tolist() == np.round(0.75 * 100 + 0.25 * orange).astype(int).tolist()
    assert out[0, 1].tolist() == [100, 100, 100]  # negative label: unfilled
    assert np.array_equal(overlay(photo, labels, alpha=0.0, boundaries=False), photo)


def test_overlay_boundaries_follow_find_boundaries() -> None:
    labels = np.zeros((12, 12), int)
    labels[3:9, 3:9] = 1  # concept 1 inside concept 0: both sides are outlined, 0 is not 'background'
    out = overlay(np.full((12, 12, 3), 255, np.uint8), labels, boundary_color=(1, 2, 3))
    edges = find_boundaries(labels, mode="thick")
    assert (out[edges] == [1, 2, 3]).all()
    assert not (out[~edges] == [1, 2, 3]).all(axis=-1).any()


def test_overlay_resizes_labels_to_the_photo() -> None:
    out = overlay(np.zeros((40, 60, 3), np.uint8), np.array([[0, 1]]), alpha=1.0, boundaries=False)
    palette = concept_palette(2)
    assert out.shape == (40, 60, 3)
    assert out[20, 10].tolist() == palette[0].tolist() and out[20, 50].tolist() == palette[1].tolist()


def test_overlay_errors() -> None:
    photo = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ParameterError, match="alpha"):
        overlay(photo, np.zeros((4, 4), int), alpha=1.5)
    with pytest.raises(ParameterError, match="palette has only"):
        overlay(photo, np.full((4, 4), 3), palette=concept_palette(2))
    with pytest.raises(ParameterError, match="integers"):
        overlay(photo, np.zeros((4, 4)))


def test_color_labels_and_label_panel() -> None:
    labels = np.array([[0, 1], [-1, 1]])
    colours = color_labels(labels, size=(4, 4))
    assert colours[3, 0].tolist() == [255, 255, 255] and colours[0, 3].tolist() == [86, 180, 233]
    assert label_panel(labels, size=(6, 6)).shape == (6, 6, 3)


def test_heatmap_overlay_is_hot_where_the_map_is_high() -> None:
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    out = heatmap_overlay(np.zeros((32, 32, 3), np.uint8), heat, alpha=1.0)
    assert out[0, 0].sum() > out[31, 31].sum()
    assert heatmap_overlay(np.zeros((8, 8, 3), np.uint8), np.ones((2, 2))).shape == (8, 8, 3)  # flat map
    with pytest.raises(ParameterError, match="finite"):
        heatmap_overlay(np.zeros((8, 8, 3), np.uint8), np.full((2, 2), np.inf))


def test_thumbnail_never_upscales() -> None:
    assert thumbnail(np.zeros((100, 40, 3), np.uint8), 50).shape == (50, 20, 3)
    assert thumbnail(np.zeros((10, 4, 3), np.uint8), 50).shape == (10, 4, 3)


def test_side_by_side_geometry() -> None:
    a, b = np.zeros((20, 30, 3), np.uint8), np.zeros((40, 20, 3), np.uint8)
    plain = side_by_side([a, b], gap=5, margin=2)
    assert plain.shape == (24, 2 + 30 + 5 + 10 + 2, 3)  # b scaled to height 20 -> width 10
    captioned = side_by_side([(a, "photo"), (b, "map")], gap=5, margin=2, title="Title")
    assert captioned.shape[1] == plain.shape[1] and captioned.shape[0] > plain.shape[0] + 20
    with pytest.raises(ParameterError):
        side_by_side([])


def test_long_captions_wrap_instead_of_overflowing() -> None:
    img = np.zeros((20, 60, 3), np.uint8)
    short = side_by_side([(img, "a")], margin=0)
    long = side_by_side([(img, "a very long caption " * 4)], margin=0)
    assert long.shape[1] == short.shape[1] and long.shape[0] > short.shape[0]
    assert text_size("wide text", 14)[0] > text_size("w", 14)[0]


def test_panel_grid_layout_and_checks() -> None:
    img = np.full((10, 20, 3), 50, np.uint8)
    grid = panel_grid(
        [[img, None], [img, img]], row_labels=["a", "b"], col_labels=["photo", "map"], cell_size=40, gap=4, margin=5
    )
    assert grid.dtype == np.uint8 and grid.shape[1] > 2 * 40
    with pytest.raises(ParameterError, match="row labels"):
        panel_grid([[img]], row_labels=["a", "b"])
    with pytest.raises(ParameterError, match="column labels"):
        panel_grid([[img]], col_labels=["a", "b"])
    with pytest.raises(ParameterError):
        panel_grid([])


def test_boundary_width_scales_with_the_photo() -> None:
    labels = np.zeros((4, 4), int)
    labels[:, 2:] = 1
    small = overlay(np.full((40, 40, 3), 255, np.uint8), labels, boundary_color=(0, 0, 0), alpha=0.0)
    large = overlay(np.full((1200, 1200, 3), 255, np.uint8), labels, boundary_color=(0, 0, 0), alpha=0.0)
    assert (small[20].sum(axis=-1) == 0).sum() == 2  # one pixel on each side of the edge
    assert (large[600].sum(axis=-1) == 0).sum() == 2 * 2  # 1200 px: two pixels each side
