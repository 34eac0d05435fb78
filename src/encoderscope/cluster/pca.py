"""PCA "clustering" as in the NAVE reference: label = the principal component with the largest ``|score|``.

Example:
    >>> import numpy as np
    >>> x = np.array([[5, 0, 0], [-5, 0, 0], [0, 3, 0], [0, -3, 0]], dtype="float32")
    >>> fit = pca_fit(x, 2)
    >>> fit.labels.tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from encoderscope.cluster._checks import as_features, check_k
from encoderscope.errors import ParameterError


@dataclass
class PCAFit:
    """Mean, the first ``k`` principal axes, and the labels of the fitted points.

    Attributes:
        labels: ``(N,)`` index of the component with the largest absolute score.
        mean: ``(D,)`` feature mean.
        components: ``(k, D)`` principal axes (rows, unit norm, by decreasing variance).
        explained_variance: ``(k,)`` variance along each axis.
    """

    labels: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray

    def predict(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Labels of new points: argmax over components of ``|(x - mean) . axis|``."""
        scores = (as_features(features) - self.mean) @ self.components.T
        return np.abs(scores).argmax(axis=1).astype(np.int64)


def check_pca_k(k: int, channels: int) -> None:
    """PCA can give at most as many components as there are channels."""
    if k > channels:
        raise ParameterError(f"method 'pca' needs K <= the number of channels ({channels}), got K={k}")


def orient_axes(axes: np.ndarray) -> np.ndarray:
    """Flip each row so that its coordinate of largest magnitude is positive (the sign of an SVD axis is arbitrary).

    Example:
        >>> orient_axes(np.array([[0.6, -0.8], [0.8, 0.6]])).tolist()
        [[-0.6, 0.8], [0.8, 0.6]]
    """
    top = np.take_along_axis(axes, np.abs(axes).argmax(axis=-1)[..., None], axis=-1)
    return axes * np.where(top < 0, -1.0, 1.0).astype(axes.dtype)


def pca_fit(features: np.ndarray | torch.Tensor, k: int) -> PCAFit:
    """Fit ``k`` principal components (exact SVD of the centred data) and label each point by ``argmax |score|``.

    Each axis is oriented by :func:`orient_axes`; the labels do not depend on the signs.
    """
    x = as_features(features)
    k = check_k(k, x.shape[0])
    check_pca_k(k, x.shape[1])
    mean = x.mean(axis=0, dtype=np.float64)
    centred = x.astype(np.float64) - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    components = orient_axes(vt[:k]).astype(np.float32)
    variance = (singular[:k] ** 2 / max(1, x.shape[0] - 1)).astype(np.float32)
    labels = np.abs(centred @ vt[:k].T).argmax(axis=1).astype(np.int64)
    return PCAFit(labels, mean.astype(np.float32), components, variance)
