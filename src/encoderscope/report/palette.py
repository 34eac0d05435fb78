"""Concept colours and cluster matching, so the same concept has the same colour in every picture.

Two concerns that belong together:

* :func:`concept_palette` gives ``K`` distinct, colour-blind-aware colours as a ``(K, 3)`` uint8 array. The first
  seven are the Okabe-Ito colours (safe for the common colour-vision deficiencies); the rest are chosen greedily
  from a grid of sRGB colours to be as far as possible (CIEDE2000) from every colour already chosen, both as seen
  normally and as seen with simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1).
  The sequence is deterministic and prefix-stable: ``concept_palette(5)`` is ``concept_palette(64)[:5]``.
* :func:`match_labels` / :func:`align_labels` renumber the clusters of one label map so that they agree with a
  reference map, by Hungarian matching (``scipy.optimize.linear_sum_assignment``) on pixel overlap. With the same
  numbering, :func:`concept_palette` colours agree between models, layers and baselines.

Example:
    >>> import numpy as np
    >>> concept_palette(3).shape
    (3, 3)
    >>> ref = np.array([[0, 0, 1, 1]]); other = np.array([[5, 5, 2, 2]])
    >>> align_labels(ref, other).tolist()
    [[0, 0, 1, 1]]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from encoderscope.errors import ParameterError

__all__ = [
    "IGNORE_LABEL",
    "align_labels",
    "align_many",
    "concept_palette",
    "hex_colors",
    "match_counts",
    "match_labels",
    "overlap_matrix",
    "resize_labels",
]

IGNORE_LABEL = -1
"""Label value (any negative value, in fact) that means "no concept here": not coloured and not matched."""

# Okabe & Ito (2008), "Color Universal Design": the seven chromatic colours (black left out: it reads as boundary).
_OKABE_ITO = np.array(
    [
        [230, 159, 0],  # orange
        [86, 180, 233],  # sky blue
        [0, 158, 115],  # bluish green
        [240, 228, 66],  # yellow
        [0, 114, 178],  # blue
        [213, 94, 0],  # vermillion
        [204, 121, 167],  # reddish purple
    ],
    dtype=np.uint8,
)

# Machado, Oliveira & Fernandes (2009): dichromacy simulation matrices in linear RGB, severity 1.0.
_CVD = {
    "protan": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deutan": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritan": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}
_GRID_STEPS = 18  # sRGB grid of 18^3 candidate colours
_L_RANGE = (32.0, 88.0)  # keep away from near-black (boundaries) and near-white (page background)
_MIN_CHROMA = 18.0  # no greys: they vanish over photos


def _srgb_to_linear(rgb01: np.ndarray) -> np.ndarray:
    return np.where(rgb01 <= 0.04045, rgb01 / 12.92, ((rgb01 + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def _views_lab(rgb_uint8: np.ndarray) -> np.ndarray:
    """(V, N, 3) CIELAB coordinates of the colours as seen normally and under each simulated dichromacy."""
    from skimage.color import rgb2lab

    rgb01 = rgb_uint8.astype(np.float64) / 255.0
    lin = _srgb_to_linear(rgb01)
    views = [rgb01] + [_linear_to_srgb(lin @ m.T) for m in _CVD.values()]
    return np.stack([rgb2lab(v[None])[0] for v in views])


# Weight of each view's distance: a pair must differ normally, and should still differ for dichromats.
_VIEW_WEIGHTS = np.array([1.0, 2.0, 2.0, 3.0])


def _weighted_distance(views_a: np.ndarray, views_b: np.ndarray) -> np.ndarray:
    """min over views of weight * CIEDE2000 between (V, N, 3) and (V, 1, 3) -> (N,)."""
    from skimage.color import deltaE_ciede2000

    dists = [w * deltaE_ciede2000(views_a[v], views_b[v]) for v, w in enumerate(_VIEW_WEIGHTS)]
    return np.min(np.stack(dists), axis=0)


@functools.lru_cache(maxsize=1)
def _candidates() -> tuple[np.ndarray, np.ndarray]:
    axis = np.round(np.linspace(0, 255, _GRID_STEPS)).astype(np.uint8)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    views = _views_lab(grid)
    lab = views[0]
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] >= _L_RANGE[0]) & (lab[:, 0] <= _L_RANGE[1]) & (chroma >= _MIN_CHROMA)
    return grid[keep], views[:, keep]


@functools.lru_cache(maxsize=8)
def _palette_sequence(n: int) -> np.ndarray:
    """The first ``n`` colours of the deterministic greedy sequence (prefix-stable by construction)."""
    grid, grid_views = _candidates()
    chosen = [c for c in _OKABE_ITO[: min(n, len(_OKABE_ITO))]]
    if n <= len(chosen):
        return np.array(chosen, dtype=np.uint8)
    nearest = np.full(len(grid), np.inf)
    for colour in chosen:
        nearest = np.minimum(nearest, _weighted_distance(grid_views, _views_lab(colour[None])))
    while len(chosen) < n:
        best = int(np.argmax(nearest))  # ties: the first grid index, so the result is deterministic
        chosen.append(grid[best])
        nearest = np.minimum(nearest, _weighted_distance(grid_views, grid_views[:, best : best + 1]))
        nearest[best] = -np.inf
    return np.array(chosen, dtype=np.uint8)


def concept_palette(k: int) -> np.ndarray:
    """``k`` distinct, colour-blind-aware colours as a ``(k, 3)`` uint8 array (deterministic, prefix-stable).

    Colour ``i`` is the colour of concept (cluster) id ``i``. Distinctness falls as ``k`` grows: the first seven
    are safe for dichromats, up to about 20 stay clearly separable, and up to 64 are still distinct side by side.
    At most the size of the candidate grid (a few thousand) can be asked for.

    Example:
        >>> concept_palette(2).tolist()
        [[230, 159, 0], [86, 180, 233]]
        >>> bool((concept_palette(64)[:10] == concept_palette(10)).all())
        True
    """
    k = int(k)
    if k < 1:
        raise ParameterError(f"a palette needs at least one colour, got k={k}")
    available = len(_candidates()[0]) + len(_OKABE_ITO)
    if k > available:
        raise ParameterError(f"at most {available} distinct concept colours are available, got k={k}")
    # Compute at least 64 once, so common calls share one cached sequence.
    return _palette_sequence(max(k, 64))[:k].copy()


def hex_colors(palette: np.ndarray) -> list[str]:
    """``(K, 3)`` uint8 colours -> ``["#e69f00", ...]`` (for HTML and matplotlib).

    Example:
        >>> hex_colors(concept_palette(1))
        ['#e69f00']
    """
    arr = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in arr.tolist()]


def resize_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an integer label map to ``shape`` (H, W), sampling at pixel centres.

    Example:
        >>> resize_labels(np.array([[0, 1], [2, 3]]), (4, 4))[::2, ::2].tolist()
        [[0, 1], [2, 3]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ParameterError(f"a label map must be 2-D (H, W), got shape {labels.shape}")
    height, width = int(shape[0]), int(shape[1])
    if labels.shape == (height, width):
        return labels
    rows = np.minimum(((np.arange(height) + 0.5) * labels.shape[0] / height).astype(np.int64), labels.shape[0] - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * labels.shape[1] / width).astype(np.int64), labels.shape[1] - 1)
    return labels[rows[:, None], cols[None, :]]


def _as_map_list(maps: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(maps, np.ndarray) and maps.ndim == 2:
        return [maps]
    out = [np.asarray(m) for m in maps]
    for m in out:
        if m.ndim != 2:
            raise ParameterError(f"a label map must be 2-D (H, W), got shape {m.shape}")
    return out


def overlap_matrix(
    reference: np.ndarray | Sequence[np.ndarray],
    other: np.ndarray | Sequence[np.ndarray],
    k_ref: int | None = None,
    k_other: int | None = None,
) -> np.ndarray:
    """Pixel-overlap counts ``O[i, j]`` = number of pixels with reference label ``i`` and other label ``j``.

    ``reference`` and ``other`` are one label map each or equal-length sequences of maps (one per image; counts
    are summed, which matches dataset-scope clusterings). Maps of different sizes are compared on the reference's
    grid (``other`` is resized, nearest). Negative labels are ignored. ``k_*`` default to ``max label + 1``.

    Example:
        >>> overlap_matrix(np.array([[0, 0, 1]]), np.array([[1, 0, 0]])).tolist()
        [[1, 1], [1, 0]]
    """
    refs, others = _as_map_list(reference), _as_map_list(other)
    if len(refs) != len(others):
        raise ParameterError(f"cannot match {len(others)} label maps against {len(refs)} reference maps")
    k_ref = int(k_ref) if k_ref is not None else max([int(r.max(initial=-1)) for r in refs] + [-1]) + 1
    k_other = int(k_other) if k_other is not None else max([int(o.max(initial=-1)) for o in others] + [-1]) + 1
    counts = np.zeros((k_ref, k_other), dtype=np.int64)
    for ref, oth in zip(refs, others, strict=True):
        oth = resize_labels(oth, ref.shape)
        valid = (ref >= 0) & (oth >= 0)
        if (ref[valid] >= k_ref).any() or (oth[valid] >= k_other).any():
            raise ParameterError(f"label maps hold ids beyond k_ref={k_ref} / k_other={k_other}")
        flat = ref[valid].astype(np.int64) * k_other + oth[valid].astype(np.int64)
        counts += np.bincount(flat, minlength=k_ref * k_other).reshape(k_ref, k_other)
    return counts


def match_labels(
    reference: np.ndarray | Sequence[np.ndarray],
    other: np.ndarray | Sequence[np.ndarray],
    k_ref: int | None = None,
    k_other: int | None = None,
) -> np.ndarray:
    """Mapping ``m`` (length ``k_other``) so that ``m[other]`` numbers ``other``'s clusters like ``reference``'s.

    Clusters are paired by Hungarian matching that maximises the total pixel overlap (:func:`overlap_matrix`).
    When ``other`` has more clusters than the reference, the unpaired ones get new ids ``k_ref, k_ref + 1, ...``
    in order of decreasing size, so they take colours no reference concept uses. The result is a permutation when
    both have the same K.

    Example:
        >>> match_labels(np.array([[0, 1, 1]]), np.array([[2, 0, 0]]), k_other=3).tolist()
        [1, 2, 0]
    """
    return match_counts(overlap_matrix(reference, other, k_ref, k_other))


def match_counts(counts: np.ndarray) -> np.ndarray:
    """:func:`match_labels` from the overlap counts ``(k_ref, k_other)`` themselves: mapping ``m`` of length
    ``k_other``, Hungarian-paired ids in ``[0, k_ref)``, unpaired ones ``k_ref, k_ref + 1, ...`` by decreasing size.

    Example:
        >>> match_counts(np.array([[0, 3, 0], [1, 0, 2]])).tolist()
        [2, 0, 1]
    """
    from scipy.optimize import linear_sum_assignment

    counts = np.asarray(counts)
    k_ref, k_other = counts.shape
    mapping = np.full(k_other, -1, dtype=np.int64)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping[cols] = rows
    unpaired = np.flatnonzero(mapping < 0)
    if unpaired.size:
        sizes = counts.sum(axis=0)[unpaired]
        order = unpaired[np.argsort(-sizes, kind="stable")]
        mapping[order] = k_ref + np.arange(order.size)
    return mapping


def align_labels(
    reference: np.ndarray,
    other: np.ndarray,
    k_ref: int | None = None,
    k_other: int | None = None,
) -> np.ndarray:
    """``other`` renumbered to agree with ``reference`` (see :func:`match_labels`); negative labels are kept.

    Example:
        >>> align_labels(np.array([[0, 1]]), np.array([[1, 0]])).tolist()
        [[0, 1]]
    """
    other = np.asarray(other)
    mapping = match_labels(reference, other, k_ref, k_other)
    out = np.where(other >= 0, mapping[np.clip(other, 0, None)], other)
    return out.astype(other.dtype if np.issubdtype(other.dtype, np.signedinteger) else np.int64)


def align_many(maps: Sequence[np.ndarray], reference: int = 0) -> list[np.ndarray]:
    """Renumber every map in ``maps`` (e.g. one image under several models or layer sets) to agree with
    ``maps[reference]``; the reference itself is returned unchanged.

    Example:
        >>> [m.tolist() for m in align_many([np.array([[0, 1]]), np.array([[1, 0]])])]
        [[[0, 1]], [[0, 1]]]
    """
    if not maps:
        return []
    ref = np.asarray(maps[reference])
    return [ref if i == reference else align_labels(ref, m) for i, m in enumerate(maps)]
