"""The explorer's page data: grids and geometry, matched colours, names, galleries, thumbnails, one-line errors."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from encoderscope.errors import ParameterError
from encoderscope.nave.compare import compare_results
from encoderscope.nave.flow import flow_from_results
from encoderscope.report.explorer import explorer_html, explorer_payload, write_explorer
from encoderscope.report.explorer_images import ThumbTable
from encoderscope.report.explorer_maps import NO_LABEL, encode_grid
from tests.report import explorer_cases as cases


def _page_data(text: str) -> dict:
    block = re.search(r'<script type="application/json" id="es-data">(.*?)</script>', text, re.S)
    assert block is not None
    return json.loads(block.group(1))


def _grid(item: list) -> np.ndarray:
    return np.frombuffer(base64.b64decode(item[8]), np.uint8).reshape(item[0], item[1])


def test_grids_travel_with_their_geometry_not_full_maps(tmp_path):
    paths = cases.write_images(tmp_path / "images")
    payload = explorer_payload([cases.dataset_result(paths, "blocks.1")])
    (view,) = payload["views"]
    item = view["results"][0]["items"][0]
    assert item[:8] == [4, 6, *cases.PADDED, *cases.HW, *cases.HW]
    assert (_grid(item) == cases.GRID).all()
    assert encode_grid(np.array([[-1, 3]])) == base64.b64encode(bytes([NO_LABEL, 3])).decode()
    with pytest.raises(ParameterError, match="at most 254 concepts"):
        encode_grid(np.array([[300]]))


def test_dataset_scope_results_are_matched_once_over_all_images(tmp_path):
    paths = cases.write_images(tmp_path / "images")
    a = cases.dataset_result(paths, "blocks.1", names=["sky", "cat", "grass"])
    b = cases.dataset_result(paths, "blocks.2", swap=True)
    (view,) = explorer_payload([a, b])["views"]
    assert view["title"] == "NAVE · 2 results" and view["slots"] == 3
    first, second = view["results"]
    assert first["map"] == [0, 1, 2] and second["map"] == [1, 0, 2] and second["maps"] is None
    assert view["models"] == [{"name": "tiny", "sets": [0, 1]}]
    assert [first["layers"], second["layers"]] == ["blocks.1", "blocks.2"]
    assert first["names"] == ["sky", "cat", "grass"] and first["words"][1] == [["cat", 0.9], ["thing", 0.1]]
    assert "names" not in second
    assert first["gallery"]["0"] == [[0, 0.5], [2, 0.4]]


def test_image_scope_comparison_uses_its_own_per_image_matching(tmp_path):
    paths = cases.write_images(tmp_path / "images")
    comparison = compare_results([cases.image_result(paths, "a", 0), cases.image_result(paths, "b", 1)])
    (view,) = explorer_payload([comparison])["views"]
    assert view["title"] == "Comparison · 2 results" and view["tables"][0]["rows"][0][1:] == [1.0, 1.0]
    second = view["results"][1]
    assert second["map"] is None
    assert second["maps"] == [m.tolist() for m in comparison.mappings[1]]
    for row, item in enumerate(second["items"]):  # the renumbered maps agree with the reference everywhere
        mapped = np.array(second["maps"][row])[_grid(item)]
        assert (mapped == _grid(view["results"][0]["items"][row])).all()
    assert [m["name"] for m in view["models"]] == ["a", "b"]


def test_image_scope_names_are_sent_per_image(tmp_path):
    paths = cases.write_images(tmp_path / "images", n=2)
    result = cases.image_result(paths, "a", 0)
    result.concept_names = cases.concept_names(["x", "y", "z"], images=result.keys)
    (view,) = explorer_payload([result])["views"]
    assert view["results"][0]["inames"] == [["x@img0", "y@img0", "z@img0"], ["x@img1", "y@img1", "z@img1"]]


def test_flow_gives_its_figure_tables_and_a_depth_view(tmp_path):
    paths = cases.write_images(tmp_path / "images")
    flow = flow_from_results([cases.dataset_result(paths, "blocks.1"), cases.dataset_result(paths, "blocks.2", True)])
    figure, depths = explorer_payload([flow])["views"]
    assert figure["kind"] == "flow" and figure["title"] == "Flow · tiny"
    assert base64.b64decode(figure["png"])[:4] == b"\x89PNG"
    assert figure["steps"][0]["forward"] == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert figure["summary"][0]["persist"] == 3 and figure["names"] is None
    assert depths["kind"] == "maps" and depths["models"][0]["sets"] == [0, 1]


def test_dissection_units_with_their_top_images(tmp_path):
    paths = cases.write_images(tmp_path / "images")
    payload = explorer_payload([cases.dissection(paths)])
    (view,) = payload["views"]
    assert view["kind"] == "dissect" and view["title"] == "Dissection · fc"
    assert [unit[1] for unit in view["units"]] == ["stripes", "dots", "stripes", "dots"]
    unit = view["units"][0]
    assert [payload["images"][i]["key"] for i in unit[4]] == ["img0", "img2"] and unit[5] == [2.0, 1.5]


def test_images_are_shared_small_jpegs_and_unreadable_ones_are_grey(tmp_path):
    paths = cases.write_images(tmp_path / "images")
    Image.new("RGB", (640, 320), "red").save(paths[0])  # a larger picture: its thumbnail is 128 px wide
    payload = explorer_payload([cases.dataset_result(paths, "blocks.1"), cases.dissection(paths)])
    assert [row["key"] for row in payload["images"]] == ["img0", "img1", "img2"]  # shared by both views
    first = payload["images"][0]
    assert (first["w"], first["h"]) == (128, 64)
    with Image.open(io.BytesIO(base64.b64decode(first["src"]))) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (128, 64)
    paths[1].unlink()
    table = ThumbTable()
    result = cases.dataset_result(paths, "blocks.1")
    rows = [table.add(r.item, r.original_hw, r.key) for r in result.records]
    assert table.rows()[rows[1]]["src"] is None and table.missing == 1
    assert "could not be read" in explorer_payload([result])["notes"][0]


def test_the_page_is_self_contained_and_its_text_cannot_close_the_script(tmp_path):
    paths = cases.write_images(tmp_path / "images", n=1)
    result = cases.dataset_result(paths, "blocks.1", names=["</script><b>x", "b", "c"])
    page = write_explorer([result], tmp_path / "out" / "explorer.html", title="a <title>")
    text = page.read_text()
    assert text.count("</script>") == 2 and "<title>a &lt;title&gt;</title>" in text
    assert "default-src 'none'" in text and not re.search(r"(src|href)=[\"']?(https?:|//)", text)
    assert _page_data(text)["views"][0]["results"][0]["names"][0] == "</script><b>x"
    assert explorer_html(explorer_payload([result], title="a <title>")) == text


def test_unknown_results_and_nothing_are_one_line_errors():
    with pytest.raises(ParameterError, match="not a dict") as err:
        explorer_payload([{}])
    assert "\n" not in str(err.value)
    with pytest.raises(ParameterError, match="nothing to explore"):
        explorer_payload([])


def test_a_saved_comparison_of_a_real_run_loads_into_the_page(tiny_resnet, make_image, tmp_path):
    import encoderscope as es

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.png")
        make_image(48, 64, seed=i).save(paths[-1])
    comparison = es.compare([tiny_resnet, "baseline:slic"], [str(p) for p in paths], layers="layer3", k=2, size=48,
                            progress=False)
    folder = comparison.save(tmp_path / "cmp", report=False)
    data = _page_data(es.explore(folder).read_text())
    (view,) = data["views"]
    assert [r["name"] for r in view["results"]] == comparison.names and len(view["images"]) == 2
    assert all(row["src"] for row in data["images"])  # the thumbnails come from the recorded paths
    for m, result in enumerate(view["results"]):
        for row, key in enumerate(comparison.keys):
            record = comparison.results[m].record(key)
            assert (_grid(result["items"][row]) == record.labels).all()
            assert result["maps"][row] == comparison.mappings[m][row].tolist()
