"""Clustering the positions of one image (or of a sample of positions from many images) into concepts.

Example:
    >>> import numpy as np
    >>> x = np.concatenate([np.zeros((6, 3)), np.ones((4, 3))]).astype("float32")
    >>> cluster_positions(x, 2).tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from encoderscope.cluster import fit_clusters
from encoderscope.errors import ParameterError


def cluster_positions(
    features: np.ndarray | torch.Tensor, k: int | str, method: str = "kmeans", seed: int = 0, **options: Any
) -> np.ndarray:
    """``(N,)`` int64 concept labels in ``[0, k)`` for ``(N, D)`` position features.

    ``method`` is ``"kmeans"`` (default; k-means++ with ``n_init`` seeded restarts), ``"pca"`` or
    ``"agglomerative"``; ``k`` an integer, ``"auto"`` or ``"silhouette"`` (see :mod:`encoderscope.cluster`);
    ``options`` are :func:`~encoderscope.cluster.fit_clusters`'s others (``backend``, default ``"faiss"``;
    ``n_init``, default :data:`~encoderscope.cluster.DEFAULT_N_INIT`).
    The ``"attention"`` method needs the model, not features: use :func:`encoderscope.nave.nave`.
    """
    if method == "attention":
        raise ParameterError("method 'attention' labels patches by attention head; call nave(..., method='attention')")
    return fit_clusters(features, k, method=method, seed=seed, **options).labels
