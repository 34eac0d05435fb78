import torch

from encoderscope.capture.layout import TokenLayout
from encoderscope.capture.outputs import LayerOutput, interpret_output, spatial_format


def test_tokens_split_prefix_and_non_square_grid():
    layout = TokenLayout(("cls", "reg", "reg", "reg", "reg"), (14, 14))
    tokens = torch.arange(2 * (5 + 4 * 6) * 3, dtype=torch.float32).reshape(2, 5 + 4 * 6, 3)
    out = interpret_output(tokens, layout, (56, 84))
    assert out.kind == "tokens"
    assert out.grid.shape == (2, 3, 4, 6)
    assert out.prefix.shape == (2, 5, 3)
    assert out.registers.shape == (2, 4, 3)
    # patch (row 1, col 2) is token 5 + 1 * 6 + 2, never a register
    assert torch.equal(out.grid[0, :, 1, 2], tokens[0, 5 + 8])
    assert torch.equal(out.prefix[1], tokens[1, :5])


def test_channel_last_grid_is_permuted():
    layout = TokenLayout(channels_last=True)
    nhwc = torch.randn(1, 7, 5, 96)
    out = interpret_output(nhwc, layout, (224, 160))
    assert out.kind == "grid-nhwc"
    assert torch.equal(out.grid, nhwc.permute(0, 3, 1, 2))


def test_format_detection_uses_geometry_not_hints():
    assert spatial_format((1, 96, 56, 56), (224, 224), channels_last_hint=False) == "grid"
    assert spatial_format((1, 56, 56, 96), (224, 224), channels_last_hint=False) == "grid-nhwc"
    # ambiguous square shapes follow the hint
    assert spatial_format((1, 7, 7, 7), (224, 224), channels_last_hint=True) == "grid-nhwc"


def test_vectors_and_unknown_outputs():
    layout = TokenLayout()
    assert interpret_output(torch.zeros(3, 10), layout, (32, 32)).kind == "vector"
    assert interpret_output(torch.zeros(3, 10, 7), layout, (32, 32)).kind == "other"


def test_concat_and_select_round_trip():
    a = LayerOutput(grid=torch.zeros(2, 4, 3, 3), prefix=torch.zeros(2, 1, 4), prefix_kinds=("cls",), kind="tokens")
    b = LayerOutput(grid=torch.ones(1, 4, 3, 3), prefix=torch.ones(1, 1, 4), prefix_kinds=("cls",), kind="tokens")
    both = LayerOutput.concat([a, b])
    assert both.grid.shape == (3, 4, 3, 3)
    assert torch.equal(both.select([2]).grid, b.grid)


def test_token_grids_are_found_at_any_stride():
    # a hierarchical stage at stride 32 of a patch-4 model: no prefix tokens, 3 x 4 grid
    out = interpret_output(torch.zeros(2, 3 * 4, 8), TokenLayout((), (4, 4)), (96, 128))
    assert (out.kind, tuple(out.grid.shape)) == ("tokens", (2, 8, 3, 4))
    # a conv-stem hybrid whose tokens are at stride 32 while its patch embedding says 1
    out = interpret_output(torch.zeros(1, 1 + 3 * 4, 8), TokenLayout(("cls",), (1, 1)), (96, 128))
    assert out.prefix_kinds == ("cls",) and out.grid.shape[-2:] == (3, 4)


def test_one_class_token_found_when_the_layout_knows_none():
    # CoaT-style: a class token per stage, stage at stride 8
    out = interpret_output(torch.zeros(1, 1 + 8 * 12, 8), TokenLayout(), (64, 96))
    assert out.prefix_kinds == ("cls",) and out.grid.shape[-2:] == (8, 12)


def test_unpadded_convolution_grids_are_grids():
    # Inception-style "valid" convolutions shrink the map by the same cells on both axes: 96x144 -> 1x3 at stride 32
    assert spatial_format((1, 2048, 1, 3), (96, 144), channels_last_hint=False) == "grid"
    # an attention map (B, heads, N, N) of a square input is no grid
    assert spatial_format((1, 3, 197, 197), (224, 224), channels_last_hint=False) is None
