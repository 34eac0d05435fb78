import pytest
import torch
from torch import nn

from encoderscope.capture.layout import TokenLayout
from encoderscope.errors import UnsupportedModelError
from encoderscope.zoo import load_model
from encoderscope.zoo.input_policy import probe_model
from encoderscope.zoo.preprocess import Preprocess


def _convnet(strides: tuple[int, ...]) -> nn.Sequential:
    return nn.Sequential(*[nn.Conv2d(3 if i == 0 else 4, 4, 3, stride=s, padding=1) for i, s in enumerate(strides)])


class _FixedSize(nn.Module):
    """Takes only 32x32 inputs, as a model with fixed position embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.body = _convnet((2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2:] == (32, 32), "wrong input size"
        return self.body(x)


class _WindowStage(nn.Module):
    """Partitions its grid into windows of 4 cells without padding it (fails on other grids)."""

    window_size = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.window_size or x.shape[-2] % self.window_size:
            raise RuntimeError("grid not divisible by window")
        return x


class _Windowed(nn.Module):
    """A stage at stride 4 that partitions its 8x8 grid into windows of 4 cells (needs inputs in multiples of 16)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 4, stride=4)
        self.stage = _WindowStage()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage(self.stem(x))


class _TwoBranches(nn.Module):
    """Adds a floor-rounding and a ceil-rounding stride-2 branch: runs only on even sizes at each of 3 stages."""

    def __init__(self) -> None:
        super().__init__()
        self.floor = nn.ModuleList([nn.Conv2d(3, 3, 2, stride=2) for _ in range(3)])
        self.ceil = nn.ModuleList([nn.Conv2d(3, 3, 3, stride=2, padding=1) for _ in range(3)])
        self.out = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for floor, ceil in zip(self.floor, self.ceil, strict=True):
            x = floor(x) + ceil(x)
        return self.out(x)


def test_any_size_model_needs_no_padding():
    probed = probe_model(_convnet((2, 2, 2)), TokenLayout(), ["0", "1", "2"], native=64)
    assert (probed.policy.fixed_hw, probed.policy.pad_multiple) == (None, 1)
    assert probed.depth_layers == ["0", "1", "2"]


def test_stride_sensitive_model_pads_to_its_total_stride():
    probed = probe_model(_TwoBranches(), TokenLayout(), ["out"], native=64)
    assert (probed.policy.fixed_hw, probed.policy.pad_multiple) == (None, 8)


def test_fixed_size_model_gets_its_native_square():
    probed = probe_model(_FixedSize(), TokenLayout(), ["body.0", "body.1"], native=32)
    assert probed.policy.fixed_hw == (32, 32)
    assert "fixed input 32x32" in probed.policy.note
    pre = Preprocess(size=224, fixed_size=True, fixed_hw=probed.policy.fixed_hw)
    assert pre.padded_size((60, 90)) == (32, 32)


def test_window_times_stride_sets_the_multiple():
    probed = probe_model(_Windowed(), TokenLayout(), ["stem", "stage"], native=32)
    assert probed.policy.pad_multiple == 16  # window 4 cells x stride 4


def test_no_spatial_output_and_native_crash_are_one_line_errors():
    flat = nn.Sequential(nn.Flatten(), nn.LazyLinear(3))
    with pytest.raises(UnsupportedModelError, match="no block with a spatial output") as info:
        probe_model(flat, TokenLayout(), ["0", "1"], native=8, label="flat")
    assert "\n" not in str(info.value)
    with pytest.raises(UnsupportedModelError, match=r"does not run at its native size 16x16: AssertionError"):
        probe_model(_FixedSize(), TokenLayout(), ["body.0"], native=16, label="fixed")


def test_timm_fixed_size_family_is_fed_natively_and_maps_return_at_image_size(make_image):
    from encoderscope import nave

    enc = load_model("timm:mixer_s16_224", random_init=True)
    assert enc.preprocess.fixed_hw == (224, 224) and enc.preprocess.fixed_size
    image = make_image(40, 70)
    result = nave(enc, [image], k=2, progress=False, n_init=1)
    assert result.label_map(0).shape == (40, 70)
    assert any("fixed input 224x224" in note for note in result.notes)
    assert result.config["preprocess"]["input_policy"] == enc.preprocess.input_policy


def test_stride_sensitive_timm_models_pad_to_their_total_stride():
    enc = load_model("timm:dla46x_c", random_init=True)
    assert (enc.preprocess.fixed_size, enc.preprocess.pad_multiple) == (False, 32)


def test_models_that_pad_their_own_windows_are_padded_to_their_patch_only():
    swin = load_model("timm:swin_tiny_patch4_window7_224", random_init=True)  # pads windows and merges itself
    assert (swin.preprocess.fixed_size, swin.preprocess.pad_multiple) == (False, 4)
