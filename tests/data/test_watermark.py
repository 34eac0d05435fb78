"""Tests for encoderscope.data.watermark: a fixed stamp, seeded placement, exact masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_erosion

from encoderscope.data.watermark import CORNERS, Watermark, stamp, stamp_array
from encoderscope.errors import ParameterError


def _photo(width=120, height=90, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("corner", CORNERS)
def test_corner_margin_box_and_mask(corner):
    mark = Watermark(size=0.2, corner=corner, margin=0.05)
    out = stamp(_photo(), mark)
    side, margin = round(0.2 * 90), round(0.05 * 90)
    x0, y0, x1, y1 = out.box
    assert x1 - x0 + 1 <= side and y1 - y0 + 1 <= side
    assert (x0 == margin) if corner.endswith("left") else (x1 == 120 - margin - 1)
    assert (y0 == margin) if corner.startswith("top") else (y1 == 90 - margin - 1)
    rows, cols = np.nonzero(out.mask)
    assert (cols.min(), rows.min(), cols.max(), rows.max()) == out.box
    changed = np.any(np.asarray(out.image) != np.asarray(_photo()), axis=2)
    assert not changed[~out.mask].any() or changed[~out.mask].sum() < out.mask.sum()  # only antialiased edges
    assert changed[out.mask].mean() > 0.9


def test_same_stamp_everywhere_and_seeded_placement():
    mark = Watermark(size=0.25, corner="random", jitter=0.05)
    a, b = stamp(_photo(), mark, seed=3), stamp(_photo(), mark, seed=3)
    assert a.box == b.box and np.array_equal(np.asarray(a.image), np.asarray(b.image))
    corners = {stamp(_photo(), mark, seed=s).corner for s in range(16)}
    assert len(corners) >= 3
    fixed = Watermark(size=0.25)
    first = stamp(_photo(seed=1), fixed)
    second = stamp(_photo(seed=2), fixed)
    core = binary_erosion(first.mask)  # fully opaque inside; the edge pixels blend with the image
    assert first.box == second.box and np.array_equal(first.mask, second.mask)
    assert np.array_equal(np.asarray(first.image)[core], np.asarray(second.image)[core])  # a fixed cue


def test_modes_text_and_opacity():
    gray = stamp(Image.new("L", (28, 28), 0), Watermark(size=0.3, corner="top-left", margin=0.0))
    assert gray.image.mode == "L" and gray.box[:2] == (0, 0)
    assert np.asarray(gray.image)[gray.mask].mean() > 40
    text = stamp(_photo(200, 100), Watermark(kind="text", text="ES", size=0.2))
    assert text.mask.sum() > 20 and text.box[2] < 200
    ghost = stamp(_photo(), Watermark(opacity=0.0))
    assert np.array_equal(np.asarray(ghost.image), np.asarray(_photo())) and ghost.mask.any()


def test_stamp_array_matches_batches():
    images = np.stack([np.asarray(_photo(40, 40, s)) for s in range(4)])
    mark = Watermark(size=0.3, corner="random")
    full, masks = stamp_array(images, mark, seed=5)
    assert full.shape == images.shape and masks.shape == (4, 40, 40) and masks.any(axis=(1, 2)).all()
    single = stamp(Image.fromarray(images[0]), mark, int(np.random.SeedSequence([5, 0]).generate_state(1)[0]))
    assert np.array_equal(full[0], np.asarray(single.image))


def test_bad_settings():
    for bad in (
        Watermark(kind="sticker"),
        Watermark(corner="middle"),
        Watermark(size=0.0),
        Watermark(opacity=2.0),
        Watermark(kind="text", text="  "),
    ):
        with pytest.raises(ParameterError):
            stamp(_photo(), bad)
    with pytest.raises(ParameterError, match="does not fit"):
        stamp(Image.new("RGB", (20, 10)), Watermark(kind="text", text="a long watermark text", size=1.0))
    with pytest.raises(ParameterError):
        stamp_array(np.zeros((2, 8, 8), dtype=np.float32))
