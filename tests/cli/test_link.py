"""The `encoderscope link` commands end to end: the synthetic pair, a StyleGAN-family pickle, and the README's chain
on the eye generator (a fixed tiny version by default; the README's exact commands marked ``slow``)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from encoderscope import load_result
from encoderscope._io import file_sha256
from encoderscope.cli.app import main
from encoderscope.linking.pairs import PairedData
from tests.linking.fake_stylegan import write_pickle


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
    assert json.loads((work / "tune" / "run.json").read_text())["details"]["resolved"]["generator_sha256"] == meta[
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


ROOT = Path(__file__).resolve().parents[2]


def documented_chain(path: Path, heading: str) -> list[list[str]]:
    """The ``encoderscope link ...`` commands of the first bash block after ``heading``, as argument lists."""
    block = path.read_text(encoding="utf-8").split(heading, 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True)[1:] for line in block.splitlines()
            if line.startswith("encoderscope link ")]


def test_the_readme_and_the_linking_guide_give_the_same_five_steps() -> None:
    readme = documented_chain(ROOT / "README.md", "## Linking in Style")
    assert readme == documented_chain(ROOT / "docs" / "linking.md", "## Five steps from the command line")
    assert [args[1] for args in readme] == ["pairs", "fit", "tune", "quantify", "counterfactual"]
    assert "zoo:eyes-colour-cnn" in readme[0] and "zoo:eyes-cdcgan" in readme[0]


#: the tiny version: the README's commands with these options added (the last occurrence of an option wins). An
#: untrained eye-colour CNN (--random-init) needs no training; it calls most eyes brown, hence the origin.
TINY = {
    "pairs": ["--n", "1", "--no-filter", "--random-init", "--quiet"],
    "fit": [],
    "tune": ["--units", "top:2", "--samples", "1", "--random-init", "--quiet"],
    "quantify": ["--k", "2", "--feature-size", "8", "--quiet"],
    "counterfactual": ["--n", "1", "--max-steps", "2", "--pairs", "pairs.npz", "--origin", "brown", "--random-init",
                       "--quiet"],
}


def _readme_chain_in(folder: Path, monkeypatch, extra: dict[str, list[str]] | None = None) -> None:
    monkeypatch.chdir(folder)
    for args in documented_chain(ROOT / "README.md", "## Linking in Style"):
        _run([*args, *(extra or {}).get(args[1], [])])


@pytest.mark.zoo
def test_the_readme_chain_runs_on_the_eye_generator_tiny(tmp_path, monkeypatch, capsys) -> None:
    _readme_chain_in(tmp_path, monkeypatch, TINY)
    pairs = PairedData.load(tmp_path / "pairs.npz")
    assert pairs.latents.shape == (8, 108) and pairs.labels.tolist() == list(range(8))
    assert pairs.meta["classifier"]["spec"] == "zoo:eyes-colour-cnn" and pairs.meta["generator"] == "zoo:eyes-cdcgan"
    assert "ridge-cv" in capsys.readouterr().err  # 6 training pairs for 128 features: OLS warns
    assert (tmp_path / "tune" / "ranking.csv").exists() and (tmp_path / "quant" / "summary.csv").exists()
    summary = json.loads((tmp_path / "cf" / "summary.json").read_text())
    assert summary["n"] == 1
    rows = (tmp_path / "cf" / "counterfactuals.csv").read_text().splitlines()
    assert rows[1].split(",")[1:3] == ["brown", "green"]


@pytest.mark.zoo
@pytest.mark.slow
def test_the_readme_chain_runs_as_written(tmp_path, monkeypatch) -> None:
    """The README's five commands exactly (the first run also trains zoo:eyes-colour-cnn once)."""
    _readme_chain_in(tmp_path, monkeypatch)
    assert len(PairedData.load(tmp_path / "pairs.npz")) == 8 * 300
    assert np.isfinite(json.loads((tmp_path / "link" / "scores.json").read_text())["test_r2"])
    assert len(list((tmp_path / "tune" / "strips").glob("unit_*.png"))) == 8
    assert (tmp_path / "quant" / "selective_units.csv").exists()
    summary = json.loads((tmp_path / "cf" / "summary.json").read_text())
    assert summary["n"] == 8 and summary["success_rate"] > 0


@pytest.mark.zoo
def test_a_class_of_the_generator_unknown_to_the_classifier_says_which_classifier_knows_it(tmp_path, capsys) -> None:
    _run(["link", "pairs", "-g", "synthetic:linear", "-c", "synthetic:linear", "--n", "4", "-o",
          str(tmp_path / "pairs.npz"), "--quiet"])
    _run(["link", "fit", "-p", str(tmp_path / "pairs.npz"), "-o", str(tmp_path / "link")])
    capsys.readouterr()
    code, err = _code(capsys, ["link", "counterfactual", "-l", str(tmp_path / "link"), "--origin", "class7",
                               "--target", "class1", "-o", str(tmp_path / "cf")])
    assert code == 2 and "unknown class 'class7'; classes: class0, class1, class2" in err
    code, err = _code(capsys, ["link", "counterfactual", "-l", str(tmp_path / "link"), "-g", "zoo:eyes-cdcgan",
                               "--origin", "blue", "--target", "green", "-o", str(tmp_path / "cf")])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no class 'blue'" in err and "-c zoo:eyes-colour-cnn" in err
