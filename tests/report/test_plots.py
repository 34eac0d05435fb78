"""Line, bar and histogram plots to PNG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoderscope.errors import ParameterError
from encoderscope.report.plots import bar_plot, histogram, line_plot, matrix_plot, scatter_plot


def _size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_line_plot_size_determinism_and_file(tmp_path: Path) -> None:
    series = {"dino": ([2, 3, 4], [0.5, 0.6, 0.55], [0.01, 0.02, 0.01]), "random": ([2, 3, 4], [0.2, 0.2, 0.21])}
    png = line_plot(series, xlabel="K", ylabel="CorLoc", title="t", size=(4.0, 3.0), dpi=100)
    assert _size(png) == (400, 300)
    assert png == line_plot(series, xlabel="K", ylabel="CorLoc", title="t", size=(4.0, 3.0), dpi=100)
    line_plot(series, path=tmp_path / "a" / "line.png", size=(4.0, 3.0), dpi=100)
    assert (tmp_path / "a" / "line.png").read_bytes() == line_plot(series, size=(4.0, 3.0), dpi=100)
    assert _size(line_plot({"a": ([1, 10, 100], [1, 10, 100])}, logx=True, logy=True, dpi=50))[0] > 0


def test_line_plot_checks() -> None:
    with pytest.raises(ParameterError):
        line_plot({})
    with pytest.raises(ParameterError, match="x has 2 values"):
        line_plot({"a": ([1, 2], [1, 2, 3])})
    with pytest.raises(ParameterError, match=r"\(x, y\)"):
        line_plot({"a": ([1],)})


def test_bar_plot_flat_and_grouped() -> None:
    flat = bar_plot({"a": 1.0, "b": 2.0}, ylabel="ARI", size=(3.0, 2.0), dpi=100)
    grouped = bar_plot({"g1": {"a": 1.0, "b": 2.0}, "g2": {"a": 0.5}}, errors={"g1": {"a": 0.1}}, dpi=100)
    assert _size(flat) == (300, 200) and _size(grouped)[0] > 0
    with pytest.raises(ParameterError):
        bar_plot({})


def test_histogram_single_and_overlaid() -> None:
    rng = np.random.default_rng(0)
    single = histogram(rng.normal(size=200), bins=10, dpi=60)
    overlaid = histogram({"a": rng.normal(size=50), "b": np.array([0.0, np.nan, np.inf])}, density=True, dpi=60)
    assert _size(single)[0] > 0 and _size(overlaid)[0] > 0
    with pytest.raises(ParameterError, match="finite"):
        histogram(np.array([np.nan]))
    with pytest.raises(ParameterError):
        histogram({})


def test_matrix_plot_grows_with_the_matrix_and_checks_labels() -> None:
    small = matrix_plot(np.eye(2), ["a", "b"], dpi=50)
    large = matrix_plot(np.full((6, 6), np.nan), list("abcdef"), vmin=0, vmax=1, annotate=True, dpi=50)
    assert _size(large)[0] > _size(small)[0] and _size(large)[1] > _size(small)[1]
    with pytest.raises(ParameterError, match="does not match"):
        matrix_plot(np.eye(2), ["a", "b", "c"])


def test_scatter_plot() -> None:
    png = scatter_plot({"a": ([0, 1], [1, 0])}, labels={"a": ["p", "q"]}, diagonal=True, size=(3.0, 3.0), dpi=50)
    assert _size(png) == (150, 150)
    with pytest.raises(ParameterError, match="x has 1 values"):
        scatter_plot({"a": ([0], [1, 2])})
    with pytest.raises(ParameterError):
        scatter_plot({})
