"""The explorer's picture table: every image once, as a small JPEG (base64) that the page decodes when it is shown.

Images are identified by their file path when they have one (else by their key), so a NAVE run and a dissection of
the same probe images share their thumbnails. A thumbnail keeps the image's aspect ratio, with its longer side at
most ``side`` pixels (never upscaled); an image that cannot be read (moved, or given in memory and not saved) gets
no picture and the page draws its maps over grey.

Example:
    >>> from PIL import Image
    >>> from encoderscope.data.images import ImageItem
    >>> table = ThumbTable(side=32)
    >>> table.add(ImageItem("red", None, None, Image.new("RGB", (64, 48), "red")), (48, 64))
    0
    >>> row = table.rows()[0]
    >>> row["key"], row["w"], row["h"], row["src"][:4]
    ('red', 32, 24, '/9j/')
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

THUMB_SIDE = 128
"""Longer side of an explorer thumbnail in pixels."""
THUMB_QUALITY = 80
"""JPEG quality of the thumbnails (4:2:0 chroma: the smallest files)."""


def thumb_size(original_hw: tuple[int, int], side: int) -> tuple[int, int]:
    """``(width, height)`` of the thumbnail of an image of ``original_hw`` (longer side ``side`` at most).

    Example:
        >>> thumb_size((480, 640), 128), thumb_size((20, 10), 128)
        ((128, 96), (10, 20))
    """
    height, width = int(original_hw[0]), int(original_hw[1])
    scale = min(1.0, side / max(1, height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def jpeg_base64(image: Image.Image, size: tuple[int, int], quality: int = THUMB_QUALITY) -> str:
    """``image`` resized to ``size`` (width, height) as base64 JPEG text."""
    rgb = image.convert("RGB")
    if rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=quality, subsampling=2)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class ThumbTable:
    """Images of every view, each once: :meth:`add` returns the image's row; :meth:`rows` is the JSON table."""

    def __init__(self, side: int = THUMB_SIDE) -> None:
        self.side = int(side)
        self._index: dict[str, int] = {}
        self._rows: list[dict[str, Any]] = []
        self.missing = 0

    def add(self, item: Any, original_hw: tuple[int, int] | None = None, key: str | None = None) -> int:
        """The row of ``item`` (an :class:`~encoderscope.data.images.ImageItem` or None), added on first sight.

        ``original_hw`` is the image's size as a result recorded it (for the placeholder of an unreadable image).
        """
        name = key if key is not None else str(getattr(item, "key", "image"))
        path = getattr(item, "path", None)
        ident = f"path:{path}" if path is not None else f"key:{name}"
        if ident in self._index:
            return self._index[ident]
        src = None
        image = self._load(item)
        if image is not None:
            original_hw = (image.height, image.width)
        size = thumb_size(original_hw or (self.side, self.side), self.side)
        if image is not None:
            src = jpeg_base64(image, size)
        else:
            self.missing += 1
        self._index[ident] = len(self._rows)
        self._rows.append({"key": name, "w": size[0], "h": size[1], "src": src})
        return len(self._rows) - 1

    @staticmethod
    def _load(item: Any) -> Image.Image | None:
        if item is None:
            return None
        try:
            return item.load()
        except Exception:  # moved or unreadable now: the page shows the maps over grey
            return None

    def rows(self) -> list[dict[str, Any]]:
        """``{"key", "w", "h", "src"}`` per image (``src``: base64 JPEG, or None)."""
        return list(self._rows)
