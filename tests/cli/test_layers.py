import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "encoderscope", *args], capture_output=True, text=True, timeout=300
    )


def test_layers_lists_registers():
    result = run_cli("layers", "timm:vit_small_patch14_reg4_dinov2", "--random-init", "--input-size", "224",
                     "--filter", "blocks.11")
    assert result.returncode == 0, result.stderr
    assert "CLS + 4 registers" in result.stdout
    assert "cls+4reg" in result.stdout and "16x16" in result.stdout


def test_layers_non_square_input():
    result = run_cli("layers", "timm:vit_tiny_patch16_224", "--random-init", "--input-size", "160x224",
                     "--filter", "blocks.0")
    assert result.returncode == 0, result.stderr
    assert "10x14" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("layers", "timm:resnet18", "--random-init", "--filter", "layer9"), "closest valid names"),
        (("layers", "nope:model"), "unknown model source"),
        (("layers", "timm:resnet18", "--random-init", "--input-size", "abc"), "is not H or HxW"),
    ],
)
def test_bad_input_one_line_error(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


@pytest.mark.zoo
def test_layers_zoo_dinov2():
    result = run_cli("layers", "zoo:dinov2-vits14", "--filter", "blocks.*")
    if result.returncode != 0 and "make setup" in result.stderr:
        pytest.skip("offline zoo not installed")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "blocks." in line and "Block" in line]
    assert len(rows) == 12
    assert all("16x16" in row and "cls" in row for row in rows)
