import pytest
import torch

import encoderscope.cli.cache  # noqa: F401  (registers the command until cli/app lists it)
from encoderscope.capture.inputs import ImageGeometry
from encoderscope.capture.outputs import LayerOutput
from encoderscope.capture.store import ActivationStore, StoredImage
from encoderscope.cli.app import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def _fill(root, key, settings, n_images):
    geometry = ImageGeometry((8, 8), (8, 8), (8, 8))
    images = [
        StoredImage(f"image{i}", geometry, {"blocks.0": LayerOutput(grid=torch.ones(1, 4, 2, 2), kind="grid")})
        for i in range(n_images)
    ]
    ActivationStore(root, key, settings).write(images)


def test_info_lists_models_and_clear_removes_them(tmp_path, capsys):
    _fill(tmp_path, "aaaa1111", {"model": "zoo:dinov2-vits14", "layers": ["blocks.11"], "mode": "dense"}, 3)
    _fill(tmp_path, "bbbb2222", {"model": "timm:resnet18", "layers": ["layer4"], "mode": "dense"}, 2)
    (tmp_path / "bbbb2222" / "shards" / ".chunk-x.safetensors.abc.tmp").write_bytes(b"half")
    code, out, _ = run(capsys, "cache", "info", str(tmp_path))
    assert code == 0
    rows = [line for line in out.splitlines() if "aaaa1111" in line or "bbbb2222" in line]
    assert len(rows) == 2
    assert "zoo:dinov2-vits14" in rows[0] and "blocks.11" in rows[0] and " 3 " in rows[0]
    assert "timm:resnet18" in rows[1] and "layer4" in rows[1]
    assert "2 model(s), 5 images" in out and "1 unfinished shard file(s)" in out
    code, out, _ = run(capsys, "cache", "clear", str(tmp_path), "--model", "bbbb")
    assert code == 0 and out.startswith("removed 1 model(s)")
    assert not (tmp_path / "bbbb2222").exists() and (tmp_path / "aaaa1111").exists()
    assert run(capsys, "cache", "clear", str(tmp_path))[0] == 0
    code, out, _ = run(capsys, "cache", "info", str(tmp_path))
    assert code == 0 and "empty activation store" in out


@pytest.mark.parametrize("command", ["info", "clear"])
def test_a_folder_that_is_not_a_store_is_a_one_line_error(tmp_path, capsys, command):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "cache", command, str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {tmp_path} is not an encoderscope activation store (no encoderscope-store.json)"
    ]
    assert (tmp_path / "keep.txt").exists()


def test_clearing_an_unknown_model_is_a_one_line_error(tmp_path, capsys):
    _fill(tmp_path, "aaaa1111", {}, 1)
    code, _, err = run(capsys, "cache", "clear", str(tmp_path), "--model", "zzz")
    assert code == 2 and err.startswith("error: no model with key 'zzz'")
