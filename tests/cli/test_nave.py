import pytest

from encoderscope._io import read_json, read_npz
from encoderscope.cli.app import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


@pytest.fixture
def folder(make_image, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    make_image(64, 96, seed=0).save(images / "a.png")
    make_image(48, 48, seed=1).save(images / "b.png")
    return images


def test_nave_command_writes_maps(capsys, folder, tmp_path):
    code, out, err = run(capsys, "nave", "timm:resnet18", str(folder), "--random-init", "--layers", "layer2,layer3",
                         "--k", "3", "--size", "64", "--out", str(tmp_path / "out"), "--no-report")
    assert code == 0, err
    assert "2 concept maps" in out
    labels = read_npz(tmp_path / "out" / "labels.npz")
    assert labels["a.png"].shape == (64, 96) and labels["b.png"].shape == (48, 48)
    assert read_json(tmp_path / "out" / "run.json")["config"]["layers"] == ["layer2", "layer3"]


def test_nave_command_autocast_flag(capsys, folder, tmp_path):
    code, _, err = run(capsys, "nave", "timm:resnet18", str(folder), "--random-init", "--layers", "layer3",
                       "--k", "3", "--size", "64", "--out", str(tmp_path / "out"), "--no-report", "--autocast")
    assert code == 0, err
    assert read_json(tmp_path / "out" / "run.json")["config"]["autocast"] is True
    assert read_npz(tmp_path / "out" / "labels.npz")["a.png"].shape == (64, 96)


def test_nave_command_cache_and_workers(capsys, folder, tmp_path):
    args = ["nave", "timm:resnet18", str(folder), "--random-init", "--layers", "layer3", "--k", "3", "--size", "64",
            "--no-report", "--cache", str(tmp_path / "store")]
    assert run(capsys, *args, "--workers", "0", "--out", str(tmp_path / "cold"))[0] == 0
    code, _, err = run(capsys, *args, "--workers", "2", "--out", str(tmp_path / "warm"))
    assert code == 0, err
    assert (tmp_path / "cold" / "labels.npz").read_bytes() == (tmp_path / "warm" / "labels.npz").read_bytes()
    assert read_json(tmp_path / "warm" / "run.json")["config"]["workers"] == 2
    code, out, _ = run(capsys, "cache", "info", str(tmp_path / "store"))
    assert code == 0 and "1 model(s), 2 images" in out
    code, _, err = run(capsys, *args, "--workers", "-1", "--out", str(tmp_path / "bad"))
    assert code == 2 and err.strip().startswith("error: workers must be a number >= 0")


def test_compare_command_with_random_init_and_a_baseline(capsys, folder, tmp_path):
    code, out, err = run(capsys, "compare", "random-init:timm:resnet18", "random-init:timm:resnet18",
                         "--images", str(folder), "--baseline", "slic", "--k", "3", "--size", "64",
                         "--out", str(tmp_path / "cmp"))
    assert code == 0, err
    assert "mean ARI vs" in out and out.strip().endswith("report.html")
    assert (tmp_path / "cmp" / "ari.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--k", "1"), "K must be at least 2"), (("--k", "many"), "K must be an integer"),
     (("--scope", "world"), "unknown scope"), (("--size", "big"), "--size must be")],
)
def test_bad_options_are_one_line_errors(capsys, folder, tmp_path, args, message):
    code, _, err = run(capsys, "nave", "timm:resnet18", str(folder), "--random-init", "--size", "64",
                       "--out", str(tmp_path / "x"), *args)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and lines[-1].startswith("error:") and message in lines[-1]


def test_a_file_where_an_output_folder_goes_is_one_line_before_any_work(capsys, folder, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    base = ["nave", "timm:resnet18", str(folder), "--random-init", "--size", "64", "--no-report"]
    for extra in (["--out", str(blocker)], ["--out", str(blocker / "sub")],
                  ["--out", str(tmp_path / "out"), "--cache", str(blocker)]):
        code, out, err = run(capsys, *base, *extra)
        assert code == 2 and err.strip() == f"error: cannot write into {extra[-1]}: {blocker} is a file, not a folder"
        assert "concept maps" not in out
    assert blocker.read_text() == "not a folder" and not (tmp_path / "out").exists()


def test_trust_pickle_lets_a_pickled_checkpoint_load(capsys, folder, tmp_path):
    import timm
    import torch

    path = tmp_path / "full.pt"
    torch.save(timm.create_model("resnet18", pretrained=False), path)
    base = ["nave", f"file:{path}", str(folder), "--arch", "timm:resnet18", "--size", "64", "--k", "3", "--no-report"]
    code, _, err = run(capsys, *base, "--out", str(tmp_path / "refused"))
    assert code == 2 and "pickled timm.models.resnet.ResNet" in err and "--trust-pickle" in err
    code, out, err = run(capsys, *base, "--out", str(tmp_path / "trusted"), "--trust-pickle")
    assert code == 0 and "2 concept maps" in out, err
    run_json = read_json(tmp_path / "trusted" / "run.json")
    assert "trust_pickle" not in run_json["config"]  # a replay of the run.json does not trust by itself
    assert "--trust-pickle" in run_json["command"]


def test_a_run_loads_back_and_replays_from_another_folder(capsys, folder, tmp_path, monkeypatch):
    """Image paths are recorded absolute, so the result and --config find the images from anywhere."""
    import encoderscope as es

    monkeypatch.chdir(folder.parent)
    code, _, err = run(capsys, "nave", "timm:resnet18", "images", "--random-init", "--size", "64", "--k", "3",
                       "--no-report", "--out", "out")
    assert code == 0, err
    assert read_json(tmp_path / "out" / "run.json")["config"]["images"] == [str(folder)]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = es.load_result(tmp_path / "out")
    assert result.figure(0) is not None and result.record(0).path == str(folder / "a.png")
    code, out, err = run(capsys, "nave", "--config", str(tmp_path / "out" / "run.json"), "--out", "again",
                         "--no-report")
    assert code == 0 and "2 concept maps" in out, err
    assert (elsewhere / "again" / "labels.npz").read_bytes() == (tmp_path / "out" / "labels.npz").read_bytes()


@pytest.mark.zoo
def test_demo_on_two_photos(capsys, tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    code, out, err = run(capsys, "demo", "--out", str(tmp_path / "demo"), "--limit", "2")
    assert code == 0, err
    report = tmp_path / "demo" / "report.html"
    assert out.strip().endswith(str(report)) and report.stat().st_size > 10000
    names = read_json(tmp_path / "demo" / "run.json")["details"]["mean_ari"]["names"]
    assert len(names) == 5 and names[-1].startswith("SLIC")
    explorer = (tmp_path / "demo" / "explorer.html").read_text()  # the explorer beside the report
    assert '"name":"SLIC baseline' in explorer and "Comparison · 5 results" in explorer


def test_nave_name_concepts_writes_names_and_records_them(capsys, tmp_path):
    from encoderscope.data.scenes import SceneConfig, write_scenes

    root = write_scenes(tmp_path / "scenes", n=2, seed=0, config=SceneConfig(kinds=("horse", "shape"), min_side=64,
                        max_side=96), progress=False).root
    args = ["nave", "timm:resnet18", str(root / "JPEGImages"), "--random-init", "--layers", "layer3", "--k", "2",
            "--size", "64", "--scope", "dataset", "--no-report", "--workers", "0", "--name-concepts",
            "--scorer", f"annotations:{root}", "--name-top", "2"]
    code, out, err = run(capsys, *args, "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "-> " + str(tmp_path / "out" / "names.csv") in out and f"annotations:{root.name}" in out
    header, *rows = (tmp_path / "out" / "names.csv").read_text().splitlines()
    assert header == "image,concept,rank,word,score" and rows and all(r.startswith(",") for r in rows)
    assert {r.split(",")[3] for r in rows} <= {"horse", "shape"}
    record = read_json(tmp_path / "out" / "run.json")
    assert record["config"]["naming"] == {"name_concepts": True, "scorer": f"annotations:{root}", "concepts": None,
                                          "name_images": 8, "name_top": 2}
    assert record["details"]["names"]["concepts"] == "annotations:scenes classes"
    code, _, err = run(capsys, "nave", "--config", str(tmp_path / "out"), "--out", str(tmp_path / "replay"))
    assert code == 0, err
    assert (tmp_path / "replay" / "names.csv").read_bytes() == (tmp_path / "out" / "names.csv").read_bytes()


def test_nave_name_concepts_errors_are_one_line(capsys, folder, tmp_path):
    base = ["nave", "timm:resnet18", str(folder), "--random-init", "--layers", "layer3", "--k", "2", "--size", "64",
            "--no-report", "--workers", "0", "--name-concepts", "--out", str(tmp_path / "out")]
    code, _, err = run(capsys, *base, "--scorer", "sparkles")
    assert code == 2 and err.strip() == ("error: unknown scorer 'sparkles'; use clip:MODEL[:PRETRAINED], labelspace "
                                         "or annotations:FILE")
    labels = tmp_path / "labels.csv"
    labels.write_text("image,cat,dog\na.png,1,0\nb.png,0,1\n", encoding="utf-8")
    code, _, err = run(capsys, *base, "--scorer", f"annotations:{labels}")
    assert code == 2 and err.startswith("error: annotations:labels.csv labels whole images") and err.count("\n") == 1
    code, _, err = run(capsys, "compare", "random-init:timm:resnet18", "--images", str(folder), "--name-concepts",
                       "--out", str(tmp_path / "cmp"))
    assert code == 2 and "--name-concepts" in err
