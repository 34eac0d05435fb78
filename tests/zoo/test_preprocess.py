import numpy as np
import pytest
import torch
from PIL import Image

from encoderscope.zoo.preprocess import Preprocess


def test_normalisation_is_the_float32_formula_bit_for_bit():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    pixels = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    tensor = Preprocess(mean=mean, std=std, size=None)._normalise(Image.fromarray(pixels))
    expected = (pixels.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (3, 7, 9)
    assert np.array_equal(tensor.numpy(), expected.transpose(2, 0, 1))


def test_one_hand_computed_pixel():
    image = Image.new("RGB", (1, 1), (255, 0, 51))
    tensor = Preprocess(mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.1), size=None)._normalise(image)
    assert tensor.flatten().tolist() == pytest.approx([1.0, -2.0, -3.0])


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_other_modes_are_converted_to_rgb_first(mode):
    rgb = Image.fromarray(np.random.default_rng(1).integers(0, 256, (5, 6, 3), dtype=np.uint8))
    image = rgb.convert(mode)
    pre = Preprocess(size=None)
    assert pre._normalise(image).equal(pre._normalise(image.convert("RGB")))
