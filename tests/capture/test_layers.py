import pytest

from encoderscope.capture.layers import list_layers, resolve_layers
from encoderscope.errors import LayerError
from encoderscope.zoo import load_model


@pytest.fixture(scope="module")
def reg_vit():
    return load_model("timm:vit_small_patch14_reg4_dinov2", random_init=True, img_size=224)


def test_registers_listed_as_prefix(reg_vit):
    infos = {info.name: info for info in list_layers(reg_vit, input_size=224, pattern="blocks.*")}
    assert list(infos) == [f"blocks.{i}" for i in range(12)]
    assert infos["blocks.11"].grid == (16, 16)
    assert infos["blocks.11"].prefix == "cls+4reg"
    assert reg_vit.layout.n_registers == 4


@pytest.mark.parametrize(
    ("spec", "prefix", "grid"),
    [
        ("timm:deit_tiny_distilled_patch16_224", "cls+dist", (14, 14)),
        ("timm:vit_tiny_patch16_224", "cls", (14, 14)),
    ],
)
def test_prefix_tokens_per_model(spec, prefix, grid):
    enc = load_model(spec, random_init=True)
    info = next(i for i in list_layers(enc, pattern="blocks.11"))
    assert (info.prefix, info.grid) == (prefix, grid)


def test_non_square_vit_grid():
    enc = load_model("timm:vit_tiny_patch16_224", random_init=True)
    info = next(i for i in list_layers(enc, input_size=(160, 224), pattern="blocks.0"))
    assert info.grid == (10, 14)


@pytest.mark.parametrize(
    ("spec", "last", "channels", "kind"),
    [
        ("timm:swin_tiny_patch4_window7_224", "layers.3", 768, "grid-nhwc"),
        ("timm:convnext_atto", "stages.3", 320, "grid"),
        ("timm:resnet18", "layer4", 512, "grid"),
        ("tv:resnet18", "layer4", 512, "grid"),
        ("timm:efficientnet_b0", "blocks.6", 320, "grid"),
    ],
)
def test_cnn_and_swin_grids(spec, last, channels, kind):
    enc = load_model(spec, random_init=True)
    assert enc.depth_layers[-1] == last
    info = next(i for i in list_layers(enc, input_size=224, pattern=last))
    assert (info.channels, info.grid, info.kind) == (channels, (7, 7), kind)


def test_resolve_globs_indices_and_errors():
    enc = load_model("timm:vit_tiny_patch16_224", random_init=True)
    assert resolve_layers(enc, "blocks.*") == [f"blocks.{i}" for i in range(12)]
    assert resolve_layers(enc, [-1, "blocks.0"]) == ["blocks.11", "blocks.0"]
    assert resolve_layers(enc, "blocks.2,blocks.5") == ["blocks.2", "blocks.5"]
    assert resolve_layers(enc, "blocks.*.mlp.fc1")[:2] == ["blocks.0.mlp.fc1", "blocks.1.mlp.fc1"]
    assert resolve_layers(enc, None) == ["blocks.11"]
    with pytest.raises(LayerError, match=r"closest valid names: blocks\.11"):
        resolve_layers(enc, "blocks.111")
    with pytest.raises(LayerError, match="out of range"):
        resolve_layers(enc, 40)


@pytest.mark.parametrize(
    ("spec", "last"),
    [("tv:regnet_x_400mf", "trunk_output.block4"), ("timm:twins_svt_small", "blocks.3.3")],
)
def test_depth_layers_are_blocks_with_a_spatial_output(spec, last):
    enc = load_model(spec, random_init=True)
    assert enc.depth_layers[-1] == last
    info = next(i for i in list_layers(enc, pattern=last))
    assert info.grid is not None
