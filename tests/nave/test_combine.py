import numpy as np
import pytest
import torch

from encoderscope.errors import ActivationError, ParameterError
from encoderscope.nave import combine_depths
from encoderscope.nave.combine import layer_weights

# Bicubic (a = -0.75, align_corners=False) upsampling of 2 rows to 4 rows, by hand: output row r samples source
# position (r + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25; with the cubic-convolution weights W(0.25) = 0.87890625,
# W(0.75) = 0.26171875, W(1.25) = -0.10546875, W(1.75) = -0.03515625 and border clamping, the rows are
#   row 0 = 1.10546875 v0 - 0.10546875 v1,   row 1 = 0.7734375 v0 + 0.2265625 v1,
#   row 2 = 0.2265625 v0 + 0.7734375 v1,     row 3 = -0.10546875 v0 + 1.10546875 v1.
UPSAMPLE_2_TO_4 = np.array(
    [[1.10546875, -0.10546875], [0.7734375, 0.2265625], [0.2265625, 0.7734375], [-0.10546875, 1.10546875]]
)


def test_hand_computed_two_layers_of_different_widths_and_resolutions():
    shallow = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [6.0, 8.0]])  # (h=4, C=2), w = 1
    deep = np.array([[1.0, 2.0, 2.0], [4.0, 0.0, 3.0]])  # (h=2, C=3), w = 1
    maps = [
        torch.tensor(shallow.T[None, :, :, None], dtype=torch.float32),  # (1, 2, 4, 1)
        torch.tensor(deep.T[None, :, :, None], dtype=torch.float32),  # (1, 3, 2, 1)
    ]
    out = combine_depths(maps).numpy()
    assert out.shape == (1, 4, 1, 5)

    up = UPSAMPLE_2_TO_4 @ deep  # (4, 3) deep layer on the shallow grid
    expected_shallow = shallow / np.linalg.norm(shallow, axis=1, keepdims=True)
    expected_deep = up / np.linalg.norm(up, axis=1, keepdims=True) * (1 + 2) / (1 + 3)
    expected = np.concatenate([expected_shallow, expected_deep], axis=1)
    np.testing.assert_allclose(out[0, :, 0, :], expected, rtol=1e-5, atol=1e-6)


def test_layer_weights_match_the_reference_resnet_numbers():
    assert np.allclose(layer_weights([512, 1024, 2048]), [1.0, 0.5005, 0.2504], atol=1e-4)
    assert layer_weights([384, 384]) == [1.0, 1.0]


def test_bilinear_input_departure_goes_to_the_input_resolution():
    maps = [torch.rand(2, 4, 3, 5), torch.rand(2, 6, 2, 3)]
    out = combine_depths(maps, resample="bilinear-input", input_hw=(12, 20))
    assert out.shape == (2, 12, 20, 10)
    norms = out[..., :4].norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    with pytest.raises(ParameterError, match="input_hw"):
        combine_depths(maps, resample="bilinear-input")


def test_bad_inputs():
    with pytest.raises(ParameterError, match="at least one"):
        combine_depths([])
    with pytest.raises(ParameterError, match="unknown resample"):
        combine_depths([torch.rand(1, 2, 2, 2)], resample="nearest")
    with pytest.raises(ActivationError, match="batch sizes"):
        combine_depths([torch.rand(1, 2, 2, 2), torch.rand(2, 2, 2, 2)])
    with pytest.raises(ActivationError, match=r"\(B, C, h, w\)"):
        combine_depths([torch.rand(2, 2, 2)])
