"""The `encoderscope link` commands end to end: the synthetic pair, and a StyleGAN-family pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from encoderscope._io import file_sha256
from encoderscope.cli.app import main
from encoderscope.linking.pairs import PairedData
from tests.linking.fake_stylegan import write_pickle


def _run(args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None), exit_.code


def test_link_pipeline(tmp_path, capsys) -> None:
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
    assert (tmp_path / "quant" / "summary.csv").exists()


def test_bad_input_is_one_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["link", "fit", "-p", str(tmp_path / "none.npz"), "-o", str(tmp_path)])
    assert exit_.value.code == 2
    assert "error: no paired data" in capsys.readouterr().err


def _code(capsys, args: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return int(exit_.value.code or 0), capsys.readouterr().err


def test_a_stylegan_pickle_goes_through_the_whole_chain(tmp_path, monkeypatch, capsys) -> None:
    """The pairs record the pickle's resolved path and sha256: every later step (run from another folder) finds it
    again with --trust-pickle, refuses without it, and refuses a changed file before unpickling it."""
    (tmp_path / "models").mkdir()
    pickle_path = write_pickle(tmp_path / "models" / "net.pkl")
    monkeypatch.chdir(tmp_path / "models")
    _run(["link", "pairs", "-g", "stylegan:net.pkl", "-c", "synthetic:linear", "--n", "30", "-o",
          str(tmp_path / "pairs.npz"), "--trust-pickle", "--quiet"])
    meta = PairedData.load(tmp_path / "pairs.npz").meta
    assert meta["generator"] == f"stylegan:{pickle_path.resolve()}"
    assert meta["generator_sha256"] == file_sha256(pickle_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    _run(["link", "fit", "-p", str(tmp_path / "pairs.npz"), "-o", "link"])
    _run(["link", "tune", "-l", "link", "-o", "tune", "--units", "top:2", "--samples", "2", "--trust-pickle",
          "--quiet"])
    assert json.loads((work / "tune" / "run.json").read_text())["config"]["generator_sha256"] == meta[
        "generator_sha256"]
    code, err = _code(capsys, ["link", "quantify", "-s", "tune", "-o", "quant", "--k", "2", "--quiet"])
    assert code == 2 and "--trust-pickle" in err and len(err.strip().splitlines()) == 1
    _run(["link", "quantify", "-s", "tune", "-o", "quant", "--k", "2", "--trust-pickle", "--quiet"])
    assert (work / "quant" / "summary.csv").exists()
    predictions = PairedData.load(tmp_path / "pairs.npz").predictions
    origin = int(np.bincount(predictions).argmax())
    _run(["link", "counterfactual", "-l", "link", "--origin", str(origin), "--target", str((origin + 1) % 3),
          "--pairs", str(tmp_path / "pairs.npz"), "--n", "2", "--max-steps", "3", "-o", "cf", "--trust-pickle",
          "--quiet"])
    assert json.loads((work / "cf" / "summary.json").read_text())["n"] == 2
    write_pickle(pickle_path, seed=1)  # the file changes under the recorded hash
    for args in (["link", "tune", "-l", "link", "-o", "tune2"], ["link", "quantify", "-s", "tune", "-o", "q2"],
                 ["link", "counterfactual", "-l", "link", "--origin", "0", "--target", "1", "--pairs",
                  str(tmp_path / "pairs.npz"), "-o", "cf2"]):
        code, err = _code(capsys, [*args, "--trust-pickle", "--quiet"])
        assert code == 2 and "changed since it was recorded" in err and len(err.strip().splitlines()) == 1
    assert not (work / "tune2").exists()
