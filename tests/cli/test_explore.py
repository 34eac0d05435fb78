"""``encoderscope explore``: run folders in, one page out (default: in the first folder); one-line errors."""

from __future__ import annotations

import json
import re

from encoderscope.runs import RunRecord
from tests.report import explorer_cases as cases


def _views(page):
    block = re.search(r'id="es-data">(.*?)</script>', page.read_text(), re.S)
    return json.loads(block.group(1))["views"]


def test_explore_writes_one_page_of_every_folder(cli, tmp_path):
    paths = cases.write_images(tmp_path / "images")
    nave = cases.dataset_result(paths, "blocks.1").save(tmp_path / "nave", report=False)
    dissection = cases.dissection(paths).save(tmp_path / "dissect", galleries=0)
    code, out, err = cli("explore", str(nave), str(dissection))
    assert code == 0, err
    page = nave / "explorer.html"
    assert out.startswith(str(page)) and "MB" in out
    assert [view["kind"] for view in _views(page)] == ["maps", "dissect"]
    code, out, err = cli("explore", str(dissection), "--out", str(tmp_path / "x.html"), "--title", "Units")
    assert code == 0, err
    assert "<title>Units</title>" in (tmp_path / "x.html").read_text()


def test_explore_refuses_other_runs_and_missing_folders_in_one_line(cli, tmp_path):
    RunRecord.create("scenes", {}).write(tmp_path / "scenes")
    code, _, err = cli("explore", str(tmp_path / "scenes"))
    assert code == 2 and err.strip().count("\n") == 0
    assert "holds a 'scenes' run; the explorer shows nave, compare, flow, dissect runs" in err
    code, _, err = cli("explore", str(tmp_path / "missing"))
    assert code == 2 and err.startswith("error: no result at") and err.strip().count("\n") == 0
