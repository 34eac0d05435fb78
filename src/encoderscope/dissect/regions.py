"""Image regions for concept scorers, and the masked crop through which an image-level scorer sees one.

A :class:`Region` is an image item (``key``, ``load()``) and a boolean mask at the image's resolution, given as an
array or as a picklable callable that computes it (so a decoding worker builds the mask, not the main process).
:func:`masked_crop` turns an image and a mask into the picture a classifier or CLIP scores:

1. the mask is brought to the image's size if it differs (nearest neighbour, ``floor(i * src / dst)``);
2. pixels outside the mask take the fill colour (the scorer's preprocessing mean, so that they normalise to zero;
   :data:`GREY` when the scorer has none);
3. the picture is cut to the mask's bounding box grown on each side by ``ceil(margin * box height)`` rows and
   ``ceil(margin * box width)`` columns, clipped to the image (:func:`crop_box`);
4. the cut is padded with the fill colour to a square, centred (extra pixel bottom/right), so that the centre crop of
   a classifier or of CLIP keeps the whole region.

Example (the hand-computed case of docs/names.md: a 4 x 6 box at rows 2-5, columns 3-8 of a 10 x 10 image, margin
0.25 adds 1 row and 2 columns each side, clipped at the right edge):
    >>> mask = np.zeros((10, 10), bool); mask[2:6, 3:9] = True
    >>> crop_box(mask, margin=0.25)
    (1, 1, 7, 10)
    >>> crop = masked_crop(Image.new("RGB", (10, 10), (255, 0, 0)), mask, fill=(0, 0, 255), margin=0.25)
    >>> crop.size, crop.getpixel((4, 3)), crop.getpixel((0, 0))
    ((9, 9), (255, 0, 0), (0, 0, 255))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from encoderscope.errors import ParameterError

GREY = (128, 128, 128)
"""Fill colour for a scorer without a preprocessing mean."""
CROP_MARGIN = 0.1
"""Default margin of a region crop, as a fraction of the region's bounding box height and width (each side)."""

MaskSource = np.ndarray | Callable[[], np.ndarray]


@dataclass(frozen=True)
class Region:
    """A region of one image: the image ``item`` (``key``, ``load()``) and its boolean ``mask`` at the image's
    resolution (an array, or a picklable callable returning one)."""

    item: Any
    mask: MaskSource

    @property
    def key(self) -> str:
        """The image's key."""
        return str(self.item.key)

    def mask_array(self) -> np.ndarray:
        """The ``(H, W)`` boolean mask."""
        mask = self.mask() if callable(self.mask) else self.mask
        return np.asarray(mask, dtype=bool)


def resize_mask(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """``mask`` at size ``hw`` by nearest neighbour (``floor(i * src / dst)``); unchanged when the size matches."""
    if mask.shape == tuple(hw):
        return mask
    rows = (np.arange(hw[0]) * mask.shape[0]) // hw[0]
    cols = (np.arange(hw[1]) * mask.shape[1]) // hw[1]
    return mask[rows[:, None], cols[None, :]]


def crop_box(mask: np.ndarray, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` (end exclusive) of the mask's bounding box grown by the margin, in the image."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ParameterError("cannot crop an empty region")
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    grow_rows, grow_cols = math.ceil(margin * (bottom - top)), math.ceil(margin * (right - left))
    height, width = mask.shape
    top, left = max(0, top - grow_rows), max(0, left - grow_cols)
    return top, left, min(height, bottom + grow_rows), min(width, right + grow_cols)


def masked_crop(
    image: Image.Image, mask: np.ndarray, fill: Sequence[int] = GREY, margin: float = CROP_MARGIN
) -> Image.Image:
    """The region's picture for an image-level scorer (see the module docstring): masked, cut, padded square."""
    pixels = np.asarray(image.convert("RGB")).copy()
    mask = resize_mask(np.asarray(mask, dtype=bool), pixels.shape[:2])
    colour = np.asarray(fill, dtype=np.uint8)
    pixels[~mask] = colour
    top, left, bottom, right = crop_box(mask, margin)
    cut = pixels[top:bottom, left:right]
    side = max(cut.shape[:2])
    square = np.empty((side, side, 3), dtype=np.uint8)
    square[:] = colour
    y, x = (side - cut.shape[0]) // 2, (side - cut.shape[1]) // 2
    square[y : y + cut.shape[0], x : x + cut.shape[1]] = cut
    return Image.fromarray(square)


@dataclass(frozen=True)
class RegionCrop:
    """An image item whose ``load()`` gives the masked crop of a region (what the input pipeline decodes)."""

    region: Region
    fill: tuple[int, int, int] = GREY
    margin: float = CROP_MARGIN

    @property
    def key(self) -> str:
        """The region's image key."""
        return self.region.key

    def load(self) -> Image.Image:
        """The masked crop (the image is read here, in the decoding worker)."""
        return masked_crop(self.region.item.load(), self.region.mask_array(), self.fill, self.margin)


def mean_fill(mean: Sequence[float] | None) -> tuple[int, int, int]:
    """A preprocessing mean (0..1 per channel) as an RGB fill colour; :data:`GREY` without one.

    Example:
        >>> mean_fill((0.485, 0.456, 0.406))
        (124, 116, 104)
    """
    if mean is None or len(mean) != 3:
        return GREY
    r, g, b = (min(255, max(0, round(255 * float(v)))) for v in mean)
    return r, g, b


__all__ = ["CROP_MARGIN", "GREY", "Region", "RegionCrop", "crop_box", "masked_crop", "mean_fill", "resize_mask"]
