"""NAVE runs its encoder where it is (or where ``device=`` says) and records that device in run.json."""

from __future__ import annotations

import pytest
import torch

from encoderscope.nave import nave
from encoderscope.nave.compare import compare
from encoderscope.zoo import load_model
from tests.fake_cuda import fake_cuda


@pytest.fixture
def images(make_image):
    """Two small images."""
    return [make_image(48, 64, seed=i) for i in range(2)]


def _vit(**kwargs):
    return load_model(
        "timm:vit_small_patch14_reg4_dinov2", random_init=True, img_size=56, depth=2, embed_dim=32, num_heads=2,
        **kwargs,
    )


def test_nave_on_a_gpu_encoder(images, monkeypatch, tmp_path) -> None:
    encoder = _vit()
    with fake_cuda(monkeypatch) as gpu:
        encoder.to("cuda")
        result = nave(encoder, images, k=2, size=56, progress=False, autocast=True)
        assert encoder.device == torch.device("cuda", 0)
    assert result.config["device"] == "cuda:0 (Fake GPU)" and result.config["autocast"] is True
    assert result.label_map(0).shape == (48, 64)
    assert any(m.pinned and m.non_blocking and m.shape[1] == 3 for m in gpu.moves)
    assert "scaled_dot_product_attention" in gpu.gpu_ops


def test_nave_loads_a_spec_on_the_requested_device(images, monkeypatch) -> None:
    with fake_cuda(monkeypatch):
        result = nave("timm:resnet18", images, k=2, random_init=True, size=64, progress=False, device="cuda")
    assert result.config["device"] == "cuda:0 (Fake GPU)"


def test_attention_method_runs_on_the_blocks_device(images, monkeypatch) -> None:
    encoder = _vit(qk_norm=True)  # q_norm / k_norm have parameters, on the GPU with the block
    with fake_cuda(monkeypatch) as gpu:
        encoder.to("cuda")
        result = nave(encoder, images, layers=["blocks.1"], method="attention", size=56, progress=False)
    assert result.label_map(1).shape == (48, 64)
    assert {"softmax", "layer_norm", "argmax"} <= gpu.gpu_ops


def test_compare_passes_the_device_to_every_model(images, monkeypatch) -> None:
    with fake_cuda(monkeypatch):
        comparison = compare(["random-init:timm:resnet18", "baseline:slic"], images, k=2, size=64, progress=False,
                             device="cuda")
    assert comparison.results[0].config["device"] == "cuda:0 (Fake GPU)"
