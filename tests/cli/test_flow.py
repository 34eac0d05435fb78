"""``encoderscope flow`` end to end on a tiny random-init model; replay with --config; one-line errors."""

from __future__ import annotations

import pytest

from encoderscope._io import read_csv, read_json


@pytest.fixture
def folder(make_image, tmp_path):
    """Three small generated images in a folder."""
    (tmp_path / "images").mkdir()
    for i in range(3):
        make_image(48, 64, seed=i).save(tmp_path / "images" / f"{i}.png")
    return tmp_path / "images"


def test_flow_command_writes_the_flow_and_loads_back(cli, folder, tmp_path):
    from encoderscope.nave.flow import FlowResult
    from encoderscope.results import load_result

    out = tmp_path / "flow"
    code, stdout, err = cli("flow", "timm:resnet18", str(folder), "--random-init", "--layers",
                            "layer1,layer2,layer3", "--k", "3", "--size", "48", "--out", str(out))
    assert code == 0, err
    assert "layer1 -> layer2: persist" in stdout and "layer2 -> layer3" in stdout and "3 images" in stdout
    record = read_json(out / "run.json")
    assert record["kind"] == "flow" and record["command"][:2] == ["encoderscope", "flow"]
    assert record["config"]["nave"]["layers"] == ["layer1", "layer2", "layer3"]
    assert record["config"]["nave"]["scope"] == "dataset" and record["config"]["nave"]["k"] == 3
    data = read_json(out / "flow.json")
    assert data["layers"] == ["layer1", "layer2", "layer3"] and len(data["steps"]) == 2
    rows = read_csv(out / "transitions.csv")
    assert len(rows) == 2 * 3 * 3 and {row["step"] for row in rows} == {"0", "1"}
    assert (out / "flow.png").is_file() and (out / "report.html").is_file()
    loaded = load_result(out)
    assert isinstance(loaded, FlowResult) and loaded.flow_json() == data


def test_flow_command_replays_a_run(cli, folder, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, err = cli("flow", "timm:resnet18", str(folder), "--random-init", "--layers", "layer2,layer3",
                       "--k", "2", "--size", "48", "--seed", "3", "--out", str(first), "--no-report")
    assert code == 0, err
    code, _, err = cli("flow", "--config", str(first), "--out", str(second), "--no-report")
    assert code == 0, err
    assert read_json(second / "flow.json") == read_json(first / "flow.json")
    assert not (second / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--layers", "layer3"), "at least two layers"), ((), "needs layers"),
     (("--layers", "layer2,layer3", "--persist-share", "0.3"), "persist_share must be in"),
     (("--layers", "layer2,nope"), "nope")],
)
def test_bad_options_are_one_line_errors(cli, folder, tmp_path, args, message):
    code, _, err = cli("flow", "timm:resnet18", str(folder), "--random-init", "--size", "48",
                       "--out", str(tmp_path / "x"), *args)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and lines[-1].startswith("error:") and message in lines[-1]


def test_scope_is_not_an_option(cli, folder, tmp_path):
    code, _, err = cli("flow", "timm:resnet18", str(folder), "--layers", "layer2,layer3", "--scope", "image",
                       "--out", str(tmp_path / "x"))
    assert code == 2 and "--scope" in err


def test_flow_command_names_every_depth(cli, tmp_path):
    from encoderscope.data.scenes import SceneConfig, write_scenes

    root = write_scenes(tmp_path / "scenes", n=2, seed=1, config=SceneConfig(kinds=("shape",), min_side=48,
                        max_side=48), progress=False).root
    out = tmp_path / "flow"
    code, _, err = cli("flow", "timm:resnet18", str(root / "JPEGImages"), "--random-init", "--layers", "layer2,layer3",
                       "--k", "2", "--size", "48", "--workers", "0", "--no-report", "--name-concepts", "--scorer",
                       f"annotations:{root}", "--out", str(out))
    assert code == 0, err
    assert read_json(out / "run.json")["config"]["nave"]["naming"]["name_concepts"] is True
    for depth in ("00", "01"):
        rows = read_csv(out / "depths" / depth / "names.csv")
        assert rows and {row["word"] for row in rows} == {"shape"}
