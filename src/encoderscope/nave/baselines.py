"""Superpixel baselines with the number of regions matched to K: SLIC and Felzenszwalb (scikit-image).

The NAVE paper compares its maps with SLIC and Felzenszwalb "adjusted to return a similar number of regions". Here
SLIC (compactness 10) gets ``n_segments=K``, then, when that does not give K regions, ``n_segments`` is bisected in
``[K, 8K]`` for the count closest to K; Felzenszwalb's ``scale`` is bisected on a log scale (10 steps, ``sigma=0.8``,
``min_size`` 1/200 of the working area) likewise. Both run on the
image downscaled so its longer side is at most ``max_side`` (256 px) and are mapped back with nearest neighbour;
regions are renumbered by decreasing size. The results are :class:`~encoderscope.nave.NaveResult` objects, so they
take part in :func:`~encoderscope.nave.compare.compare_results` and the report like any model.

Example:
    >>> from PIL import Image
    >>> result = baseline_maps([Image.new("RGB", (40, 30), "white")], "slic", k=4, progress=False)
    >>> result.label_map(0).shape
    (30, 40)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from encoderscope._progress import progress_bar
from encoderscope.cluster import check_k
from encoderscope.errors import ParameterError
from encoderscope.nave.result import NaveRecord, NaveResult

BASELINES = ("slic", "felzenszwalb")
MAX_SIDE = 256


def _by_size(segments: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(segments, return_inverse=True, return_counts=True)
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    return rank[inverse].reshape(segments.shape)


def _closest_count(segment: Callable[[float], np.ndarray], k: int, low: float, high: float, more_when_higher: bool,
                   steps: int) -> np.ndarray:
    """Bisect a parameter in ``[low, high]`` for the segmentation whose region count is closest to ``k``."""
    best: tuple[int, np.ndarray] | None = None
    for _ in range(steps):
        middle = (low + high) / 2
        segments = segment(middle)
        count = len(np.unique(segments))
        if best is None or abs(count - k) < best[0]:
            best = (abs(count - k), segments)
        if count == k:
            break
        if (count < k) == more_when_higher:
            low = middle
        else:
            high = middle
    assert best is not None
    return _by_size(best[1])


def slic_regions(rgb: np.ndarray, k: int, steps: int = 8) -> np.ndarray:
    """SLIC superpixels (compactness 10) whose region count is closest to ``k``, renumbered by size.

    ``n_segments`` is only a target for SLIC, so it is bisected in ``[k, 8k]`` (``n_segments=k`` first).
    """
    from skimage.segmentation import slic

    def run(n: float) -> np.ndarray:
        return slic(rgb, n_segments=max(1, round(n)), compactness=10.0, start_label=0, channel_axis=-1)

    first = run(k)
    if len(np.unique(first)) == k:
        return _by_size(first)
    return _closest_count(run, k, float(k), float(8 * k), True, steps)


def felzenszwalb_regions(rgb: np.ndarray, k: int, steps: int = 10) -> np.ndarray:
    """Felzenszwalb segments (sigma 0.8) with the scale whose segment count is closest to ``k``, by size."""
    from skimage.segmentation import felzenszwalb

    min_size = max(1, rgb.shape[0] * rgb.shape[1] // 200)

    def run(log_scale: float) -> np.ndarray:
        return felzenszwalb(rgb, scale=10**log_scale, sigma=0.8, min_size=min_size)

    return _closest_count(run, k, 0.0, 6.0, False, steps)


def _working_size(hw: tuple[int, int], max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(hw))
    return max(1, round(hw[0] * scale)), max(1, round(hw[1] * scale))


def baseline_maps(
    images: Any, method: str = "slic", k: int = 5, seed: int = 0, max_side: int = MAX_SIDE, progress: bool = True
) -> NaveResult:
    """Superpixel maps of ``images`` with about ``k`` regions (see the module docstring); ``seed`` is recorded."""
    from encoderscope.data.images import ImageSet, open_images

    if method not in BASELINES:
        raise ParameterError(f"unknown baseline {method!r}; choose one of {', '.join(BASELINES)}")
    k = check_k(k, 10**9)
    segment = slic_regions if method == "slic" else felzenszwalb_regions
    image_set = images if isinstance(images, ImageSet) else open_images(images)
    records = []
    with progress_bar(f"{method} baseline", total=len(image_set), enabled=progress) as advance:
        for index, item, image in image_set.iter_loaded():
            original = (image.height, image.width)
            work = _working_size(original, max_side)
            small = image.resize((work[1], work[0]), Image.Resampling.BILINEAR) if work != original else image
            labels = segment(np.asarray(small), k)
            records.append(
                NaveRecord(
                    key=item.key, index=index, labels=labels.astype(np.int16), k=int(labels.max()) + 1,
                    original_hw=original, content_hw=work, padded_hw=work,
                    path=None if item.path is None else str(item.path), item=item,
                )
            )
            advance(1)
    if not records:
        raise ParameterError("no image could be read for the baseline")
    name = f"{'SLIC' if method == 'slic' else 'Felzenszwalb'} baseline (about {k} regions)"
    config = {"model": f"baseline:{method}", "method": method, "k": k, "seed": seed, "max_side": max_side,
              "scope": "image"}
    skipped = [{"key": s.key, "reason": s.reason} for s in image_set.skipped]
    return NaveResult(name, records, config, skipped)
