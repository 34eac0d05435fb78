"""Command-line options come from the configuration fields; ``--config FILE`` replays a run and flags override it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from encoderscope._io import read_json
from encoderscope.cli.app import _register_commands, app, main
from encoderscope.configs import iter_fields
from encoderscope.data.scenes import ScenesConfig
from encoderscope.dissect.config import DissectConfig
from encoderscope.linking.config import (
    LinkCounterfactualConfig,
    LinkFitConfig,
    LinkPairsConfig,
    LinkQuantifyConfig,
    LinkTuneConfig,
)
from encoderscope.lwta.config import LwtaTrainConfig
from encoderscope.nave.config import NAMING_FIELDS, CompareConfig, CorLocConfig, NaveConfig

COMMANDS = {
    "nave": NaveConfig, "compare": CompareConfig, "corloc": CorLocConfig, "dissect": DissectConfig,
    "scenes": ScenesConfig, "link pairs": LinkPairsConfig, "link fit": LinkFitConfig, "link tune": LinkTuneConfig,
    "link quantify": LinkQuantifyConfig, "link counterfactual": LinkCounterfactualConfig,
    "lwta train": LwtaTrainConfig,
}


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def _command(path: str):
    _register_commands()
    group = typer.main.get_command(app)
    for part in path.split():
        group = group.commands[part]
    return group


@pytest.mark.parametrize("path", list(COMMANDS))
def test_every_field_is_an_option_with_the_fields_help(path: str) -> None:
    command = _command(path)
    params = {param.name: param for param in command.params}
    assert "config_file" in params and "--config" in params["config_file"].opts
    for _, field, _ in iter_fields(COMMANDS[path]):
        if not field.metadata["cli"] or field.name not in params:
            continue
        assert params[field.name].help == field.metadata["help"], (path, field.name)
    shown = {f.name for _, f, _ in iter_fields(COMMANDS[path]) if f.metadata["cli"]}
    # compare and corloc take their inputs elsewhere and do not name concepts
    assert shown - set(params) <= {"model", "images", *NAMING_FIELDS}


@pytest.fixture
def folder(tmp_path: Path, make_image) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    make_image(48, 64, seed=0).save(images / "a.png")
    make_image(40, 40, seed=1).save(images / "b.png")
    return images


NAVE = ("nave", "timm:resnet18", "--random-init", "--layers", "layer3", "--k", "3", "--size", "48", "--no-report")


def test_a_replayed_run_json_reproduces_the_outputs_and_flags_override(capsys, folder: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, *NAVE[:2], str(folder), *NAVE[2:], "--out", str(tmp_path / "a"))
    assert code == 0, err
    code, _, err = run(capsys, "nave", "--config", str(tmp_path / "a" / "run.json"), "--no-report",
                       "--out", str(tmp_path / "b"))
    assert code == 0, err
    for name in ("labels.npz", "grids.npz", "coverage.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    first, replay = read_json(tmp_path / "a" / "run.json"), read_json(tmp_path / "b" / "run.json")
    assert replay["config"] == first["config"] and replay["config"]["images"] == [str(folder)]
    assert replay["command"][:3] == ["encoderscope", "nave", "--config"]
    code, _, err = run(capsys, "nave", "--config", str(tmp_path / "a"), "--k", "2", "--no-report",
                       "--out", str(tmp_path / "c"))
    assert code == 0, err
    override = read_json(tmp_path / "c" / "run.json")["config"]
    assert override["k"] == 2 and {**override, "k": 3} == first["config"]


def test_option_files_in_json_and_yaml(capsys, folder: Path, tmp_path: Path) -> None:
    options = {"model": "timm:resnet18", "images": [str(folder)], "random_init": True, "layers": ["layer3"], "k": 2,
               "size": 48}
    (tmp_path / "opts.json").write_text(json.dumps(options))
    (tmp_path / "opts.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in options.items()))
    for name in ("opts.json", "opts.yaml"):
        code, _, err = run(capsys, "nave", "--config", str(tmp_path / name), "--no-report",
                           "--out", str(tmp_path / name.replace(".", "-")))
        assert code == 0, err
    assert (tmp_path / "opts-json" / "grids.npz").read_bytes() == (tmp_path / "opts-yaml" / "grids.npz").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"kk": 3}, "unknown option 'kk' in --config"),
        ({"schema": 1, "kind": "link-fit", "config": {}}, "records a 'link-fit' run, not 'nave'"),
        ({"schema": 99, "kind": "nave", "config": {}}, "newer than this encoderscope reads"),
        ([1, 2], "must hold a mapping of options"),
        ({"k": 2}, "missing MODEL: give it on the command line or in --config FILE"),
    ],
)
def test_bad_config_files_are_one_line(capsys, tmp_path: Path, content, message: str) -> None:
    (tmp_path / "bad.json").write_text(json.dumps(content))
    code, _, err = run(capsys, "nave", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x"))
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_link_fit_replay(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "link", "pairs", "-g", "synthetic:linear", "-c", "synthetic:linear", "--n", "30",
                       "--quiet", "-o", str(tmp_path / "pairs"))
    assert code == 0, err
    code, _, err = run(capsys, "link", "fit", "-p", str(tmp_path / "pairs"), "--method", "ridge", "--alpha", "0.5",
                       "-o", str(tmp_path / "fit"))
    assert code == 0, err
    code, _, err = run(capsys, "link", "fit", "--config", str(tmp_path / "fit"), "-o", str(tmp_path / "again"))
    assert code == 0, err
    assert read_json(tmp_path / "fit" / "scores.json") == read_json(tmp_path / "again" / "scores.json")
    assert (tmp_path / "fit" / "link.npz").read_bytes() == (tmp_path / "again" / "link.npz").read_bytes()
    assert read_json(tmp_path / "again" / "run.json")["config"]["alpha"] == 0.5
    code, _, err = run(capsys, "link", "pairs", "--config", str(tmp_path / "pairs"), "--quiet",
                       "-o", str(tmp_path / "pairs2.npz"))
    assert code == 0, err


def test_help_shows_the_fields_defaults(capsys) -> None:
    code, out, _ = run(capsys, "nave", "--help")
    assert code == 0 and "Concepts per map" in out and "kmeans | pca" in out and "[default: 5]" in out
