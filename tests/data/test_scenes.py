"""Tests for encoderscope.data.scenes: seeded scenes with exact boxes and masks, written as VOC."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope._io import read_json
from encoderscope.data import zoo_images
from encoderscope.data.scenes import SceneConfig, SceneGenerator, generate_scenes, write_scenes
from encoderscope.data.voc import open_voc
from encoderscope.errors import ParameterError, SourceError
from encoderscope.nave.metrics import corloc, hungarian_miou

FAST = SceneConfig(kinds=("horse", "shape"))  # needs only scikit-image, no weights or Debian data


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    a = write_scenes(tmp_path / "a", n=4, seed=7, config=FAST, progress=False)
    b = write_scenes(tmp_path / "b", n=4, seed=7, config=FAST, progress=False)
    files_a, files_b = _files(a.root), _files(b.root)
    assert files_a == files_b
    assert {
        "JPEGImages/000003.jpg",
        "Annotations/000000.xml",
        "SegmentationObject/000001.png",
        "ImageSets/Main/all.txt",
        "run.json",
        "classes.txt",
    } <= set(files_a)
    c = write_scenes(tmp_path / "c", n=4, seed=8, config=FAST, progress=False)
    assert _files(c.root)["JPEGImages/000000.jpg"] != files_a["JPEGImages/000000.jpg"]
    run = read_json(a.root / "run.json")
    assert run["seed"] == 7 and run["config"]["n"] == 4 and run["config"]["scene"]["kinds"] == ["horse", "shape"]


def test_scene_depends_only_on_seed_and_index():
    first = list(generate_scenes(3, seed=2, config=FAST))[2]
    alone = next(generate_scenes(1, seed=2, config=FAST, start=2))
    assert np.array_equal(np.asarray(first.image), np.asarray(alone.image))
    assert np.array_equal(first.object_map, alone.object_map) and first.objects == alone.objects


def test_boxes_masks_and_sizes_are_consistent():
    config = SceneConfig(kinds=("horse", "shape"), min_side=224, max_side=448)
    for scene in generate_scenes(12, seed=0, config=config):
        width, height = scene.image.size
        assert 224 <= width <= 448 and 224 <= height <= 448
        assert 1 <= len(scene.objects) <= 3
        assert scene.object_map.shape == (height, width) and scene.object_map.max() == len(scene.objects)
        for obj, mask in zip(scene.objects, scene.masks(), strict=True):
            rows, cols = np.nonzero(mask)
            assert obj.box == (cols.min(), rows.min(), cols.max(), rows.max())
            assert obj.area == mask.sum() > 0 and obj.name in ("horse", "shape")
        assert scene.boxes()[:, 2:].tolist() == [[o.box[2] + 1, o.box[3] + 1] for o in scene.objects]


def test_occlusion_limit():
    config = SceneConfig(
        kinds=("shape",), min_objects=3, max_objects=3, min_scale=0.5, max_scale=0.6, max_occlusion=0.1
    )
    generator = SceneGenerator(1, config)
    for index in range(6):
        scene = generator.scene(index)
        for obj in scene.objects[:-1]:
            assert obj.area > 0  # every kept object stays visible
    free = SceneGenerator(1, SceneConfig(kinds=("shape",), min_objects=3, max_objects=3, max_occlusion=0.0))
    scene = free.scene(0)
    assert len({o.box for o in scene.objects}) == len(scene.objects)


def test_written_folder_reads_back_for_the_evaluator(tmp_path):
    summary = write_scenes(tmp_path / "s", n=3, seed=1, config=FAST, progress=False)
    dataset = open_voc(summary.root, image_set="all")
    scenes = list(generate_scenes(3, seed=1, config=FAST))
    assert dataset.keys == [s.image_id for s in scenes]
    for entry, scene in zip(dataset, scenes, strict=True):
        np.testing.assert_array_equal(entry.object_map(), scene.object_map)
        np.testing.assert_array_equal(entry.boxes(), scene.boxes())
        assert entry.load().size == scene.image.size
    maps = [entry.object_map() for entry in dataset]
    assert corloc(maps, dataset.gt_boxes()).corloc == 100.0  # the ground-truth map localises every scene
    assert all(hungarian_miou(m, m).miou == 1.0 for m in maps)
    assert sum(summary.class_counts.values()) == sum(len(s.objects) for s in scenes)


def test_bad_configs():
    for bad in (
        {"min_side": 500, "max_side": 300},
        {"kinds": ("cat",)},
        {"min_objects": 0},
        {"min_scale": 0.7, "max_scale": 0.2},
        {"backgrounds": ("sky",)},
        {"max_occlusion": 1.0},
    ):
        with pytest.raises(ParameterError):
            SceneConfig(**bad)
    with pytest.raises(ParameterError):
        next(generate_scenes(0))


@pytest.mark.zoo
def test_fashion_and_face_objects():
    if zoo_images._debian_file(f"{zoo_images.FASHION_MNIST_DIR}/t10k-labels-idx1-ubyte.gz") is None:
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    pytest.importorskip("gan_face_generate", reason="gan-face-generate is not installed")
    generator = SceneGenerator(0, SceneConfig(kinds=("fashion", "face"), min_objects=3), warn_missing=False)
    assert generator.kinds == ("fashion", "face")
    names = {o.name for i in range(8) for o in generator.scene(i).objects}
    assert "face" in names and names - {"face"}
    again = SceneGenerator(0, SceneConfig(kinds=("fashion", "face"), min_objects=3), warn_missing=False)
    assert np.array_equal(np.asarray(generator.scene(5).image), np.asarray(again.scene(5).image))


def test_missing_sources_are_left_out_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zoo_images, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "cache"))
    zoo_images.fashion_mnist.cache_clear()
    try:
        generator = SceneGenerator(0, SceneConfig(kinds=("fashion", "shape")))
        assert generator.kinds == ("shape",)
        assert "dataset-fashion-mnist" in generator.missing[0]
        assert capsys.readouterr().err.count("warning:") == 1
        assert {o.kind for o in generator.scene(0).objects} == {"shape"}
        with pytest.raises(SourceError, match="no object source"):
            SceneGenerator(0, SceneConfig(kinds=("fashion",)), warn_missing=False)
    finally:
        zoo_images.fashion_mnist.cache_clear()
