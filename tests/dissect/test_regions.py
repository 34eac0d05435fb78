"""Tests for encoderscope.dissect.regions: the geometry of region crops (hand-computed cases)."""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pytest
from PIL import Image

from encoderscope.data.images import ImageItem
from encoderscope.dissect.regions import GREY, Region, RegionCrop, crop_box, masked_crop, mean_fill, resize_mask
from encoderscope.errors import ParameterError


def _mask(shape, rows, cols):
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def test_crop_box_grows_by_the_margin_and_clips_to_the_image():
    mask = _mask((10, 10), (2, 6), (3, 9))  # a 4 x 6 box
    assert crop_box(mask, margin=0.0) == (2, 3, 6, 9)
    # ceil(0.25 * 4) = 1 row and ceil(0.25 * 6) = 2 columns each side; the right side stops at the edge (10)
    assert crop_box(mask, margin=0.25) == (1, 1, 7, 10)
    # a large margin clips everywhere
    assert crop_box(mask, margin=2.0) == (0, 0, 10, 10)
    # the box of a non-rectangular mask is its tight box
    sparse = np.zeros((8, 8), bool)
    sparse[1, 6] = sparse[5, 2] = True
    assert crop_box(sparse, margin=0.0) == (1, 2, 6, 7)
    with pytest.raises(ParameterError, match="empty region"):
        crop_box(np.zeros((4, 4), bool))


def test_masked_crop_fills_outside_the_mask_and_pads_to_a_centred_square():
    pixels = np.zeros((10, 12, 3), np.uint8)
    pixels[..., 0] = np.arange(12)[None, :] * 20  # red encodes the column
    pixels[..., 1] = np.arange(10)[:, None] * 20  # green encodes the row
    mask = _mask((10, 12), (2, 4), (3, 9))  # 2 rows x 6 columns
    crop = np.asarray(masked_crop(Image.fromarray(pixels), mask, fill=(1, 2, 3), margin=0.0))
    # the 2 x 6 cut, padded to 6 x 6: (6 - 2) // 2 = 2 fill rows above, 2 below
    assert crop.shape == (6, 6, 3)
    assert (crop[:2] == (1, 2, 3)).all() and (crop[4:] == (1, 2, 3)).all()
    np.testing.assert_array_equal(crop[2:4], pixels[2:4, 3:9])
    # with a margin, the grown border is outside the mask: filled too
    grown = np.asarray(masked_crop(Image.fromarray(pixels), mask, fill=(1, 2, 3), margin=0.5))
    # rows 1..4 (ceil(0.5 * 2) = 1), columns 0..11 (ceil(0.5 * 6) = 3): 4 x 12, padded to 12 x 12 (4 rows above)
    assert grown.shape == (12, 12, 3)
    np.testing.assert_array_equal(grown[5:7, 3:9], pixels[2:4, 3:9])
    assert (grown[4] == (1, 2, 3)).all() and (grown[5, :3] == (1, 2, 3)).all()


def test_a_mask_of_another_size_is_resized_nearest():
    mask = np.array([[1, 0], [0, 0]], bool)
    assert resize_mask(mask, (4, 6)).sum() == 6  # the top-left quarter of 4 x 6
    crop = masked_crop(Image.new("RGB", (6, 4), (9, 9, 9)), mask, margin=0.0)
    assert crop.size == (3, 3) and crop.getpixel((0, 1)) == (9, 9, 9)


def test_region_crop_is_a_picklable_item_that_builds_its_mask_when_loaded(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    region = Region(ImageItem("a.png", None, path), functools.partial(_mask, (8, 8), (0, 4), (0, 8)))
    item = pickle.loads(pickle.dumps(RegionCrop(region, fill=GREY, margin=0.0)))
    assert item.key == "a.png"
    crop = item.load()  # the top half, 4 x 8, padded to 8 x 8 with 2 fill rows above and below
    assert crop.size == (8, 8) and crop.getpixel((0, 2)) == (200, 10, 10) and crop.getpixel((7, 5)) == (200, 10, 10)
    assert crop.getpixel((0, 1)) == GREY and crop.getpixel((0, 6)) == GREY


def test_mean_fill():
    assert mean_fill((0.5, 0.5, 0.5)) == (128, 128, 128)
    assert mean_fill(None) == GREY
