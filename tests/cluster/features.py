"""Image-like position features for the clustering tests (no model needed)."""

from __future__ import annotations

import numpy as np


def image_like(n_images: int, h: int = 12, w: int = 12, dim: int = 48, seed: int = 0) -> np.ndarray:
    """``(n_images, h * w, dim)`` float32 L2-normalised features like a ViT's patch tokens.

    Each image mixes four prototype vectors with smooth, overlapping spatial weights (regions with soft borders)
    plus noise, so clusters touch and some positions are nearly tied, as in real encoder features.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.empty((n_images, h * w, dim), dtype=np.float32)
    for i in range(n_images):
        prototypes = rng.normal(size=(4, dim))
        centres = rng.uniform(0, 1, size=(4, 2))
        logits = -((yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2) / 0.05
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        x = weights.reshape(-1, 4) @ prototypes + rng.normal(0, 0.4, size=(h * w, dim))
        out[i] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out
