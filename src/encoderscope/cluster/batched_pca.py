"""Batched PCA labels: the principal axes of every image of a batch at once, in torch, on the features' device.

The same computation as :func:`encoderscope.cluster.pca.pca_fit`, per image: float64 mean of the image's positions,
exact SVD of the centred positions (``torch.linalg.svd``, batched), the first K right singular vectors oriented by
:func:`~encoderscope.cluster.pca.orient_axes`, label = ``argmax_k |score_k|``. Padded positions are zero rows after
centring, which change neither the axes nor the singular values, and get label ``-1``. Images are processed in
chunks of at most ``chunk_elements`` float64 values, so memory stays bounded whatever the batch size.

Example:
    >>> import torch
    >>> x = torch.tensor([[[5.0, 0, 0], [-5, 0, 0], [0, 3, 0], [0, -3, 0]]])
    >>> pca_batch(x, 2).labels.tolist()
    [[0, 0, 1, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from encoderscope.cluster._threads import limit_threads
from encoderscope.cluster.batched_kmeans import pad_features, position_mask
from encoderscope.cluster.pca import check_pca_k, orient_axes
from encoderscope.errors import ParameterError

CHUNK_ELEMENTS = 1 << 22


@dataclass
class BatchPCAFit:
    """PCA of every image of a batch.

    Attributes:
        labels: ``(B, N)`` int64 index of the component with the largest ``|score|``; ``-1`` at padded positions.
        mean: ``(B, D)`` float32 mean of each image's positions.
        components: ``(B, k, D)`` float32 principal axes (unit rows, by decreasing variance, oriented).
        explained_variance: ``(B, k)`` float32 variance along each axis.
        lengths: number of real positions of each image.
    """

    labels: torch.Tensor
    mean: torch.Tensor
    components: torch.Tensor
    explained_variance: torch.Tensor
    lengths: list[int]


def pca_batch(
    features: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray],
    k: int,
    chunk_elements: int = CHUNK_ELEMENTS,
    lengths: Sequence[int] | None = None,
) -> BatchPCAFit:
    """PCA labels of every image (see the module docstring); ``k <= min N_i`` and ``k <= D``.

    ``lengths``: real positions of each image of a zero-padded ``(B, N, D)`` tensor (default: all).
    """
    x, lengths = pad_features(features, lengths)
    b, n, d = x.shape
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= min(lengths):
        raise ParameterError(f"K must be an integer in [2, {min(lengths)}] (the smallest image), got {k!r}")
    check_pca_k(int(k), d)
    mask = position_mask(lengths, n, x.device)
    count = torch.as_tensor(lengths, dtype=torch.float64, device=x.device)
    labels = torch.empty((b, n), dtype=torch.long, device=x.device)
    mean = torch.empty((b, d), dtype=torch.float64, device=x.device)
    axes = torch.empty((b, k, d), dtype=torch.float64, device=x.device)
    singular = torch.empty((b, k), dtype=torch.float64, device=x.device)
    step = max(1, chunk_elements // (n * d))
    with torch.no_grad(), limit_threads(max(lengths), d, k):
        _fill(x, mask, count, k, step, labels, mean, axes, singular)
    components = torch.from_numpy(orient_axes(axes.cpu().numpy()).astype(np.float32)).to(x.device)
    variance = (singular**2 / (count - 1).clamp_min(1)[:, None]).float()
    return BatchPCAFit(labels, mean.float(), components, variance, lengths)


def _fill(
    x: torch.Tensor, mask: torch.Tensor, count: torch.Tensor, k: int, step: int, labels: torch.Tensor,
    mean: torch.Tensor, axes: torch.Tensor, singular: torch.Tensor,
) -> None:
    """Fill the outputs chunk by chunk of ``step`` images."""
    b = x.shape[0]
    for start in range(0, b, step):
        part = slice(start, min(b, start + step))
        xd = x[part].double()
        mean[part] = xd.sum(1) / count[part, None]
        centred = (xd - mean[part][:, None]).mul_(mask[part, :, None])
        _, s, vh = torch.linalg.svd(centred, full_matrices=False)
        axes[part], singular[part] = vh[:, :k], s[:, :k]
        scores = centred @ vh[:, :k].transpose(1, 2)
        labels[part] = torch.where(mask[part], scores.abs().argmax(-1), -1)
