"""`encoderscope lwta train|eval` and `encoderscope dissect` on an LWTA checkpoint (tiny subsets)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from encoderscope.cli.app import main
from encoderscope.data.zoo_images import fashion_mnist
from encoderscope.errors import SourceError


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code or 0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    try:
        fashion_mnist("t10k")
    except SourceError as err:
        pytest.skip(str(err))
    out = tmp_path_factory.mktemp("ckpt")
    code = _run(
        [
            "lwta",
            "train",
            "--out",
            str(out),
            "--arch",
            "vit",
            "-U",
            "4",
            "--epochs",
            "1",
            "--train-limit",
            "64",
            "--test-limit",
            "32",
            "--batch-size",
            "32",
            "--passes",
            "2",
        ]
    )
    assert code == 0
    return out


def test_train_then_eval(checkpoint: Path, capsys) -> None:
    metrics = json.loads((checkpoint / "metrics.json").read_text())
    assert metrics["passes"] == 2 and all(v == 0.25 for v in metrics["active_fraction"].values())
    assert _run(["lwta", "eval", str(checkpoint), "--test-limit", "16", "--passes", "1"]) == 0
    assert "non-zero fraction 0.2500" in capsys.readouterr().out


def test_dissect_checkpoint_with_annotations_and_explanations(checkpoint: Path, tmp_path: Path) -> None:
    labels = fashion_mnist("t10k")[1][:40]
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    table = tmp_path / "labels.csv"
    rows = ["image," + ",".join(names)]
    for i, label in enumerate(labels):
        rows.append(f"fashion-mnist/t10k/{i:06d}," + ",".join("1" if j == label else "0" for j in range(10)))
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "dissect"
    code = _run(
        [
            "dissect",
            str(checkpoint),
            "--layer",
            "blocks.3.mlp.act",
            "--probe",
            "zoo:fashion-mnist",
            "--limit",
            "40",
            "--scorer",
            f"annotations:{table}",
            "--out",
            str(out),
            "--galleries",
            "0",
            "--explain",
            "2",
        ]
    )
    assert code == 0
    with (out / "descriptions.csv").open() as handle:
        described = list(csv.DictReader(handle))
    assert len(described) == 256 and {r["concept"] for r in described} <= set(names)
    with (out / "explanations.csv").open() as handle:
        explained = list(csv.DictReader(handle))
    assert len(explained) == 2 * 64  # one winner per block of 4 for each image


def test_bad_inputs_give_one_error_line(tmp_path: Path, capsys) -> None:
    assert _run(["lwta", "eval", str(tmp_path)]) == 2
    assert "not an LWTA checkpoint" in capsys.readouterr().err
    assert (
        _run(
            [
                "dissect",
                "timm:resnet18",
                "--random-init",
                "--layer",
                "fc",
                "--probe",
                "zoo:photos/coffee",
                "--scorer",
                "sparkles",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "unknown scorer" in capsys.readouterr().err
