"""Shared fixtures: small generated images and tiny random-init encoders (ask for them by name; never import this
file from a test)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from tests.images import make_image as _make_image


@pytest.fixture(scope="session")
def make_image() -> Callable[..., Image.Image]:
    """``make_image(height, width, seed=0)``: a deterministic RGB test image (a bright square on a gradient)."""
    return _make_image


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_images(make_image: Callable[..., Image.Image]) -> list[Image.Image]:
    return [make_image(64, 96, seed=i) for i in range(3)]


@pytest.fixture(scope="session")
def tiny_vit():
    """A 3-block ViT-S/14-style model with 4 registers, width 48, 4 heads; inputs 112 px on the shorter side."""
    from encoderscope.zoo import load_model

    return load_model(
        "timm:vit_small_patch14_reg4_dinov2", random_init=True, img_size=112, depth=3, embed_dim=48, num_heads=4
    )


@pytest.fixture(scope="session")
def tiny_resnet():
    """A random-init ResNet-18 fed 128 px images (layer2: stride 8, layer3: stride 16)."""
    from encoderscope.nave import prepare_encoder
    from encoderscope.zoo import load_model

    return prepare_encoder(load_model("timm:resnet18", random_init=True), size=128)
