import subprocess
import sys

import numpy as np
import pytest

from encoderscope import load_result
from encoderscope.data.scenes import write_scenes
from encoderscope.data.voc import open_voc
from encoderscope.errors import ParameterError
from encoderscope.nave.config import CorLocConfig, NaveConfig
from encoderscope.nave.evaluate import LocalisationScores, evaluate_corloc, evaluate_localisation, score_maps
from encoderscope.nave.metrics import CorLocThresholds
from encoderscope.nave.result import NaveRecord, NaveResult


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    write_scenes(root, n=4, seed=3, progress=False)
    return open_voc(root)


def test_ground_truth_maps_score_perfectly(scenes):
    records = []
    for index, entry in enumerate(scenes):
        objects = entry.object_map().astype(np.int16)
        hw = objects.shape
        records.append(NaveRecord(entry.key, index, objects, int(objects.max()) + 1, hw, hw, hw))
    result = NaveResult("ground truth", records, config={})
    scores = score_maps(result, scenes)
    assert scores.corloc.corloc == 100.0
    assert scores.masks is not None and scores.masks.miou == pytest.approx(1.0)


def test_constant_maps_fail(scenes):
    records = []
    for index, entry in enumerate(scenes):
        hw = entry.object_map().shape
        records.append(NaveRecord(entry.key, index, np.zeros(hw, np.int16), 1, hw, hw, hw))
    scores = score_maps(NaveResult("constant", records, config={}), scenes)
    assert scores.corloc.corloc < 100.0


def test_evaluate_random_init_vit_end_to_end(scenes, tmp_path):
    (scores,) = evaluate_localisation(
        "timm:vit_tiny_patch16_224", scenes, [["blocks.11"]], k=4, random_init=True, progress=False
    )
    assert scores.corloc.n_images == len(scenes)
    assert 0.0 <= scores.corloc.corloc <= 100.0
    folder = scores.save(tmp_path / "out")
    assert (folder / "corloc.csv").read_text().count("\n") == len(scenes) + 1
    assert (folder / "scores.json").exists()


def test_corloc_cli_prints_score(scenes, tmp_path):
    root = scenes.entries[0].image_path.parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "encoderscope", "corloc", "timm:resnet18", str(root), "--random-init",
         "--k", "3", "--layers", "layer3,layer4", "--out", str(tmp_path / "c")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CorLoc ") and "on 4 images" in result.stdout
    assert (tmp_path / "c" / "corloc.csv").exists()
    loaded = load_result(tmp_path / "c")
    assert isinstance(loaded, LocalisationScores) and loaded.run.command[:2] == ["encoderscope", "corloc"]
    assert loaded.run.config["dataset"] == str(root) and loaded.run.config["nave"]["layers"] == ["layer3", "layer4"]


def test_evaluate_corloc_takes_a_config(scenes, tmp_path):
    root = scenes.entries[0].image_path.parent.parent
    nave = NaveConfig(model="timm:resnet18", random_init=True, layers=("layer3",), k=3, size=64)
    scores = evaluate_corloc(config=CorLocConfig(dataset=str(root), relative=True, nave=nave), progress=False)
    assert scores.corloc.n_images == 4 and scores.corloc.config == CorLocThresholds.relative_default()
    assert scores.run.kind == "corloc" and scores.run.config["relative"] is True
    again = evaluate_corloc(dataset=scenes, config=CorLocConfig(nave=nave), k=2, progress=False)
    assert again.result.k <= 2 and again.run.config["nave"]["k"] == 2


def test_evaluate_corloc_opens_a_dataset_path_and_refuses_other_objects(scenes):
    root = scenes.entries[0].image_path.parent.parent
    nave = NaveConfig(model="timm:resnet18", random_init=True, layers=("layer3",), k=2, size=64)
    scores = evaluate_corloc(dataset=root, config=CorLocConfig(nave=nave), progress=False)
    assert scores.corloc.n_images == 4 and scores.run.config["dataset"] == str(root)
    with pytest.raises(ParameterError, match="expected an annotated dataset"):
        evaluate_corloc(dataset=[1, 2], config=CorLocConfig(nave=nave), progress=False)
