"""Labels of new positions under a fitted :class:`~encoderscope.cluster.api.Clustering`, on the positions' device.

The device counterpart of :meth:`Clustering.predict` for the dataset scope's assignment pass: nearest centre
(k-means, Ward: ``argmin_k |x|^2 - 2 x.c_k + |c_k|^2``) or, for PCA, ``argmax_k |(x - mean) . axis_k|``, computed
in chunks of ``chunk_rows`` positions so the temporaries stay bounded; only the labels are new memory.

Example:
    >>> import numpy as np, torch
    >>> from encoderscope.cluster import fit_clusters
    >>> fit = fit_clusters(np.array([[0, 0], [0, 1], [1, 0], [9, 9]], dtype="float32"), 2)
    >>> assign_labels(fit, torch.tensor([[8.0, 9.0], [0.0, 0.5]])).tolist()
    [1, 0]
"""

from __future__ import annotations

import torch

from encoderscope._finite import all_finite
from encoderscope.cluster._checks import non_finite_error
from encoderscope.cluster.api import Clustering
from encoderscope.errors import ActivationError

CHUNK_ROWS = 1 << 16


def assign_labels(clustering: Clustering, features: torch.Tensor, chunk_rows: int = CHUNK_ROWS) -> torch.Tensor:
    """``(M,)`` int64 labels of ``(M, D)`` features, on their device (see the module docstring)."""
    if features.ndim != 2:
        raise ActivationError(f"features must be a 2-D (positions, channels) array, got shape {tuple(features.shape)}")
    x = features.float()
    bad = 0 if all_finite(x) else int((~torch.isfinite(x).all(1)).sum())
    if bad:
        raise non_finite_error(bad, x.shape[0])
    labels = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    if clustering.components is not None and clustering.mean is not None:
        mean = torch.as_tensor(clustering.mean, device=x.device)
        axes = torch.as_tensor(clustering.components, device=x.device)
        for start in range(0, x.shape[0], chunk_rows):
            labels[start : start + chunk_rows] = ((x[start : start + chunk_rows] - mean) @ axes.T).abs().argmax(1)
        return labels
    assert clustering.centers is not None
    centers = torch.as_tensor(clustering.centers, device=x.device)
    c2 = (centers * centers).sum(1)
    for start in range(0, x.shape[0], chunk_rows):
        block = x[start : start + chunk_rows]
        distances = (block * block).sum(1, keepdim=True) - 2 * block @ centers.T + c2
        labels[start : start + chunk_rows] = distances.argmin(1)
    return labels
