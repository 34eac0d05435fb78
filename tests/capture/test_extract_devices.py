"""Capture runs where the encoder is: pixels go there (pinned, asynchronous on CUDA), activations come back."""

from __future__ import annotations

import pytest
import torch

from encoderscope.capture import extract, iter_batches
from encoderscope.errors import DeviceError
from encoderscope.zoo import load_model
from tests.fake_cuda import fake_cuda


@pytest.fixture
def vit():
    import timm

    torch.manual_seed(0)
    net = timm.models.VisionTransformer(img_size=64, patch_size=16, embed_dim=32, depth=2, num_heads=2,
                                        dynamic_img_size=True)
    return load_model(net)


@pytest.mark.parametrize("autocast", [False, True])
def test_extract_on_a_gpu_encoder(make_image, monkeypatch, vit, autocast) -> None:
    images = [make_image(48, 64, seed=i) for i in range(3)]
    on_cpu = extract(vit, images, layers=["blocks.1"], progress=False, autocast=autocast)
    with fake_cuda(monkeypatch) as gpu:
        vit.to("cuda")
        acts = extract(vit, images, layers=["blocks.1"], batch_size=2, progress=False, autocast=autocast)
        assert vit.device == torch.device("cuda", 0)  # the encoder stays there
    batches = [m for m in gpu.moves if m.shape[1:] == (3, 224, 304)]
    assert [m.shape[0] for m in batches] == [2, 1]
    assert all(m.pinned and m.non_blocking for m in batches)
    assert {"conv2d", "linear", "layer_norm"} <= gpu.gpu_ops
    output = acts["blocks.1"]
    assert not gpu.on_gpu(output.grid) and output.grid.dtype == torch.float32
    if not autocast:  # CUDA autocast leaves the host computation of the pretend GPU in float32
        torch.testing.assert_close(output.grid, on_cpu["blocks.1"].grid)  # same numbers: the data stayed on the host


def test_iter_batches_moves_the_encoder_when_asked(make_image, monkeypatch, vit) -> None:
    with fake_cuda(monkeypatch) as gpu:
        batch = next(iter_batches(vit, [make_image(32, 32)], ["blocks.0"], progress=False, device="cuda"))
        assert vit.device == torch.device("cuda", 0) and not gpu.on_gpu(batch.outputs["blocks.0"].grid)


def test_autocast_on_an_unsupported_device_fails_before_the_forward(make_image, monkeypatch, vit) -> None:
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda kind: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(type(vit), "device", property(lambda self: torch.device("mps")))
    with pytest.raises(DeviceError, match="--autocast is not supported on mps"):
        extract(vit, [make_image(32, 32)], progress=False, autocast=True)
