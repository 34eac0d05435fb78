"""Converting timm ViTs and timm/torchvision ResNets to LWTA networks."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from timm.models.resnet import BasicBlock, ResNet

from encoderscope.errors import ParameterError
from encoderscope.lwta import LWTA, SparsityMeter, convert, lwta_layers, set_deterministic


def _vit() -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.models.VisionTransformer(
        img_size=16, patch_size=4, embed_dim=16, depth=2, num_heads=2, num_classes=3
    ).eval()


def test_vit_mlp_activations_replaced_and_weights_kept() -> None:
    vit = _vit()
    sparse = convert(vit, 4, seed=0)
    names = sorted(lwta_layers(sparse))
    assert names == ["blocks.0.mlp.act", "blocks.1.mlp.act"]
    assert all(layer.mode == "dense" and layer.temp_test == 0.01 for layer in lwta_layers(sparse).values())
    for (k, v), (k2, v2) in zip(vit.state_dict().items(), sparse.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    assert isinstance(vit.blocks[0].mlp.act, torch.nn.GELU)  # the input is untouched
    x = torch.randn(2, 3, 16, 16)
    with SparsityMeter(sparse) as meter:
        sparse(x)
    assert all(f == pytest.approx(0.25) for f in meter.active_fraction().values())


def test_vit_u1_equals_the_gelu_model() -> None:
    vit = _vit()
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(convert(vit, 1)(x), vit(x), atol=1e-6)


def test_torchvision_resnet_every_relu_replaced_including_post_residual() -> None:
    net = torchvision.models.resnet18(num_classes=5).eval()
    sparse = convert(net, 2, seed=1)
    assert not any(isinstance(m, torch.nn.ReLU) for m in sparse.modules())
    assert "layer1.0.relu" in lwta_layers(sparse) and "relu" in lwta_layers(sparse)
    calls = []
    hook = sparse.layer1[0].relu.register_forward_hook(lambda *a: calls.append(1))
    x = torch.randn(1, 3, 32, 32)
    with SparsityMeter(sparse) as meter:
        sparse(x)
    hook.remove()
    assert len(calls) == 2  # after bn1 and after the residual addition
    assert all(f == pytest.approx(0.5, abs=1e-3) for f in meter.active_fraction().values())
    assert torch.allclose(convert(net, 1)(x), net(x), atol=1e-5)


def test_timm_resnet_and_repeatable_seeded_passes() -> None:
    net = ResNet(BasicBlock, [1, 1, 1, 1], channels=(8, 8, 16, 16), stem_width=8, num_classes=3).eval()
    sparse = convert(net, 4, seed=3)
    assert all(isinstance(m, LWTA) and m.mode == "conv" for m in lwta_layers(sparse).values())
    assert len(lwta_layers(sparse)) == 9  # stem + 2 per block
    x = torch.randn(2, 3, 32, 32)
    again = convert(net, 4, seed=3)
    assert torch.equal(sparse(x), again(x))
    set_deterministic(sparse, True)
    assert torch.equal(sparse(x), sparse(x))


def test_u_that_does_not_divide_raises() -> None:
    with pytest.raises(ParameterError, match="does not divide"):
        convert(_vit(), 5)
    with pytest.raises(ParameterError, match="does not divide"):
        convert(torchvision.models.resnet18(), 3)
    with pytest.raises(ParameterError, match="neither"):
        convert(torch.nn.Linear(2, 2), 2)
