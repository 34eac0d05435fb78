"""The report that NAVE itself writes, opened in headless Chromium: no console errors, pictures render."""

from __future__ import annotations

import pytest

from encoderscope.nave import nave
from encoderscope.report import concept_palette
from tests.browser import check_page, find_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not found (Debian package 'chromium')"),
]


def test_nave_report_renders_without_console_errors(make_image, tiny_vit, tmp_path):
    images = [make_image(96, 128, seed=i) for i in range(2)]
    result = nave(tiny_vit, images, layers=["blocks.0", "blocks.2"], k=3, progress=False)
    folder = result.save(tmp_path / "out")
    page = folder / "report.html"
    assert page.exists()
    check = check_page(page, window=(1200, 900))
    assert check.errors == []
    assert not check.blank
    assert check.has_color(concept_palette(3)[0])
