"""Generated test images (a helper module; tests usually ask for the ``make_image`` fixture instead)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def make_image(height: int, width: int, seed: int = 0) -> Image.Image:
    """A deterministic RGB test image with some structure (a bright square on a gradient)."""
    generator = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx / max(width, 1), yy / max(height, 1), 0.5 * np.ones_like(xx, dtype=float)], axis=-1)
    base[height // 4 : height // 2, width // 4 : width // 2] = [1.0, 0.1, 0.1]
    noise = generator.normal(0, 0.02, size=base.shape)
    return Image.fromarray((np.clip(base + noise, 0, 1) * 255).astype(np.uint8))
