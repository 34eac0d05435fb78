"""Tests for encoderscope.dissect.scorers on regions: the default masked-crop path, per-pixel (mask) annotations,
image-level annotations and the scorer specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from encoderscope.data.images import ImageItem, open_images
from encoderscope.data.scenes import SceneConfig, write_scenes
from encoderscope.dissect.regions import GREY, Region, masked_crop
from encoderscope.dissect.scorers import (
    AnnotationScorer,
    ConceptScorer,
    MaskAnnotationScorer,
    crop_scores,
    make_scorer,
    match_classes,
    score_regions,
)
from encoderscope.errors import ParameterError
from tests.dissect.classifiers import MeanColourClassifier

SHAPES = SceneConfig(kinds=("horse", "shape"), min_side=64, max_side=96)  # scikit-image only


class MeanColour:
    """A scorer with ``scores`` only: each concept is a colour channel; the score is the crop's mean of it."""

    name = "mean-colour"
    fill = (0, 0, 0)

    def scores(self, items, concepts):
        means = [np.asarray(item.load(), dtype=np.float64).mean(axis=(0, 1)) / 255 for item in items]
        channel = {"red": 0, "green": 1, "blue": 2}
        return torch.tensor([[m[channel[c]] for c in concepts] for m in means])


def _two_colour_image(tmp_path: Path) -> ImageItem:
    pixels = np.zeros((8, 8, 3), np.uint8)
    pixels[:, :4, 0] = 255  # left half red
    pixels[:, 4:, 2] = 255  # right half blue
    Image.fromarray(pixels).save(tmp_path / "two.png")
    return ImageItem("two.png", None, tmp_path / "two.png")


def test_a_scorer_with_scores_only_scores_the_masked_crops(tmp_path):
    item = _two_colour_image(tmp_path)
    left, right = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    left[:, :4], right[2:6, 4:] = True, True
    regions = [Region(item, left), Region(item, right)]
    P = crop_scores(MeanColour(), regions, ["red", "blue"], margin=0.0)
    # left: an 8 x 4 red cut padded to 8 x 8 with black (the scorer's fill): half red; right: a 4 x 4 blue square
    np.testing.assert_allclose(P.numpy(), [[0.5, 0.0], [0.0, 1.0]])
    # the default margin (0.1) grows the right box by ceil(0.4) = 1 pixel each side, clipped at the right edge:
    # a 6 x 5 cut padded to 6 x 6 around the 4 x 4 blue square
    P = score_regions(MeanColour(), regions, ["red", "blue"])
    np.testing.assert_allclose(P.numpy(), [[0.5, 0.0], [0.0, 16 / 36]])


def _crop_summary(image):
    """(height, width, share of GREY pixels) of a crop, as a tensor (picklable, for the decoding worker)."""
    pixels = np.asarray(image)
    summary = [pixels.shape[0], pixels.shape[1], (pixels == GREY).all(axis=-1).mean()]
    return torch.tensor(summary, dtype=torch.float64).reshape(3, 1, 1)  # the pipeline takes (C, H, W) tensors


class CropSummary(ConceptScorer):
    """Inherits ``score_regions`` and ``fill`` from the protocol; decodes through the input pipeline."""

    name = "crop-summary"

    def scores(self, items, concepts):
        from encoderscope.capture.inputs import iter_fixed_batches

        return torch.cat(list(iter_fixed_batches(items, _crop_summary, batch_size=2, workers=1)))[:, :, 0, 0]


def test_the_protocol_default_crops_with_the_fill_in_the_decoding_workers(tmp_path):
    item = _two_colour_image(tmp_path)
    mask = np.zeros((8, 8), bool)
    mask[:4, :4] = True
    scorer = CropSummary()
    assert scorer.fill == GREY and scorer.regional
    P = scorer.score_regions([Region(item, mask)], ["size"])
    # the 4 x 4 box grown by ceil(0.1 * 4) = 1 on each side, clipped at the top and left: rows and columns 0..4;
    # 25 pixels of which the 9 outside the mask are grey
    np.testing.assert_allclose(P.numpy(), [[5, 5, 9 / 25]])


def test_mask_annotations_read_a_voc_folder_and_score_fractions_of_pixels(tmp_path):
    from encoderscope.data.voc import open_voc

    root = write_scenes(tmp_path / "scenes", n=3, seed=4, config=SHAPES, progress=False).root
    scorer = make_scorer(f"annotations:{root}")
    assert isinstance(scorer, MaskAnnotationScorer) and scorer.regional
    assert scorer.concepts == sorted({o.name for e in open_voc(root) for o in e.annotation.objects})
    entry = open_voc(root)[0]
    objects = entry.object_map()
    first = entry.annotation.objects[0].name
    item = ImageItem("JPEGImages/000000.jpg", None, entry.image_path)  # found by its file stem
    inside = objects == 1
    half = inside.copy()
    half[: half.shape[0] // 2] |= True  # the object and the top half of the image
    P = scorer.score_regions([Region(item, inside), Region(item, half)], [first, "sky"])
    assert P[0].tolist() == [1.0, 0.0]
    # the fraction counts every pixel of the region, background ones included, in the denominator
    same_class = np.isin(objects, [i + 1 for i, o in enumerate(entry.annotation.objects) if o.name == first])
    np.testing.assert_allclose(P[1, 0].item(), same_class[half].mean(), rtol=1e-6)
    whole = scorer.scores([item], [first])
    np.testing.assert_allclose(whole.item(), same_class.mean(), rtol=1e-6)
    with pytest.raises(ParameterError, match="no mask for image"):
        scorer.scores([ImageItem("other.jpg", None, None)], [first])
    with pytest.raises(ParameterError, match="none of the 1 concepts"):
        scorer.scores([item], ["sky"])


def test_a_voc_folder_without_masks_cannot_label_regions(tmp_path):
    root = write_scenes(tmp_path / "scenes", n=1, seed=0, config=SHAPES, progress=False).root
    for mask in (root / "SegmentationObject").iterdir():
        mask.unlink()
    with pytest.raises(ParameterError, match="no SegmentationObject masks"):
        make_scorer(f"annotations:{root}")


def test_concept_words_match_annotated_classes_by_spelling():
    assert match_classes(["T-shirt/top", "Trouser", "Ankle boot", "bag"], ["ankle-boot", "bag", "tshirt", "trouser"]) \
        == [[2], [3], [0], [1]]
    assert match_classes(["sky"], ["bag"]) == [[]]


def test_image_level_annotations_give_each_region_its_image_row(tmp_path):
    item_a, item_b = ImageItem("a.png", None, None), ImageItem("b.png", None, None)
    keyed = AnnotationScorer([[1.0, 0.0], [0.0, 1.0]], ["cat", "dog"], keys=["a.png", "b.png"])
    assert not keyed.regional
    regions = [Region(item_b, np.ones((2, 2), bool)), Region(item_a, np.ones((2, 2), bool))]
    assert keyed.score_regions(regions, ["cat", "dog"]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    unkeyed = AnnotationScorer(np.eye(2), ["cat", "dog"])
    with pytest.raises(ParameterError, match="no image column"):
        unkeyed.score_regions(regions, ["cat", "dog"])


def _classifier() -> MeanColourClassifier:
    return MeanColourClassifier([[4.0, -4.0], [0.0, 0.0], [-4.0, 4.0]])


def _embed(texts) -> torch.Tensor:
    vocab = {"cat": [1.0, 0.0], "car": [0.0, 1.0], "kitten": [0.9, 0.1], "wheel": [0.1, 0.9]}
    return torch.nn.functional.normalize(torch.tensor([vocab[t] for t in texts]), dim=-1)


def test_labelspace_scores_regions_on_crops_filled_with_the_classifier_mean(tmp_path):
    from encoderscope.dissect.regions import mean_fill
    from encoderscope.dissect.scorers import LabelspaceScorer

    scorer = LabelspaceScorer(_classifier(), embed=_embed, workers=0)
    assert scorer.fill == mean_fill(scorer.encoder.preprocess.mean) != GREY
    item = _two_colour_image(tmp_path)
    left, right = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    left[:, :3], right[:, 5:] = True, True
    P = scorer.score_regions([Region(item, left), Region(item, right)], ["kitten", "wheel"])
    crops = [masked_crop(item.load(), mask, fill=scorer.fill) for mask in (left, right)]
    expected = scorer.scores(open_images(crops).items, ["kitten", "wheel"])
    torch.testing.assert_close(P, expected)
    assert P[0, 0] > P[0, 1] and P[1, 1] > P[1, 0]  # the red region reads as a kitten, the blue one as a wheel
