"""Small output helpers for linking results: image grids and PNG writing (atomic).

Example:
    >>> import numpy as np
    >>> grid = image_grid(np.zeros((2, 3, 4, 4, 3), np.uint8), pad=1)
    >>> grid.shape
    (9, 14, 3)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from encoderscope._io import write_bytes


def image_grid(images: np.ndarray, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile ``(rows, cols, H, W, 3)`` uint8 images into one picture with ``pad`` pixels between them."""
    rows, cols, h, w, c = images.shape
    out = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, c), fill, dtype=np.uint8)
    for i in range(rows):
        for j in range(cols):
            out[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w] = images[i, j]
    return out


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` or ``(H, W)`` uint8 array as PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())
