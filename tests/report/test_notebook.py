"""Notebook HTML: tables and thumbnail grids of a bounded size, whatever the size of the result."""

from __future__ import annotations

import numpy as np

from encoderscope.report.notebook import (
    MAX_PICTURES,
    MAX_ROWS,
    THUMB_SIDE,
    picture_html,
    result_html,
    table_html,
    thumbnail_grid,
)


def test_table_shows_at_most_max_rows_and_counts_the_rest() -> None:
    html = table_html(["n", "x"], [[i, i / 3] for i in range(MAX_ROWS + 5)], title="numbers")
    assert html.count("<tr>") == MAX_ROWS + 1  # the header and MAX_ROWS rows
    assert "5 more rows not shown." in html and "numbers" in html and "0.333" in html


def test_table_escapes_text_and_shows_nan_as_a_dash() -> None:
    html = table_html(["<a>"], [["<b>"], [float("nan")]])
    assert "&lt;a&gt;" in html and "&lt;b&gt;" in html and "<b>" not in html and "–" in html


def test_thumbnails_are_bounded_in_number_and_size() -> None:
    big = np.zeros((1000, 2000, 3), np.uint8)
    grid = thumbnail_grid([(big, f"p{i}") for i in range(MAX_PICTURES + 3)], total=100)
    assert grid.count("<img") == MAX_PICTURES and "88 more not shown." in grid
    assert f"width='{THUMB_SIDE}' height='{THUMB_SIDE // 2}'" in grid
    assert "data:image/jpeg" in grid and "data:image/png" in picture_html(big, jpeg=False)


def test_result_html_puts_the_repr_first() -> None:
    html = result_html("Thing(<1>)", "<p>x</p>")
    assert html.startswith("<div") and html.index("Thing(&lt;1&gt;)") < html.index("<p>x</p>")
