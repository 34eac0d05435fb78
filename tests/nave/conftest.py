"""Tiny random-init encoders shared by the NAVE tests."""

from __future__ import annotations

import pytest

from encoderscope.nave import prepare_encoder
from encoderscope.zoo import load_model


@pytest.fixture(scope="package")
def tiny_vit():
    """A 3-block ViT-S/14-style model with 4 registers, width 48, 4 heads; inputs 112 px on the shorter side."""
    return load_model(
        "timm:vit_small_patch14_reg4_dinov2", random_init=True, img_size=112, depth=3, embed_dim=48, num_heads=4
    )


@pytest.fixture(scope="package")
def tiny_resnet():
    """A random-init ResNet-18 fed 128 px images (layer2: stride 8, layer3: stride 16)."""
    return prepare_encoder(load_model("timm:resnet18", random_init=True), size=128)
