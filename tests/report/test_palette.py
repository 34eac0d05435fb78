"""Concept palette: distinct, colour-blind-aware, deterministic, prefix-stable; shipped constants."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000

from encoderscope.errors import ParameterError
from encoderscope.report import palette
from encoderscope.report.palette import _views_lab, concept_palette, hex_colors


def _min_pairwise_delta_e(palette: np.ndarray, view: int) -> float:
    lab = _views_lab(palette)[view]
    return min(float(deltaE_ciede2000(lab[i], lab[j])) for i, j in itertools.combinations(range(len(lab)), 2))


def test_palette_shape_dtype_and_okabe_ito_start() -> None:
    palette = concept_palette(64)
    assert palette.shape == (64, 3) and palette.dtype == np.uint8
    assert palette[:3].tolist() == [[230, 159, 0], [86, 180, 233], [0, 158, 115]]
    assert len({tuple(c) for c in palette.tolist()}) == 64


def test_palette_is_deterministic_and_prefix_stable() -> None:
    assert np.array_equal(concept_palette(10), concept_palette(64)[:10])
    assert np.array_equal(concept_palette(70)[:64], concept_palette(64))
    first = concept_palette(5)
    first[0] = 0  # callers get a copy, the cache is untouched
    assert concept_palette(5)[0].tolist() == [230, 159, 0]


def test_palette_colours_are_distinct_normally_and_for_dichromats() -> None:
    assert _min_pairwise_delta_e(concept_palette(64), view=0) > 8.0
    assert _min_pairwise_delta_e(concept_palette(20), view=0) > 15.0
    # The first seven (Okabe-Ito) stay apart under simulated protanopia and deuteranopia.
    seven = concept_palette(7)
    assert _min_pairwise_delta_e(seven, view=1) > 5.0
    assert _min_pairwise_delta_e(seven, view=2) > 5.0


def test_palette_rejects_bad_k() -> None:
    with pytest.raises(ParameterError, match="at least one colour"):
        concept_palette(0)
    with pytest.raises(ParameterError, match="at most"):
        concept_palette(100_000)


def test_hex_colors() -> None:
    assert hex_colors(np.array([[255, 0, 16]], np.uint8)) == ["#ff0010"]


def test_the_shipped_colours_are_what_the_search_gives() -> None:
    """The constants stand for the greedy search: recompute it and compare (the search's count of candidates, too)."""
    palette._palette_sequence.cache_clear()
    palette._candidates.cache_clear()
    searched = palette._palette_sequence(palette.SHIPPED_COLOURS + 2)
    assert np.array_equal(searched[: palette.SHIPPED_COLOURS], concept_palette(palette.SHIPPED_COLOURS))
    assert len(palette._candidates()[0]) + len(palette._OKABE_ITO) == palette.AVAILABLE_COLOURS
    assert np.array_equal(concept_palette(palette.SHIPPED_COLOURS + 2), searched)  # beyond the constants: searched
