"""Matching the concept ids of label maps, so that the same concept has the same id (and colour) in every map.

:func:`match_labels` / :func:`align_labels` renumber the clusters of one label map so that they agree with a
reference map, by Hungarian matching (``scipy.optimize.linear_sum_assignment``) on pixel overlap
(:func:`overlap_matrix`); :func:`align_many` does it for several maps against one. Negative labels
(:data:`IGNORE_LABEL`) mean "no concept here": they are neither matched nor coloured.

Example:
    >>> import numpy as np
    >>> ref = np.array([[0, 0, 1, 1]]); other = np.array([[5, 5, 2, 2]])
    >>> align_labels(ref, other).tolist()
    [[0, 0, 1, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encoderscope.errors import ParameterError

__all__ = [
    "IGNORE_LABEL", "align_labels", "align_many", "match_counts", "match_labels", "overlap_matrix", "resize_labels"
]

IGNORE_LABEL = -1
"""Label value (any negative value, in fact) that means "no concept here": not coloured and not matched."""


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


LabelMaps = np.ndarray | Sequence[np.ndarray]
"""One ``(H, W)`` label map, or several (compared position by position as one)."""


def _as_map_list(maps: LabelMaps) -> list[np.ndarray]:
    if isinstance(maps, np.ndarray) and maps.ndim == 2:
        return [maps]
    out = [np.asarray(m) for m in maps]
    for m in out:
        if m.ndim != 2:
            raise ParameterError(f"a label map must be 2-D (H, W), got shape {m.shape}")
    return out


def overlap_matrix(
    reference: LabelMaps, other: LabelMaps, k_ref: int | None = None, k_other: int | None = None
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


def match_labels(
    reference: LabelMaps, other: LabelMaps, k_ref: int | None = None, k_other: int | None = None
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
