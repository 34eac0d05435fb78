"""The report in headless Chromium: no console errors, and the pictures render (screenshot not blank)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoderscope.report import (
    Figure,
    Legend,
    Note,
    Panel,
    PanelRow,
    Section,
    Table,
    align_labels,
    concept_palette,
    label_panel,
    overlay,
    write_report,
)
from tests.browser import check_page, find_chromium
from tests.images import make_image

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not found (Debian package 'chromium')"),
]


def _report(path: Path, embed: bool) -> Path:
    """A small NAVE-like report from generated images and label maps (two 'models', colours matched)."""
    rows = []
    for seed in range(3):
        photo = np.asarray(make_image(96, 128, seed=seed))
        first = np.zeros((12, 16), int)
        first[:, 8:] = 1
        first[3:6, 4:8] = 2
        second = np.roll(2 - first, seed, axis=1)
        rows.append(
            PanelRow(
                [
                    Panel(photo, "photo"),
                    Panel(overlay(photo, first), "model A · K=3"),
                    Panel(overlay(photo, align_labels(first, second)), "model B · K=3 (matched)"),
                    Panel(label_panel(first, size=(96, 128)), "model A map"),
                ],
                title=f"image {seed}",
            )
        )
    sections = [
        Section("Concept maps", [Legend(["left", "right", "square"]), *rows], intro="Generated images."),
        Section(
            "Numbers",
            [
                Table([{"model": "A", "ARI": 1.0}, {"model": "B", "ARI": 0.5}]),
                Figure(label_panel(np.eye(4, dtype=int), size=(80, 80)), "a figure"),
                Note("done"),
            ],
        ),
    ]
    return write_report(path, "Browser check", sections, config={"k": 3}, embed=embed)


@pytest.mark.parametrize("embed", [True, False], ids=["embedded", "files-beside"])
def test_report_renders_without_console_errors(tmp_path: Path, embed: bool) -> None:
    page = _report(tmp_path / "report.html", embed=embed)
    check = check_page(page, window=(1200, 900), timeout=60)
    assert check.errors == []
    assert not check.blank
    assert check.screenshot.shape == (900, 1200, 3)
    # The label-map panels are solid concept colours: seeing them proves the images were decoded and drawn.
    palette = concept_palette(3)
    assert check.has_color(palette[0], min_pixels=500) and check.has_color(palette[1], min_pixels=500)


def test_console_errors_are_detected(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><p>x</p><script>undefinedFunction();</script></body></html>")
    check = check_page(page, window=(400, 300), timeout=60)
    assert any("undefinedFunction" in line for line in check.errors)
