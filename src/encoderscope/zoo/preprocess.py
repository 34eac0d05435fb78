"""Image preprocessing carried by every :class:`~encoderscope.zoo.Encoder`.

Two modes:

* ``dense`` (concept maps, capture): keep the aspect ratio, resize the shorter side to ``size`` (or keep the native
  resolution when ``size`` is ``None``), cap the longer side at ``max_side``, normalise, then zero-pad bottom and right
  to a multiple of ``pad_multiple`` (the model's real constraint: patch size, total stride, window times stride), as
  the NAVE reference code pads a ViT to its patch size. Models that only accept one input size (``fixed_size``) get a
  resize to ``fixed_hw`` (their native square; ``size x size`` when not given) instead, and maps are mapped back to
  each image's own size and aspect ratio. ``input_policy`` says in one line which of the two applies and why
  (see :mod:`encoderscope.zoo.input_policy`); it is recorded in run.json.
* ``classify``: the usual evaluation crop (resize the shorter side to ``size / crop_pct``, centre-crop ``size``).

Example:
    >>> from PIL import Image
    >>> pre = Preprocess(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), size=224, pad_multiple=14)
    >>> prepared = pre.dense(Image.new("RGB", (300, 200)))
    >>> tuple(prepared.tensor.shape), prepared.content_hw
    ((3, 224, 336), (224, 336))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class PreparedImage:
    """A preprocessed image and the geometry needed to map grids back onto the original picture.

    Attributes:
        tensor: normalised ``(3, H_pad, W_pad)`` float tensor.
        original_hw: size of the image as loaded.
        content_hw: size after resizing, before padding (the top-left part of the tensor).
    """

    tensor: torch.Tensor
    original_hw: tuple[int, int]
    content_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        """Size of the padded tensor."""
        return int(self.tensor.shape[-2]), int(self.tensor.shape[-1])


@dataclass(frozen=True)
class Preprocess:
    """Resize, normalise and pad images for one encoder (see the module docstring for the two modes).

    ``fixed_hw``: the input size of a fixed-size model (used when ``fixed_size``); ``input_policy``: the one-line
    description of what is done to images for this model.
    """

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    size: int | None = 224
    crop_pct: float = 0.875
    interpolation: str = "bicubic"
    pad_multiple: int = 1
    max_side: int | None = 1024
    fixed_size: bool = False
    fixed_hw: tuple[int, int] | None = None
    input_policy: str = ""

    def dense_size(self, original_hw: tuple[int, int]) -> tuple[int, int]:
        """Content size ``(H, W)`` that :meth:`dense` produces for an image of ``original_hw``."""
        height, width = original_hw
        if self.fixed_size and self.fixed_hw is not None:
            return self.fixed_hw
        if self.fixed_size and self.size is not None:
            return self.size, self.size
        scale = 1.0 if self.size is None else self.size / min(height, width)
        if self.max_side is not None and max(height, width) * scale > self.max_side:
            scale = self.max_side / max(height, width)
        new_h = max(1, round(height * scale))
        new_w = max(1, round(width * scale))
        return new_h, new_w

    def padded_size(self, original_hw: tuple[int, int]) -> tuple[int, int]:
        """Padded tensor size for an image of ``original_hw``."""
        height, width = self.dense_size(original_hw)
        multiple = max(1, self.pad_multiple)
        return math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple

    def _normalise(self, image: Image.Image) -> torch.Tensor:
        """``(pixels / 255 - mean) / std`` in float32, a contiguous ``(3, H, W)`` tensor.

        In numpy, which runs on the calling thread only: torch would start a thread team in a decoding thread, and a
        second team in the process slows the main thread's many small multi-threaded operations (clustering) by
        more than 2x here. Channels first from the start, so that stacking a batch is a plain copy. The float32
        operations are those of the formula, so are the bits.
        """
        pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB")).transpose(2, 0, 1)
        out = np.empty(pixels.shape, dtype=np.float32)
        np.divide(pixels, np.float32(255.0), out=out, dtype=np.float32)
        np.subtract(out, np.asarray(self.mean, dtype=np.float32)[:, None, None], out=out)
        np.divide(out, np.asarray(self.std, dtype=np.float32)[:, None, None], out=out)
        return torch.from_numpy(out)

    def dense(self, image: Image.Image) -> PreparedImage:
        """Aspect-preserving resize, normalisation and zero padding (see the module docstring)."""
        original_hw = (image.height, image.width)
        content_hw = self.dense_size(original_hw)
        if content_hw != original_hw:
            image = image.resize((content_hw[1], content_hw[0]), _RESAMPLE[self.interpolation])
        tensor = self._normalise(image)
        pad_h, pad_w = self.padded_size(original_hw)
        if (pad_h, pad_w) != content_hw:
            tensor = torch.nn.functional.pad(tensor, (0, pad_w - content_hw[1], 0, pad_h - content_hw[0]))
        return PreparedImage(tensor=tensor, original_hw=original_hw, content_hw=content_hw)

    def classify(self, image: Image.Image) -> torch.Tensor:
        """Evaluation transform: resize the shorter side to ``size / crop_pct`` and centre-crop ``size``."""
        crop = self.size or 224
        short = round(crop / self.crop_pct)
        scale = short / min(image.height, image.width)
        resized = image.resize(
            (max(crop, round(image.width * scale)), max(crop, round(image.height * scale))),
            _RESAMPLE[self.interpolation],
        )
        left = (resized.width - crop) // 2
        top = (resized.height - crop) // 2
        return self._normalise(resized.crop((left, top, left + crop, top + crop)))
