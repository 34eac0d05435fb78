"""Small output helpers for linking results: run.json contents, image grids and PNG/CSV writing (atomic).

Example:
    >>> import numpy as np
    >>> grid = image_grid(np.zeros((2, 3, 4, 4, 3), np.uint8), pad=1)
    >>> grid.shape
    (9, 14, 3)
"""

from __future__ import annotations

import csv
import io
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from encoderscope._io import write_bytes, write_text


def run_info(command: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The content of run.json: command, resolved configuration and versions."""
    import sklearn
    import torch

    import encoderscope

    return {
        "command": command,
        "config": dict(config),
        "versions": {"encoderscope": encoderscope.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "sklearn": sklearn.__version__, "python": platform.python_version()},
    }


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


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Write dict rows as CSV, atomically (floats with 6 significant digits)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float | np.floating) else v for k, v in row.items()})
    write_text(path, buffer.getvalue())
