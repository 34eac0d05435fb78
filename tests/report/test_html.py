"""The self-contained HTML report."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoderscope.errors import ParameterError
from encoderscope.report.html import (
    Figure,
    Legend,
    Note,
    Panel,
    PanelRow,
    Section,
    Table,
    render_report,
    write_report,
)
from encoderscope.report.overlay import label_panel
from tests.images import make_image

EVIL = "<script>alert(\"x\")</script> & 'q'"


def _photo(seed: int = 0, size: tuple[int, int] = (300, 400)) -> np.ndarray:
    """A photo-like picture: smooth structure plus mild noise (as the shared test images)."""
    return np.asarray(make_image(*size, seed=seed))


def _decode_images(page: str) -> list[tuple[str, Image.Image]]:
    found = re.findall(r'src="data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)"', page)
    return [(kind, Image.open(io.BytesIO(base64.b64decode(data)))) for kind, data in found]


def _sections() -> list[Section]:
    labels = np.zeros((30, 40), int)
    labels[:, 20:] = 1
    return [
        Section(
            f"Maps {EVIL}",
            [
                Legend(["sky", EVIL]),
                PanelRow(
                    [Panel(_photo(), f"photo {EVIL}", tooltip=EVIL), Panel(label_panel(labels), "map")],
                    title=f"img {EVIL}",
                ),
            ],
            intro=f"intro {EVIL}",
        ),
        Section(
            "Numbers",
            [
                Table(
                    [{"model": EVIL, "ari": 0.123456789, "n": 3}, {"model": "b", "extra": None, "ok": True}],
                    caption=f"cap {EVIL}",
                ),
                Figure(_photo(1, (50, 60)), caption=EVIL),
                Note(f"first {EVIL}\n\nsecond"),
            ],
        ),
    ]


def test_all_text_is_escaped_and_nothing_is_fetched() -> None:
    page = render_report(f"title {EVIL}", _sections(), config={"layers": [EVIL]}, subtitle=EVIL)
    assert "<script" not in page and "alert(&quot;x&quot;)" in page
    assert "&lt;script&gt;" in page and "&#x27;q&#x27;" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no network references
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_embedded_images_are_downscaled_and_typed() -> None:
    page = render_report("t", _sections(), thumb_side=120, figure_side=1000)
    images = _decode_images(page)
    assert len(images) == 3
    (photo_kind, photo), (map_kind, label_map), (_, figure) = images
    assert max(photo.size) == 120 and photo_kind == "jpeg"  # photo: JPEG
    assert map_kind == "png" and label_map.size == (40, 30)  # flat label map: PNG, small already
    assert figure.size == (60, 50)  # never upscaled


def test_table_columns_and_number_formats() -> None:
    page = render_report("t", [Section("s", [Table([{"a": 1.23456789, "b": 2}, {"c": float("nan"), "a": None}])])])
    header = re.search(r"<thead>(.*?)</thead>", page).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == ["a", "b", "c"]
    assert '<td class="num">1.235</td>' in page and '<td class="num">2</td>' in page
    assert '<td class="num">nan</td>' in page


def test_legend_uses_concept_colours_and_checks_counts() -> None:
    page = render_report("t", [Section("s", [Legend(["a", "b"], ids=[4, 7])])])
    assert "background:#e69f00" in page and "4 · a" in page and "7 · b" in page
    with pytest.raises(ParameterError, match="colours"):
        render_report("t", [Section("s", [Legend(["a", "b"], colors=np.zeros((1, 3), np.uint8))])])


def test_sections_get_unique_anchors_and_a_table_of_contents() -> None:
    page = render_report("t", [Section("Same"), Section("Same")])
    ids = re.findall(r'<section id="([^"]+)"', page)
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(f'href="#{i}"' in page for i in ids)


def test_render_is_deterministic() -> None:
    assert render_report("t", _sections()) == render_report("t", _sections())


def test_bad_options_are_one_clear_error() -> None:
    with pytest.raises(ParameterError, match="image_format"):
        render_report("t", [], image_format="gif")
    with pytest.raises(ParameterError, match="unknown report block"):
        render_report("t", [Section("s", ["not a block"])])  # type: ignore[list-item]


def test_write_report_embedded(tmp_path: Path) -> None:
    path = write_report(tmp_path / "out" / "report.html", "T", _sections(), config={"k": 5})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Run configuration" in text
    assert sorted(os.listdir(path.parent)) == ["report.html"]
    assert path.stat().st_size < 60_000


def test_write_report_with_images_beside_the_page(tmp_path: Path) -> None:
    path = write_report(tmp_path / "report.html", "T", _sections(), embed=False)
    text = path.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', text)
    assert len(sources) == 3 and all(s.startswith("report_files/") for s in sources)
    assert all((tmp_path / s).is_file() for s in sources)
    assert "data:image" not in text


def test_write_report_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_writes) -> None:
    path = write_report(tmp_path / "report.html", "old", [Section("s", [Note("n")])])
    before = path.read_bytes()
    crash_writes()
    with pytest.raises(OSError, match="disk full"):
        write_report(path, "new", _sections())
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["report.html"]


def test_tall_figures_keep_their_height() -> None:
    tall = np.full((3000, 800, 3), 200, np.uint8)
    tall[::50] = 0  # some structure
    ((_, picture),) = _decode_images(render_report("t", [Section("s", [Figure(tall)])], figure_side=400))
    assert picture.size == (400, 1500)  # the width is limited, the aspect ratio kept


def test_panel_size_switch_without_scripts() -> None:
    with_panels = render_report("t", _sections(), panel_px=200)
    assert 'style="--panel-m:200px"' in with_panels and 'id="size-l"' in with_panels
    assert "<script" not in with_panels
    assert 'id="size-l"' not in render_report("t", [Section("s", [Note("text only")])])


def test_figures_choose_png_for_plots_and_jpeg_for_photo_heavy_pictures() -> None:
    from encoderscope.report.plots import line_plot

    page = render_report(
        "t", [Section("s", [Figure(line_plot({"a": ([1, 2], [1, 2])}, dpi=80)), Figure(_photo(3, (400, 600)))])]
    )
    kinds = [kind for kind, _ in _decode_images(page)]
    assert kinds == ["png", "jpeg"]


def test_high_resolution_plots_are_shown_at_their_physical_size() -> None:
    from encoderscope.report.plots import line_plot

    plot = line_plot({"a": ([1, 2], [1, 2])}, size=(5.0, 3.0), dpi=192)  # 960 px wide, 5 inches
    page = render_report("t", [Section("s", [Figure(plot), Figure(_photo(), width=300), Figure(_photo())])])
    assert re.findall(r'<img src="[^"]+"( style="width:\d+px")?', page) == [
        ' style="width:480px"',
        ' style="width:300px"',
        "",
    ]
