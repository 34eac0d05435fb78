"""The explorer driven in a real browser (Playwright on the Debian chromium): clicks, hovers, switches, search; no
console errors and no network request.

The page is built from the hand-made results of :mod:`tests.report.explorer_cases` (flat grey images, known grids),
so the canvas pixels a highlight must give are known: ``0.55 * grey + 0.45 * colour`` normally, ``0.35 * grey +
0.65 * colour`` for the chosen concept and ``0.3 * grey + 20`` (dimmed) elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.nave.compare import compare_results
from encoderscope.nave.flow import flow_from_results
from encoderscope.report.explorer import write_explorer
from tests.browser import find_chromium
from tests.report import explorer_cases as cases

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not found (Debian package 'chromium')"),
]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
GREY = np.array(cases.GREY, float)


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    """The explorer of: two dataset-scope layer sets of one model (named), an image-scope comparison of two models,
    a dissection and a flow."""
    folder = tmp_path_factory.mktemp("explorer")
    paths = cases.write_images(folder / "images")
    a = cases.dataset_result(paths, "blocks.1", names=["sky", "", "grass"])  # concept 1 left unnamed
    b = cases.dataset_result(paths, "blocks.2", swap=True)
    comparison = compare_results([cases.image_result(paths, "alpha", 0), cases.image_result(paths, "beta", 1)])
    flow = flow_from_results([a, b])
    return write_explorer([a, b, comparison, cases.dissection(paths), flow], folder / "explorer.html")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=find_chromium(), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, page_file):
    """A fresh page on the explorer; ``page.problems`` collects console messages, page errors and requests that are
    not the file itself or a ``data:`` picture (those are aborted)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(f"console {message.type}: {message.text}"))
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file://", "data:")):
            request_route.continue_()
        else:
            problems.append(f"request: {url}")
            request_route.abort()

    tab.route("**/*", route)
    tab.goto(page_file.as_uri())
    tab.wait_for_selector("body[data-painted='1']", timeout=30000)
    tab.problems = problems
    yield tab
    context.close()


def _settle(page) -> None:
    page.wait_for_function("window.esExplorer.stats.pending === 0", timeout=10000)


def _pixel(page, view: int, row: int, result: int, concept: int) -> np.ndarray:
    x, y = cases.INSIDE[concept]
    selector = f'.es-view[data-view="{view}"] .es-grid .es-tile[data-row="{row}"] canvas[data-result="{result}"]'
    return np.array(page.evaluate(
        "([s, x, y]) => Array.from(document.querySelector(s).getContext('2d').getImageData(x, y, 1, 1).data)"
        ".slice(0, 3)", [selector, x, y]), float)


def _colour(page, slot: int) -> np.ndarray:
    hex_colour = page.evaluate("(s) => window.esExplorer.data.palette[s]", slot)
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], float)


def _close(actual: np.ndarray, expected: np.ndarray, tolerance: float = 4.0) -> bool:
    return bool(np.abs(actual - expected).max() <= tolerance)


def test_click_highlights_the_concept_everywhere_and_shows_its_gallery(page):
    _settle(page)
    colour = _colour(page, 0)
    assert _close(_pixel(page, 0, 0, 0, 0), 0.55 * GREY + 0.45 * colour)
    assert page.is_hidden('.es-view[data-view="0"] .es-gallery')
    page.click('.es-view[data-view="0"] .es-concept[data-slot="0"]')
    _settle(page)
    assert page.get_attribute('.es-view[data-view="0"] .es-concept[data-slot="0"]', "class").endswith("es-active")
    for row in range(3):
        assert _close(_pixel(page, 0, row, 0, 0), 0.35 * GREY + 0.65 * colour)  # the concept, in every map
        assert _close(_pixel(page, 0, row, 0, 1), 0.3 * GREY + 20)  # the others, dimmed
    captions = page.locator('.es-view[data-view="0"] .es-gallery figcaption').all_inner_texts()
    assert captions == ["img0 · 50 %", "img2 · 40 %"]  # result.gallery, in its order
    assert page.inner_text('.es-view[data-view="0"] .es-gallery h3').startswith("Where concept 0 (sky) is most")
    assert page.inner_text('.es-view[data-view="0"] .es-gallery .es-words') == "words: sky 0.9, thing 0.1"
    page.click('.es-view[data-view="0"] .es-concept[data-slot="0"]')  # again: back to all concepts
    _settle(page)
    assert page.is_hidden('.es-view[data-view="0"] .es-gallery')
    assert _close(_pixel(page, 0, 1, 0, 1), 0.55 * GREY + 0.45 * _colour(page, 1))
    assert page.inner_text('.es-view[data-view="0"] .es-concept[data-slot="1"]') == "concept 1"  # unnamed
    assert page.problems == []


def test_hover_shows_the_concept_and_its_name(page):
    canvas = page.locator('.es-view[data-view="0"] .es-grid .es-tile[data-row="1"] canvas').first
    box = canvas.bounding_box()
    scale = box["width"] / cases.HW[1]
    x, y = cases.INSIDE[2]
    page.mouse.move(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale)
    assert page.is_visible("#es-tip")
    assert page.inner_text("#es-tip") == "tiny · blocks.1: concept 2 · grass"
    page.mouse.move(2, 2)
    assert page.is_hidden("#es-tip")


def test_layer_switch_keeps_matched_colours(page):
    page.click('.es-view[data-view="0"] .es-concept[data-slot="0"]')
    page.select_option('.es-view[data-view="0"] select.es-layer', "1")
    _settle(page)
    tiles = page.locator('.es-view[data-view="0"] .es-grid canvas')
    assert tiles.count() == 3 and tiles.first.get_attribute("data-result") == "1"
    # layer B numbers the left region 1; matched to A's 0, it keeps colour 0 and the highlight
    assert page.inner_text('.es-view[data-view="0"] .es-concept[data-slot="0"]') == "concept 1"
    assert _close(_pixel(page, 0, 0, 1, 0), 0.35 * GREY + 0.65 * _colour(page, 0))
    assert page.problems == []


def test_models_side_by_side_and_the_model_switch(page):
    page.click('.es-tab[data-view="1"]')
    view = '.es-view[data-view="1"]'
    assert page.locator(f'{view} .es-tile[data-row="0"] canvas').count() == 2
    # the reference's colour at the top-left cell of image 0 (its concepts are renumbered per image)
    slot = page.evaluate("""() => { const r = window.esExplorer.data.views[1].results[0];
        const g = atob(r.items[0][8]); return r.maps[0][g.charCodeAt(0)]; }""")
    page.click(f'{view} .es-concept[data-slot="{slot}"]')
    _settle(page)
    colour = _colour(page, slot)
    for result in (0, 1):  # matched: the same region is highlighted in both models
        assert _close(_pixel(page, 1, 0, result, 0), 0.35 * GREY + 0.65 * colour)
    assert page.locator(f"{view} .es-gallery figcaption").count() == 3
    page.select_option(f"{view} select.es-model", "1")
    canvases = page.locator(f'{view} .es-tile[data-row="0"] canvas')
    assert canvases.count() == 1 and canvases.first.get_attribute("data-result") == "1"
    page.select_option(f"{view} select.es-model", "all")
    assert page.locator(f'{view} .es-tile[data-row="0"] canvas').count() == 2
    assert page.problems == []


def test_dissection_search_and_flow_tables(page):
    page.click('.es-tab[data-view="2"]')
    view = '.es-view[data-view="2"]'
    page.fill(f"{view} .es-search", "dots")
    assert page.locator(f"{view} tbody tr:not([hidden])").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-unit'))") == ["1", "3"]
    assert page.inner_text(f"{view} .es-count") == "2 of 4 units"
    page.fill(f"{view} .es-search", "2")
    assert page.locator(f"{view} tbody tr:not([hidden])").count() == 1
    page.fill(f"{view} .es-search", "")
    image = page.locator(f'{view} tr[data-unit="0"] img').first
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.get_attribute("src").startswith("data:image/jpeg;base64,")
    page.click('.es-tab[data-view="3"]')
    page.wait_for_function("() => document.querySelector('.es-flow').naturalWidth > 0")
    matrix = page.locator('.es-view[data-view="3"] .es-matrix td').all_inner_texts()
    assert matrix == ["0 %", "100 %", "0 %", "100 %", "0 %", "0 %", "0 %", "0 %", "100 %"]
    page.click('.es-tab[data-view="4"]')
    assert page.locator('.es-view[data-view="4"] select.es-layer option').count() == 2
    _settle(page)
    assert page.problems == []


@pytest.mark.parametrize(("original", "content", "padded", "grid"), [
    ((37, 53), (30, 43), (42, 56), (3, 4)),  # smaller than a thumbnail: pixel for pixel
    ((300, 200), (224, 149), (224, 154), (16, 11)),  # larger: the thumbnail samples the original, nearest
])
def test_the_page_draws_each_map_as_label_map_does(browser, tmp_path, original, content, padded, grid):
    from PIL import Image

    from encoderscope.data.images import ImageItem
    from encoderscope.nave.result import NaveRecord, NaveResult

    path = tmp_path / "odd.png"
    Image.new("RGB", original[::-1], cases.GREY).save(path)
    labels = np.random.default_rng(0).integers(0, 5, grid).astype(np.int16)
    record = NaveRecord("odd", 0, labels, 5, original, content, padded, str(path), item=ImageItem("odd", None, path))
    page_path = write_explorer([NaveResult("m · l", [record], {"scope": "image"})], tmp_path / "odd.html")
    page = browser.new_page()
    page.goto(page_path.as_uri())
    width, height = page.evaluate("[window.esExplorer.data.images[0].w, window.esExplorer.data.images[0].h]")
    shown = np.array(page.evaluate("window.esExplorer.labels(0, 0, 0)")).reshape(height, width)
    rows = np.arange(height) * original[0] // height
    cols = np.arange(width) * original[1] // width
    assert (shown == record.label_map()[rows[:, None], cols[None, :]]).all()
    page.close()
