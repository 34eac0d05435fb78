"""NAVE pictures: file names, figures and notebook views of results, comparisons and localisation scores."""

from __future__ import annotations

import numpy as np

from encoderscope.nave.metrics import corloc
from encoderscope.nave.result import NaveRecord, NaveResult
from encoderscope.report.nave import corloc_figure, corloc_html, nave_figure, nave_html, safe_name


def _result(n: int = 2) -> NaveResult:
    records = []
    for index in range(n):
        labels = np.zeros((20, 30), np.int16)
        labels[:, 15:] = 1
        records.append(NaveRecord(f"im/{index}", index, labels, 2, *((20, 30),) * 3))
    return NaveResult("given", records, config={"method": "given", "k": 2})


def test_safe_name_keeps_folders_and_drops_unsafe_parts() -> None:
    assert safe_name("a/b c/../d") == "a/b_c/d.png"
    assert safe_name("..") == "image.png"


def test_nave_figure_shows_the_photo_and_the_map() -> None:
    figure = nave_figure(_result(), "im/1")
    picture = figure.axes[0].images[0].get_array()
    assert type(figure).__name__ == "Figure" and picture.shape[2] == 3 and picture.std() > 0


def test_nave_html_has_one_thumbnail_per_image_and_the_settings() -> None:
    html = nave_html(_result(3))
    assert html.count("<img") == 3 and "im/2 · K = 2" in html and "given" in html


def test_corloc_figure_and_html_show_every_image() -> None:
    maps = np.zeros((60, 60), int)
    maps[10:40, 10:40] = 1
    scores = corloc([maps, maps], [np.array([[10.0, 10, 40, 40]]), np.array([[0.0, 0, 5, 5]])], keys=["a", "b"])
    figure = corloc_figure(scores)
    assert sum(patch.get_height() for patch in figure.axes[0].patches) == 2
    assert "CorLoc 50.0 %" in figure.axes[0].get_title()
    html = corloc_html(scores)
    assert html.count("<tr>") == 3 and ">yes<" in html and ">no<" in html


def _named(scope: str) -> NaveResult:
    from encoderscope.nave.names import ConceptNames

    result = _result()
    result.config["scope"] = scope
    image = None if scope == "dataset" else "im/0"
    result.concept_names = ConceptNames("annotations", "fashion-mnist", 5, {(image, 1): [("shirt", 0.75)]})
    return result


def test_named_concepts_show_in_the_legend_captions_gallery_and_notebook(tmp_path) -> None:
    from encoderscope.report.nave import concept_words, named_caption, write_pictures

    dataset = _named("dataset")
    assert concept_words(dataset) == ["", "shirt"]
    assert named_caption(dataset, dataset.records[0]) == "K = 2 · 0, 1 · shirt"
    page = write_pictures([dataset], tmp_path / "d").read_text()
    assert "1 · shirt</span>" in page and "Concepts · named by annotations" in page and "shirt (0.75)" in page
    image = _named("image")
    assert named_caption(image, image.records[0]) == "K = 2 · 0, 1 · shirt"
    assert named_caption(image, image.records[1]) == "K = 2 · 0, 1"  # another image's concepts are not named
    page = write_pictures([image], tmp_path / "i").read_text()
    assert "K = 2 · 0, 1 · shirt" in page and "<th>image</th>" in page
    assert "Concept names" in nave_html(image) and "im/0 · K = 2 · 0, 1 · shirt" in nave_html(image)
    assert named_caption(_result(), _result().records[0]) == "K = 2"
