"""Part metrics of docs/methods/linking.md (step 5) on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.linking.metrics import fit_ellipses, luminance, match_ellipses, part_changes


def _ellipse_mask(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def test_luminance_hand_case() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = 100  # (0.299 * 100) / 3
    assert luminance(img, np.ones((4, 4), bool)) == pytest.approx(0.299 * 100 / 3)
    assert luminance(img, np.zeros((4, 4), bool)) == 0.0


def test_ellipse_eccentricity_and_angle() -> None:
    mask = _ellipse_mask(64, 64, 32, 32, 8, 16)  # wider than tall: major axis horizontal
    (e,) = fit_ellipses(mask)
    assert e.eccentricity == pytest.approx(np.sqrt(1 - (8 / 16) ** 2), abs=0.02)
    assert min(e.angle, 180 - e.angle) < 2.0
    (v,) = fit_ellipses(mask.T)
    assert v.angle == pytest.approx(90.0, abs=2.0)


def test_changes_hand_case() -> None:
    images = np.zeros((3, 64, 64, 3), np.uint8)
    labels = np.zeros((3, 64, 64), np.int64)
    first = _ellipse_mask(64, 64, 32, 32, 10, 10)
    last = _ellipse_mask(64, 64, 32, 32, 10, 20)
    labels[0][first], labels[1][first], labels[2][last] = 1, 1, 1
    images[0][first] = 60
    images[2][last] = 120
    (row,) = [r for r in part_changes(images, labels, parts=[1]) if r["part"] == 1]
    a0, an = first.sum(), last.sum()
    assert row["d_area"] == pytest.approx((an - a0) / a0)
    assert row["d_luminance"] == pytest.approx((120 - 60) * (0.299 + 0.587 + 0.114) / 3 / 85)
    assert row["n_ellipse_pairs"] == 1
    assert row["d_eccentricity"] == pytest.approx(np.sqrt(1 - 0.25), abs=0.03)


def test_area_floor_and_zero_start() -> None:
    images = np.zeros((3, 32, 32, 3), np.uint8)
    labels = np.zeros((3, 32, 32), np.int64)
    labels[2, :5, :5] = 1  # mean area 25/3 < 20 px
    (small,) = [r for r in part_changes(images, labels, parts=[1])]
    assert small["below_floor"] and small["d_area"] == 0.0
    labels[2, :10, :10] = 1  # mean area 100/3 >= 20, A_0 = 0 replaced by 1
    (grown,) = part_changes(images, labels, parts=[1])
    assert not grown["below_floor"] and grown["d_area"] == pytest.approx(100.0)


def test_matching_needs_overlap() -> None:
    a = _ellipse_mask(40, 40, 10, 10, 5, 5)
    b = _ellipse_mask(40, 40, 30, 30, 5, 5)
    assert match_ellipses(a, b, fit_ellipses(a), fit_ellipses(b)) == []
    assert len(match_ellipses(a, a, fit_ellipses(a), fit_ellipses(a))) == 1
