"""Agglomerative clustering with Ward linkage (scikit-learn), as the NAVE reference's ``agg`` projector.

New points (the streaming pass of the dataset scope) go to the nearest cluster mean: Ward clusters are compact, and
the hierarchy itself cannot place unseen points.

Example:
    >>> import numpy as np
    >>> x = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], dtype="float32")
    >>> fit = ward_fit(x, 2)
    >>> fit.labels.tolist()
    [1, 1, 0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from encoderscope.cluster._checks import as_features, check_k
from encoderscope.cluster.kmeans import nearest_center

MAX_WARD_POINTS = 10000


@dataclass
class WardFit:
    """Labels of the fitted points and the mean of each cluster.

    Attributes:
        labels: ``(N,)`` cluster of each point.
        centers: ``(k, D)`` cluster means (used by :meth:`predict`).
    """

    labels: np.ndarray
    centers: np.ndarray

    def predict(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Nearest cluster mean of new points."""
        return nearest_center(as_features(features), self.centers)[0]


def ward_fit(features: np.ndarray | torch.Tensor, k: int) -> WardFit:
    """Ward agglomerative clustering into ``k`` clusters (memory grows as N², so N is capped at 10000)."""
    from sklearn.cluster import AgglomerativeClustering

    from encoderscope.errors import ParameterError

    x = as_features(features)
    k = check_k(k, x.shape[0])
    if x.shape[0] > MAX_WARD_POINTS:
        raise ParameterError(
            f"method 'agglomerative' is limited to {MAX_WARD_POINTS} positions (got {x.shape[0]}); use kmeans or a "
            "smaller fit sample"
        )
    labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x).astype(np.int64)
    counts = np.bincount(labels, minlength=k).astype(np.float32)
    sums = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, x)
    return WardFit(labels, (sums / np.maximum(counts, 1)[:, None]).astype(np.float32))
