"""One entry point for every clustering method: :func:`fit_clusters` returns a :class:`Clustering`.

Methods: ``kmeans`` (k-means++, seeded restarts; back-end ``faiss``/``torch``/``sklearn``), ``pca`` (label = argmax
``|score|`` over K components), ``agglomerative`` (Ward). K is an integer, ``"auto"`` (the reference's inertia-drop
rule) or ``"silhouette"`` (see :mod:`encoderscope.cluster.choose_k`); both rules score k-means fits, as the reference
does, whatever the method. k-means and Ward labels are renumbered by decreasing cluster size (0 = largest), so the
colours of a map do not depend on the back-end's arbitrary cluster order; PCA labels keep the component order.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 0.1, (30, 4)), rng.normal(5, 0.1, (10, 4))]).astype("float32")
    >>> result = fit_clusters(x, 2, seed=0)
    >>> np.bincount(result.labels).tolist(), result.predict(x[:1]).tolist()
    ([30, 10], [0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from encoderscope.cluster._checks import as_features, check_k, parse_k
from encoderscope.cluster._threads import limit_threads
from encoderscope.cluster.agglomerative import ward_fit
from encoderscope.cluster.choose_k import KChoice, choose_k
from encoderscope.cluster.kmeans import DEFAULT_N_INIT, kmeans, nearest_center
from encoderscope.cluster.pca import pca_fit
from encoderscope.errors import ParameterError

METHODS = ("kmeans", "pca", "agglomerative")


@dataclass
class Clustering:
    """A fitted clustering of positions.

    Attributes:
        method: ``"kmeans"``, ``"pca"`` or ``"agglomerative"``.
        k: number of clusters.
        labels: ``(N,)`` int64 labels of the fitted points, in ``[0, k)``.
        centers: ``(k, D)`` centres (k-means, Ward cluster means), else ``None``.
        mean: ``(D,)`` data mean (PCA), else ``None``.
        components: ``(k, D)`` principal axes (PCA), else ``None``.
        inertia: k-means inertia, else ``None``.
        k_choice: how K was chosen when it was not given, else ``None``.
    """

    method: str
    k: int
    labels: np.ndarray
    centers: np.ndarray | None = None
    mean: np.ndarray | None = None
    components: np.ndarray | None = None
    inertia: float | None = None
    k_choice: KChoice | None = None

    def predict(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Labels of new points (nearest centre; for PCA, argmax ``|score|``)."""
        x = as_features(features)
        if self.components is not None and self.mean is not None:
            return np.abs((x - self.mean) @ self.components.T).argmax(axis=1).astype(np.int64)
        assert self.centers is not None
        return nearest_center(x, self.centers)[0]


def _by_size(labels: np.ndarray, centers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber clusters by decreasing size (stable: ties keep their order)."""
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[labels], centers[order]


def fit_clusters(
    features: np.ndarray | torch.Tensor,
    k: int | str,
    method: str = "kmeans",
    seed: int = 0,
    backend: str = "faiss",
    n_init: int = DEFAULT_N_INIT,
    device: str | torch.device | None = None,
) -> Clustering:
    """Cluster ``(N, D)`` features into K groups (see the module docstring).

    Args:
        features: one row per position.
        k: an integer >= 2 and <= N, ``"auto"`` or ``"silhouette"``.
        method: ``"kmeans"``, ``"pca"`` or ``"agglomerative"``.
        seed: seed of every random choice (k-means++ draws, silhouette subsample).
        backend: k-means back-end (``"faiss"``, ``"torch"``, ``"sklearn"``); also used by the K rules.
        n_init: k-means restarts.
        device: torch back-end device.
    """
    if method not in METHODS:
        raise ParameterError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")
    x = as_features(features)
    parsed = parse_k(k)
    with limit_threads(x.shape[0], x.shape[1], parsed if isinstance(parsed, int) else 10):
        return _fit(x, parsed, method, seed, backend, n_init, device)


def _fit(
    x: np.ndarray, parsed: int | str, method: str, seed: int, backend: str, n_init: int,
    device: str | torch.device | None,
) -> Clustering:
    choice = None
    if isinstance(parsed, str):
        choice = choose_k(x, parsed, seed=seed, backend=backend, n_init=n_init)
        parsed = choice.k
    parsed = check_k(parsed, x.shape[0])
    if method == "kmeans":
        fit = kmeans(x, parsed, seed=seed, n_init=n_init, backend=backend, device=device)
        labels, centers = _by_size(fit.labels, fit.centers, parsed)
        return Clustering(method, parsed, labels, centers=centers, inertia=fit.inertia, k_choice=choice)
    if method == "agglomerative":
        ward = ward_fit(x, parsed)
        labels, centers = _by_size(ward.labels, ward.centers, parsed)
        return Clustering(method, parsed, labels, centers=centers, k_choice=choice)
    pca = pca_fit(x, parsed)
    return Clustering(method, parsed, pca.labels, mean=pca.mean, components=pca.components, k_choice=choice)
