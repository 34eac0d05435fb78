"""PNG and JPEG encoding, and the one PNG writer (pictures, PNG bytes and matplotlib figures; atomic)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoderscope.errors import ImageError
from encoderscope.report.encoding import figure_png, jpeg_bytes, png_bytes, save_png
from encoderscope.report.figures import new_figure


def test_png_round_trip_and_jpeg() -> None:
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(img)))), img)
    decoded = np.asarray(Image.open(io.BytesIO(jpeg_bytes(img))))
    assert decoded.shape == img.shape


def test_save_png_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_writes) -> None:
    target = tmp_path / "sub" / "x.png"
    assert save_png(target, np.zeros((3, 3, 3), np.uint8)) == target
    before = target.read_bytes()
    with pytest.raises(ImageError):
        save_png(target, np.zeros((3, 3, 2)))  # bad picture: refused before writing
    crash_writes()
    with pytest.raises(OSError, match="disk full"):
        save_png(target, np.full((30, 30, 3), 200, np.uint8))
    monkeypatch.undo()
    assert target.read_bytes() == before  # the old file is intact
    assert sorted(os.listdir(target.parent)) == ["x.png"]  # and no temporary file is left


def test_matplotlib_figures_and_png_bytes_go_through_the_same_writer(tmp_path: Path) -> None:
    fig, ax = new_figure(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    written = save_png(tmp_path / "plot.png", fig, dpi=50)
    assert Image.open(written).size == (100, 50)
    assert png_bytes(fig, dpi=50) == figure_png(fig, dpi=50) == written.read_bytes()
    again = save_png(tmp_path / "copy.png", written.read_bytes())
    assert again.read_bytes() == written.read_bytes()  # PNG bytes are written as they are
