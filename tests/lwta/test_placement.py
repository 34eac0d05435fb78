"""Which activations convert replaces, and the feature axis each LWTA competes over."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.models.convnext import ConvNeXt
from timm.models.metaformer import StarReLU
from timm.models.swin_transformer_v2 import SwinTransformerV2
from torch import nn

from encoderscope.errors import ParameterError
from encoderscope.lwta import LWTA, convert, lwta_layers
from encoderscope.lwta.placement import Site, activation_modules, example_input, is_activation, plan


def _convnext(conv_mlp: bool) -> nn.Module:
    torch.manual_seed(0)
    return ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 8, 16, 16), conv_mlp=conv_mlp, num_classes=3).eval()


def _record_lwta_io(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keeper(name: str):
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            seen[name] = (inputs[0], output)

        return hook

    handles = [layer.register_forward_hook(keeper(name)) for name, layer in lwta_layers(model).items()]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return seen


def test_conv_mlp_competes_over_channels_even_when_the_width_divides_u() -> None:
    net = _convnext(conv_mlp=True)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    widths = [(32,), (32,), (64,), (64,)]
    assert plan(net, x[:1]) == [Site(f"stages.{i}.blocks.0.mlp.act", "dense", 1, w) for i, w in enumerate(widths)]
    sparse = convert(net, 4, seed=0, example=x[:1])
    seen = _record_lwta_io(sparse, x)
    h, out = seen["stages.0.blocks.0.mlp.act"]
    assert h.shape == (2, 32, 8, 8)  # the grid width 8 is a multiple of U: the old dense layer competed over it
    per_channel_block = (out.reshape(2, 8, 4, 8, 8) != 0).sum(2)
    assert (per_channel_block == 1).all()
    per_width_block = (out.reshape(2, 32, 8, 2, 4) != 0).sum(-1)
    assert (per_width_block != 1).any()
    assert torch.allclose(out[out != 0], h[out != 0])


def test_channels_last_linear_mlp_competes_over_the_last_axis() -> None:
    net = _convnext(conv_mlp=False)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    sites = plan(net, x)
    widths = [(32,), (32,), (64,), (64,)]  # the last stage's 1x1 grid too: its block is 1x1, nothing is pooled
    assert sites == [Site(f"stages.{i}.blocks.0.mlp.act", "dense", -1, w) for i, w in enumerate(widths)]
    h, out = _record_lwta_io(convert(net, 4, example=x), x)["stages.0.blocks.0.mlp.act"]
    assert h.shape == (1, 8, 8, 32)
    assert ((out.reshape(1, 8, 8, 8, 4) != 0).sum(-1) == 1).all()


def test_squeeze_excitation_is_not_an_mlp_so_every_relu_of_an_se_resnet_is_replaced() -> None:
    torch.manual_seed(0)
    net = timm.create_model("seresnet18", pretrained=False, num_classes=3).eval()
    sites = {site.name: site for site in plan(net, torch.zeros(1, 3, 64, 64))}
    assert len(sites) == sum(isinstance(m, nn.ReLU) for m in net.modules())
    assert sites["layer1.0.se.act"] == Site("layer1.0.se.act", "conv", 1, (8,))
    assert sites["act1"].mode == "conv" and sites["layer1.0.act2"].widths == (64,)


def test_cnn_head_on_vectors_competes_over_the_last_axis_with_conv_defaults() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 12), nn.Hardswish(), nn.Linear(12, 2),
    ).eval()
    assert plan(net, torch.zeros(1, 3, 16, 16)) == [Site("2", "conv", 1, (8,)), Site("6", "conv", -1, (12,))]
    sparse = convert(net, 4, example=torch.zeros(1, 3, 16, 16))
    assert sparse[6].temp_test == 1.67 and sparse[6].axis == -1
    out = sparse(torch.randn(5, 3, 16, 16))
    assert out.shape == (5, 2)


def test_position_bias_mlps_inside_attention_are_left_alone() -> None:
    torch.manual_seed(0)
    net = SwinTransformerV2(img_size=32, patch_size=4, window_size=4, embed_dim=16, depths=(1, 1), num_heads=(1, 2),
                            num_classes=3).eval()
    relus = [name for name, m in net.named_modules() if isinstance(m, nn.ReLU)]
    assert relus and all("cpb_mlp" in name for name in relus)  # the continuous position bias: not image features
    sites = plan(net)
    assert [s.name for s in sites] == ["layers.0.blocks.0.mlp.act", "layers.1.blocks.0.mlp.act"]
    assert all(s.axis == -1 for s in sites)
    sparse = convert(net, 4)
    assert all(isinstance(sparse.get_submodule(name), nn.ReLU) for name in relus)


def test_a_module_called_at_several_widths_gets_all_of_them_and_checks_them() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8)
            self.conv2, self.bn2 = nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16)
            self.relu = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

    net = Shared().eval()
    assert plan(net, torch.zeros(1, 3, 4, 4)) == [Site("relu", "conv", 1, (8, 16))]
    sparse = convert(net, 4, example=torch.zeros(1, 3, 4, 4))
    assert sparse(torch.randn(2, 3, 4, 4)).shape == (2, 16, 4, 4)
    with pytest.raises(ParameterError, match="expected 8 or 16 features on axis 1"):
        sparse.relu(torch.zeros(1, 12, 4, 4))
    with pytest.raises(ParameterError, match=r"U=3 does not divide the 8/16 channels of relu$"):
        convert(net, 3, example=torch.zeros(1, 3, 4, 4))


def test_half_of_a_split_layer_output_keeps_that_layers_axis() -> None:
    class SplitGate(nn.Module):  # as EfficientViM's mixer: a Conv1d output split in two, on (N, C, L) tokens
        def __init__(self) -> None:
            super().__init__()
            self.proj, self.act = nn.Conv1d(3, 16, 1), nn.SiLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, z = self.proj(x.flatten(2)).chunk(2, dim=1)
            return h * self.act(z)

    x = torch.randn(1, 3, 4, 5, generator=torch.Generator().manual_seed(3))  # 20 tokens: a multiple of U
    assert plan(SplitGate(), x) == [Site("act", "conv", 1, (8,))]
    out = _record_lwta_io(convert(SplitGate(), 4, example=x), x)["act"][1]
    assert out.shape == (1, 8, 20) and ((out.reshape(1, 2, 4, 20) != 0).sum(2) == 1).all()


def test_a_conv_width_that_equals_the_grid_side_does_not_move_the_axis() -> None:
    class LambdaLike(nn.Module):  # as timm's lambda layers: a reshape after a conv of 8 channels, on an 8 x 8 grid
        def __init__(self) -> None:
            super().__init__()
            self.qk, self.act = nn.Conv2d(3, 8, 1), nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            keys = self.qk(x)  # (N, 8, H, W): the last layer that ran declares 8 channels
            mixed = (x.mean(1, keepdim=True) * keys.mean((1, 2), keepdim=True)).expand(-1, 12, -1, -1)
            return self.act(mixed.reshape(x.shape[0], 12, x.shape[2], x.shape[3]))

    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    assert plan(LambdaLike(), x) == [Site("act", "conv", 1, (12,))]
    other_size = torch.randn(1, 3, 6, 6, generator=torch.Generator().manual_seed(5))
    out = _record_lwta_io(convert(LambdaLike(), 4, example=x), other_size)["act"][1]
    assert out.shape == (1, 12, 6, 6) and ((out.reshape(1, 3, 4, 6, 6) != 0).sum(2) <= 1).all()


def test_gated_mlp_and_composite_activations() -> None:
    torch.manual_seed(0)
    vit = timm.models.VisionTransformer(img_size=16, patch_size=4, embed_dim=16, depth=1, num_heads=2,
                                        mlp_layer=timm.layers.GluMlp, mlp_ratio=4).eval()
    assert plan(vit) == [Site("blocks.0.mlp.act", "dense", -1, (32,))]  # fc1 gives 64, the gate half is 32
    star = StarReLU()
    assert is_activation(star) and not is_activation(nn.Sigmoid()) and not is_activation(nn.Sequential(nn.ReLU()))
    net = nn.Sequential(nn.Conv2d(3, 4, 1), star)
    assert list(activation_modules(net)) == ["1"]  # the StarReLU, not its inner ReLU


def test_one_line_errors_for_what_cannot_be_converted() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.relu(self.conv(x))

    class TwoLayouts(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc, self.act = nn.Conv2d(3, 4, 1), nn.Linear(4, 4), nn.GELU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.act(self.conv(x)).mean((2, 3))) + self.act(x.mean((2, 3)) @ torch.ones(3, 4))

    class Unused(Functional):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.ReLU()  # defined, never called

    fixed = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU())
    with pytest.raises(ParameterError, match="found neither") as functional:
        convert(Functional(), 2)
    with pytest.raises(ParameterError, match="none of the 1 activation modules of Unused is called"):
        convert(Unused(), 2, example=torch.zeros(1, 3, 2, 2))
    with pytest.raises(ParameterError, match=r"probe pass through Sequential failed .* pass example=") as probe:
        convert(fixed, 2)
    with pytest.raises(ParameterError, match=r"act .*different axes") as layouts:
        convert(TwoLayouts(), 2, example=torch.zeros(1, 3, 4, 4))
    for caught in (functional, probe, layouts):
        assert "\n" not in str(caught.value)
    assert len(lwta_layers(convert(fixed, 2, example=torch.zeros(1, 3, 2, 2)))) == 1


def test_probe_leaves_the_model_as_it_was() -> None:
    net = _convnext(conv_mlp=True).train()
    net.stem[0].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    plan(net, torch.zeros(1, 3, 32, 32))
    assert net.training and all(m.training for m in net.modules())
    assert not net.stem[0].weight.requires_grad and net.stages[0].blocks[0].mlp.fc1.weight.requires_grad
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # no BatchNorm statistics moved
    sparse = convert(net, 4, example=torch.zeros(1, 3, 32, 32))
    assert all(layer.training for layer in lwta_layers(sparse).values())
    assert type(net.stages[0].blocks[0].mlp.act).__name__ == "GELU"


def test_example_input_follows_the_model() -> None:
    vit = timm.models.VisionTransformer(img_size=(16, 24), patch_size=4, embed_dim=16, depth=1, num_heads=2)
    assert example_input(vit).shape == (1, 3, 16, 24)
    grey = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    assert example_input(grey).shape == (1, 1, 224, 224)
    assert torch.equal(example_input(grey), example_input(grey))
    assert isinstance(convert(grey, 2).get_submodule("1"), LWTA)
