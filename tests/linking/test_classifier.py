"""The classifier wrapper: preprocessing, features of a named layer, head discovery and verification."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from encoderscope.capture.layout import TokenLayout
from encoderscope.errors import LayerError, ParameterError
from encoderscope.linking.classifier import LinkClassifier, as_classifier
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.preprocess import Preprocess


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


def test_features_of_pooled_layer_and_logits() -> None:
    net = _net()
    clf = LinkClassifier.from_module(net, "2", size=8, mean=(0, 0, 0), std=(1, 1, 1))
    images = torch.rand(5, 3, 12, 12)
    feats, logits = clf.run(images)
    assert feats.shape == (5, 4) and logits.shape == (5, 3)
    x = torch.nn.functional.interpolate(images, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)
    np.testing.assert_allclose(logits, net(x).detach().numpy(), atol=1e-5)


def test_head_found_and_verified() -> None:
    net = _net()
    clf = LinkClassifier.from_module(net, "3", size=None, mean=(0, 0, 0), std=(1, 1, 1))
    feats, logits = clf.run(torch.rand(4, 3, 8, 8))
    head = clf.resolve_head(feats, logits)
    assert clf.head_name == "4" and head is net[4]


def test_head_mismatch_is_reported() -> None:
    net = _net()
    clf = LinkClassifier.from_module(net, "3", head=lambda f: f[:, :3] * 0, size=None)
    feats, logits = clf.run(torch.rand(4, 3, 8, 8))
    with pytest.raises(ParameterError, match="does not reproduce"):
        clf.resolve_head(feats, logits)


def test_unknown_layer_and_missing_layer_name() -> None:
    with pytest.raises(LayerError, match="unknown feature layer"):
        LinkClassifier.from_module(_net(), "nope")
    with pytest.raises(LayerError, match="feature_layer"):
        as_classifier(_net())


def _encoder(interpolation: str) -> Encoder:
    pre = Preprocess(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), size=20, crop_pct=0.875, interpolation=interpolation)
    return Encoder(module=_net(), preprocess=pre, layout=TokenLayout(), spec="test:net", architecture="net",
                   weights="random-init", fingerprint="x", classifier=None, feature_layer="3")


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear", "nearest"])
def test_generated_images_are_prepared_as_the_encoder_prepares_a_photo(interpolation) -> None:
    """The resize follows ``Preprocess.interpolation``: the tensor path matches ``Preprocess.classify`` on the same
    picture to uint8 rounding (PIL rounds between its two passes), and the other filters do not."""
    rng = np.random.default_rng(0)
    picture = (rng.random((6, 7, 3)).repeat(9, 0).repeat(9, 1) * 255).round().astype(np.uint8)  # 54 x 63, edges
    encoder = _encoder(interpolation)
    clf = as_classifier(encoder)
    assert clf.interpolation == interpolation and clf.describe()["interpolation"] == interpolation
    tensor = torch.as_tensor(picture, dtype=torch.float32).permute(2, 0, 1)[None] / 255.0
    expected = encoder.preprocess.classify(Image.fromarray(picture))
    error = (clf.prepare(tensor)[0] - expected).abs()
    assert expected.shape == error.shape == (3, 20, 20)
    assert float(error.mean()) < 0.01 and float(error.max()) < 0.1
    for other in {"bicubic", "bilinear", "nearest"} - {interpolation}:
        wrong = LinkClassifier.from_module(_net(), "3", size=20, crop_pct=0.875, mean=(0.5, 0.4, 0.3),
                                           std=(0.2, 0.25, 0.3), interpolation=other)
        assert float((wrong.prepare(tensor)[0] - expected).abs().mean()) > 0.04


def test_plain_modules_resize_bilinearly_and_bad_filters_are_one_line() -> None:
    assert LinkClassifier.from_module(_net(), "3").interpolation == "bilinear"
    with pytest.raises(ParameterError, match="unknown interpolation 'area'"):
        LinkClassifier.from_module(_net(), "3", interpolation="area")
