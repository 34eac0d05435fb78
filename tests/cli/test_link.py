"""The `encoderscope link` commands end to end on the synthetic generator/classifier."""

from __future__ import annotations

import json

import pytest

from encoderscope import load_result
from encoderscope.cli.app import main


def _run(args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None), exit_.code


def test_link_pipeline(tmp_path, capsys, monkeypatch) -> None:
    import encoderscope._io as io

    written: list[str] = []
    write_text = io.write_text
    monkeypatch.setattr(io, "write_text", lambda path, text: (written.append(str(path)), write_text(path, text)))
    _run(["link", "pairs", "-g", "synthetic:linear", "-c", "synthetic:linear", "--n", "20", "-o",
          str(tmp_path / "pairs.npz"), "--quiet"])
    _run(["link", "fit", "-p", str(tmp_path / "pairs.npz"), "-o", str(tmp_path / "link")])
    assert json.loads((tmp_path / "link" / "scores.json").read_text())["test_r2"] > 0.999
    _run(["link", "tune", "-l", str(tmp_path / "link"), "-o", str(tmp_path / "tune"), "--units", "top:3", "--quiet"])
    _run(["link", "quantify", "-s", str(tmp_path / "tune"), "-o", str(tmp_path / "quant"), "--source", "pixels",
          "--k", "2", "--quiet"])
    _run(["link", "counterfactual", "-l", str(tmp_path / "link"), "--origin", "class0", "--target", "class1",
          "--n", "2", "-o", str(tmp_path / "cf"), "--quiet"])
    assert json.loads((tmp_path / "cf" / "summary.json").read_text())["n"] == 2
    assert written.count(str(tmp_path / "cf" / "summary.json")) == 1  # written by the result only, not again
    assert (tmp_path / "quant" / "summary.csv").exists()
    for step in ("link", "tune", "quant", "cf"):
        assert type(load_result(tmp_path / step)).__name__ in ("LinkFit", "SweepResult", "QuantifyResult",
                                                                "CounterfactualResult")
    assert load_result(tmp_path / "pairs.npz").run.command[:3] == ["encoderscope", "link", "pairs"]


def test_bad_input_is_one_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["link", "fit", "-p", str(tmp_path / "none.npz"), "-o", str(tmp_path)])
    assert exit_.value.code == 2
    assert "error: no paired data" in capsys.readouterr().err
