"""``encoderscope.explore``: folders and result objects, where the page goes by default."""

from __future__ import annotations

import encoderscope as es
from tests.report import explorer_cases as cases


def test_explore_takes_results_and_folders(tmp_path, monkeypatch):
    paths = cases.write_images(tmp_path / "images")
    result = cases.dataset_result(paths, "blocks.1")
    monkeypatch.chdir(tmp_path)
    assert es.explore(result) == tmp_path / "explorer.html"  # a result object: the current folder
    folder = result.save(tmp_path / "run", report=False)
    assert es.explore([folder / "run.json", result]) == folder / "explorer.html"  # the first folder
    assert es.explore(str(folder), out=tmp_path / "a" / "b.html").is_file()
