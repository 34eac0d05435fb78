"""The classifier wrapper: preprocessing, features of a named layer, head discovery and verification."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from encoderscope.errors import LayerError, ParameterError
from encoderscope.linking.classifier import LinkClassifier, as_classifier


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
