"""The lwta study's --quick run, through the `encoderscope study` command."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from encoderscope.data.zoo_images import fashion_mnist
from encoderscope.errors import SourceError


@pytest.mark.slow
def test_quick_study_writes_numbers_and_figures(tmp_path: Path) -> None:
    try:
        fashion_mnist("t10k")
    except SourceError as err:
        pytest.skip(str(err))
    from encoderscope.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["study", "lwta", "--out", str(tmp_path), "--quick"])
    assert exit_info.value.code in (0, None)
    with (tmp_path / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["arch"], r["U"]) for r in rows] == [("vit", "4"), ("resnet", "2")]
    for row in rows:
        assert float(row["active_fraction_mean"]) == pytest.approx(1 / int(row["U"]))
        assert 0.0 <= float(row["final_layer_top1"]) <= 1.0
    assert (tmp_path / "accuracy_vs_U.png").stat().st_size > 1000
    assert (tmp_path / "explanations.csv").read_text().count("\n") > 1
    assert (tmp_path / "models" / "vit-U4" / "model.pt").is_file()
    assert (tmp_path / "dissection" / "vit-U4" / "head" / "descriptions.csv").is_file()
