"""Text on report pictures: wrapping within a width, block heights, drawing inside the box, the style's check."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from encoderscope.errors import ParameterError
from encoderscope.report.text import LINE_SPACING, TextStyle, draw_text, text_height, text_size, wrap


def test_wrap_keeps_every_line_within_the_width_and_every_word():
    text = "concept maps of a frozen encoder across depths"
    lines = wrap(text, 90, 13)
    assert len(lines) > 1
    assert all(text_size(line, 13)[0] <= 90 for line in lines)
    assert " ".join(lines).split() == text.split()


def test_a_word_longer_than_the_line_is_cut_with_an_ellipsis():
    (line,) = wrap("supercalifragilisticexpialidocious", 40, 13)
    assert line.endswith("…") and text_size(line, 13)[0] <= 40


def test_text_height_is_zero_without_text_and_one_line_height_per_line():
    assert text_height([], 13) == 0 and text_height([""], 13) == 0
    assert text_height(["a", "b", "c"], 10) == 3 * int(10 * LINE_SPACING)


@pytest.mark.parametrize("align", ["center", "left"])
def test_draw_text_draws_inside_its_box_and_returns_the_y_below(align):
    canvas = Image.new("RGB", (200, 80), (255, 255, 255))
    lines = ["unit 7", "dog"]
    bottom = draw_text(ImageDraw.Draw(canvas), lines, 20, 10, 100, TextStyle(12, align=align, color=(0, 0, 0)))
    assert bottom == 10 + text_height(lines, 12)
    inked = np.argwhere(np.asarray(canvas).min(axis=2) < 128)
    assert len(inked) > 0
    assert inked[:, 1].min() >= 20 and inked[:, 1].max() < 120 and inked[:, 0].min() >= 10
    if align == "left":
        assert inked[:, 1].min() <= 22
    else:
        assert inked[:, 1].min() > 40  # centred in the 100 px box


def test_bold_is_wider_and_a_bad_align_is_one_line():
    assert text_size("encoderscope", 14, bold=True)[0] > text_size("encoderscope", 14)[0]
    with pytest.raises(ParameterError, match="align"):
        TextStyle(12, align="right")
