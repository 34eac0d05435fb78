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
