"""``--engine ray`` on the command line: the command starts its own local Ray cluster and stops it (no Ray process
is left behind, also after Ctrl-C), gives the local engine's maps, and an unreachable ``--ray-address`` is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.images import make_image
from tests.ray_cluster import MARK, left_behind, marked_processes, new_mark

pytest.importorskip("ray.data", reason="the Ray engine needs the 'ray' extra")

MODEL = ["timm:resnet18", "--random-init", "--size", "64", "--layers", "layer3", "--k", "3", "--batch-size", "2"]


def _images(folder: Path, n: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        make_image(48, 64 + 8 * (i % 2), seed=i).save(folder / f"{i:02d}.png")
    return folder


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "encoderscope", *args]


def _environment(mark: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    return {**env, "PYTHONPATH": os.pathsep.join(sys.path), MARK: mark}


@pytest.mark.slow
def test_the_command_starts_and_stops_its_own_cluster_and_matches_local(tmp_path):
    from encoderscope import load_result
    from encoderscope.nave import nave

    images = _images(tmp_path / "images")
    command = _command("nave", *MODEL, str(images), "--engine", "ray", "--ray-actors", "2", "--no-report",
                       "--out", str(tmp_path / "out"))
    mark = new_mark()
    run = subprocess.Popen(command, env=_environment(mark), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert "6 concept maps (0 skipped)" in out
    assert "ray" not in err.lower()  # Ray's own console output is quiet
    assert list(Path("/tmp/ray").glob(f"session_*_{run.pid}")), "the command started no local Ray cluster"
    assert left_behind(mark) == []
    remote = load_result(tmp_path / "out")
    assert remote.run.config["engine"] == "ray" and remote.run.config["ray_actors"] == 2
    local = nave("timm:resnet18", images, random_init=True, size=64, layers="layer3", k=3, batch_size=2,
                 workers=0, progress=False)
    assert [r.key for r in remote.records] == [r.key for r in local.records]
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(remote.records, local.records, strict=True))


@pytest.mark.slow
def test_ctrl_c_stops_the_cluster_too(tmp_path):
    images = _images(tmp_path / "images", n=60)
    command = _command("nave", *MODEL, str(images), "--engine", "ray", "--ray-actors", "1", "--no-report", "--out",
                       str(tmp_path / "out"))
    mark = new_mark()
    run = subprocess.Popen(command, env=_environment(mark), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 300
        while not [p for p in marked_processes(mark) if "raylet" in p.name()]:  # interrupted while Ray starts
            assert run.poll() is None and time.monotonic() < deadline, "no Ray cluster started"
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0 and not (tmp_path / "out" / "run.json").exists()
    assert left_behind(mark) == []


UNREACHABLE = (
    "error: cannot reach the Ray cluster at 127.0.0.1:1 (connection refused); start one with `ray start --head`, "
    "or leave --ray-address and RAY_ADDRESS unset to run a local cluster"
)


def test_an_unreachable_ray_address_is_one_line(tmp_path):
    images = _images(tmp_path / "images")
    run = subprocess.run(_command("nave", *MODEL, str(images), "--engine", "ray", "--ray-address", "127.0.0.1:1",
                                  "--out", str(tmp_path / "out")),
                         env=_environment(new_mark()), capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [UNREACHABLE]


def test_ray_address_from_the_environment_nave_and_dissect(tmp_path, monkeypatch, capsys):
    import ray

    from encoderscope.cli import main

    assert not ray.is_initialized()
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    images = str(_images(tmp_path / "images"))
    for command in (["nave", *MODEL, images], ["dissect", "timm:resnet18", "--random-init", "--layer", "layer4",
                                               "--probe", images]):
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--engine", "ray", "--out", str(tmp_path / "out")])
        assert stopped.value.code == 2
        assert capsys.readouterr().err.strip().splitlines() == [UNREACHABLE]
