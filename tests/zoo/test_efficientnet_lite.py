"""EfficientNet-Lite: architecture (random init), padding at any size, and the real ImageNet weights."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from encoderscope.zoo import efficientnet_lite
from encoderscope.zoo.efficientnet_lite import VARIANTS, block_names, build_efficientnet_lite, imagenet_class_names

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None,
    reason="needs efficientnet-lite-pytorch (run `make setup`)",
)


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return build_efficientnet_lite(0, seed=0).eval()


def test_blocks_are_the_mbconv_blocks(lite0: torch.nn.Module) -> None:
    names = dict(lite0.named_modules())
    blocks = block_names(lite0)
    assert blocks == [f"_blocks.{i}" for i in range(16)]
    assert all(type(names[b]).__name__ == "MBConvBlock" for b in blocks)
    assert efficientnet_lite.FEATURE_LAYER in names


def test_native_sizes_match_the_package() -> None:
    from efficientnet_lite_pytorch import EfficientNet

    for index, variant in VARIANTS.items():
        assert variant.arch == f"efficientnet-lite{index}"
        assert EfficientNet.get_image_size(variant.arch) == variant.size


def test_dynamic_padding_equals_the_package_static_padding_at_native_size(lite0: torch.nn.Module) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    static = EfficientNet.from_name("efficientnet-lite0").eval()
    static.load_state_dict(lite0.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(lite0(x), static(x), rtol=0, atol=1e-5)
        # any other input size works too (dense concept maps): TF "same" padding keeps ceil(H / 32)
        features = lite0.extract_features(torch.zeros(1, 3, 97, 130))
    assert features.shape == (1, 1280, 4, 5)


def test_random_init_is_deterministic(lite0: torch.nn.Module) -> None:
    again = build_efficientnet_lite(0, seed=0)
    other = build_efficientnet_lite(0, seed=5)
    torch.testing.assert_close(lite0.state_dict(), again.state_dict(), rtol=0, atol=0)
    assert not torch.equal(lite0._conv_stem.weight, other._conv_stem.weight)


def test_imagenet_class_names_offline() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 and names[281] == "tabby" and names[285] == "Egyptian cat"
