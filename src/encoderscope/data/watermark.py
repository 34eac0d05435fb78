"""A fixed small watermark (a logo or a text stamp) placed in an image corner: the Clever Hans cue.

The stamp always looks the same; only its corner (``corner="random"``) and a small offset (``jitter``) depend on
the seed. :func:`stamp` returns the stamped image together with the exact pixel mask and box of the stamp, so
studies can measure how much of a concept map the watermark takes.

Example:
    >>> from PIL import Image
    >>> out = stamp(Image.new("RGB", (100, 80), (40, 90, 160)), Watermark(size=0.25), seed=0)
    >>> out.image.size, out.box, int(out.mask.sum()) > 0
    ((100, 80), (78, 58, 97, 77), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from encoderscope.errors import ParameterError

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
_SUPERSAMPLE = 8


@dataclass(frozen=True)
class Watermark:
    """What the stamp looks like and where it goes.

    ``kind`` ``"logo"`` (a yellow disc with a black ring and bar) or ``"text"`` (``text`` in ``color`` with a black
    outline). ``size``: the stamp's height as a fraction of the shorter image side. ``corner``: one of
    :data:`CORNERS` or ``"random"`` (seeded). ``margin`` and ``jitter`` (a random inward offset, seeded) are
    fractions of the shorter side. ``opacity`` 1 replaces the pixels under the stamp.
    """

    kind: str = "logo"
    text: str = "ES"
    size: float = 0.2
    corner: str = "bottom-right"
    margin: float = 0.03
    jitter: float = 0.0
    opacity: float = 1.0
    color: tuple[int, int, int] = (255, 214, 0)

    def check(self) -> None:
        """Raise ``ParameterError`` for impossible settings."""
        if self.kind not in ("logo", "text"):
            raise ParameterError(f"watermark kind must be 'logo' or 'text', got {self.kind!r}")
        if self.corner not in (*CORNERS, "random"):
            raise ParameterError(f"watermark corner must be one of {', '.join(CORNERS)} or random, got {self.corner!r}")
        if not 0 < self.size <= 1:
            raise ParameterError(f"watermark size must be in (0, 1], got {self.size}")
        if not 0 <= self.opacity <= 1:
            raise ParameterError(f"watermark opacity must be in [0, 1], got {self.opacity}")
        if self.margin < 0 or self.jitter < 0:
            raise ParameterError("watermark margin and jitter must be >= 0")
        if self.kind == "text" and not self.text.strip():
            raise ParameterError("a text watermark needs non-empty text")


@dataclass(frozen=True)
class Stamped:
    """A stamped image with the stamp's boolean (H, W) ``mask`` and tight ``box`` (xmin, ymin, xmax, ymax)."""

    image: Image.Image
    mask: np.ndarray
    box: tuple[int, int, int, int]
    corner: str


@lru_cache(maxsize=32)
def _stamp_rgba(kind: str, text: str, color: tuple[int, int, int], height: int) -> Image.Image:
    """The stamp as an RGBA image of the given height, drawn supersampled and reduced with a box filter."""
    big = height * _SUPERSAMPLE
    if kind == "logo":
        canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        draw = ImageDraw.Draw(canvas)
        ring = max(1, big // 9)
        draw.ellipse((0, 0, big - 1, big - 1), fill=(0, 0, 0, 255))
        draw.ellipse((ring, ring, big - 1 - ring, big - 1 - ring), fill=(*color, 255))
        bar = big // 6
        draw.rectangle((ring, big // 2 - bar // 2, big - 1 - ring, big // 2 + bar // 2), fill=(0, 0, 0, 255))
    else:
        font = ImageFont.load_default(size=big)
        stroke = max(1, big // 10)
        left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
        canvas = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text(
            (-left, -top), text, font=font, fill=(*color, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255)
        )
        big = canvas.height
    width = max(1, round(canvas.width * height / big))
    return canvas.resize((width, height), Image.Resampling.BOX)


def stamp(image: Image.Image, watermark: Watermark | None = None, seed: int | None = 0) -> Stamped:
    """Stamp ``watermark`` onto a copy of ``image`` (L or RGB in, same mode out).

    Example:
        >>> out = stamp(Image.new("L", (28, 28)), Watermark(size=0.3, corner="top-left", margin=0.0))
        >>> out.image.mode, out.box
        ('L', (0, 0, 7, 7))
    """
    mark = watermark or Watermark()
    mark.check()
    rng = np.random.default_rng(seed)
    width, height = image.size
    short = min(width, height)
    stamp_h = max(3, round(mark.size * short))
    rgba = _stamp_rgba(mark.kind, mark.text, tuple(mark.color), stamp_h)
    if rgba.width > width or rgba.height > height:
        raise ParameterError(f"a {rgba.width}x{rgba.height} watermark does not fit a {width}x{height} image")
    corner = CORNERS[int(rng.integers(len(CORNERS)))] if mark.corner == "random" else mark.corner
    margin = round(mark.margin * short)
    reach = round(mark.jitter * short)
    dx, dy = (int(v) for v in rng.integers(0, reach + 1, size=2)) if reach else (0, 0)
    x = margin + dx if corner.endswith("left") else width - rgba.width - margin - dx
    y = margin + dy if corner.startswith("top") else height - rgba.height - margin - dy
    x = min(max(x, 0), width - rgba.width)
    y = min(max(y, 0), height - rgba.height)

    base = np.asarray(image.convert("RGB"), dtype=np.float64).copy()
    stamp_px = np.asarray(rgba, dtype=np.float64)
    alpha = stamp_px[:, :, 3:] / 255.0 * mark.opacity
    region = base[y : y + rgba.height, x : x + rgba.width]
    base[y : y + rgba.height, x : x + rgba.width] = alpha * stamp_px[:, :, :3] + (1 - alpha) * region
    out = Image.fromarray(np.clip(np.rint(base), 0, 255).astype(np.uint8))
    if image.mode == "L":
        out = out.convert("L")
    mask = np.zeros((height, width), dtype=bool)
    mask[y : y + rgba.height, x : x + rgba.width] = stamp_px[:, :, 3] >= 128
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1]))
    return Stamped(out, mask, box, corner)


def stamp_array(
    images: np.ndarray, watermark: Watermark | None = None, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stamp every image of a uint8 (N, H, W) or (N, H, W, 3) array; returns ``(stamped, masks (N, H, W))``.

    Image ``i`` is stamped with a seed drawn from ``numpy.random.SeedSequence([seed, i])``.

    Example:
        >>> stamped, masks = stamp_array(np.zeros((2, 28, 28), dtype=np.uint8), Watermark(size=0.3))
        >>> stamped.shape, bool(masks[0].any())
        ((2, 28, 28), True)
    """
    data = np.asarray(images)
    if data.dtype != np.uint8 or data.ndim not in (3, 4) or (data.ndim == 4 and data.shape[3] != 3):
        raise ParameterError(f"stamp_array needs uint8 (N, H, W) or (N, H, W, 3) images, got {data.dtype} {data.shape}")
    out = np.empty_like(data)
    masks = np.zeros(data.shape[:3], dtype=bool)
    for index in range(data.shape[0]):
        item_seed = None if seed is None else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        result = stamp(Image.fromarray(data[index]), watermark, item_seed)
        out[index] = np.asarray(result.image)
        masks[index] = result.mask
    return out, masks
