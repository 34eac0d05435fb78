"""k-means with k-means++ initialisation, seeded restarts and three interchangeable back-ends.

Back-ends (same semantics, same result type):

* ``"faiss"`` (CPU default): Lloyd iterations whose assignment step is ``faiss.knn`` (exact L2, BLAS, threaded);
* ``"torch"``: the same iterations in torch, on any device (``device="cuda"`` for a GPU);
* ``"sklearn"``: :class:`sklearn.cluster.KMeans` itself, the reference the tests compare against.

The faiss and torch back-ends share one algorithm: greedy k-means++ seeding (``2 + int(ln k)`` candidate centres per
step, the choice scikit-learn makes), Lloyd updates until the squared centre shift falls below
``tol * mean(feature variance)`` or the labels stop changing, an empty cluster re-seeded with the point farthest from
its centre, ``n_init`` restarts drawn from one ``numpy.random.default_rng(seed)`` stream, the lowest inertia kept.
Random draws happen on the host, so both back-ends start from the same centres for a given seed. The torch back-end
computes the inertia in the direct form ``sum |x - c|^2`` (:func:`squared_error`; the batched back-end of
:mod:`encoderscope.cluster.batched_kmeans` does the same), the faiss back-end from its ``|x|^2 - 2 x.c + |c|^2``
distances, as before.

Example:
    >>> import numpy as np
    >>> x = np.concatenate([np.zeros((20, 2)), np.ones((20, 2)) * 10]).astype("float32")
    >>> fit = kmeans(x, 2, seed=0)
    >>> sorted(np.bincount(fit.labels).tolist()), round(fit.inertia, 3)
    ([20, 20], 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from encoderscope.cluster._checks import as_features, check_k
from encoderscope.cluster._threads import limit_threads
from encoderscope.errors import ParameterError

BACKENDS = ("faiss", "torch", "sklearn")
DEFAULT_N_INIT = 1
"""k-means++ starts by default: one, as both reference paths run (``fast_pytorch_kmeans`` once; scikit-learn's
``n_init="auto"``, one start for k-means++); more keep the lowest inertia (docs/methods/nave.md)."""


@dataclass
class KMeansFit:
    """A fitted k-means model.

    Attributes:
        labels: ``(N,)`` int64 cluster of each fitted point, in ``[0, k)``.
        centers: ``(k, D)`` float32 centres.
        inertia: sum of squared distances of the points to their centres.
        n_iter: Lloyd iterations of the kept restart.
        backend: the back-end that computed it.
    """

    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    n_iter: int
    backend: str

    def predict(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        """Nearest-centre labels of new points."""
        return nearest_center(as_features(features), self.centers)[0]


def mean_variance(x: np.ndarray, chunk: int = 8192) -> float:
    """Mean over features of the per-feature variance, accumulated in float64 over row chunks (no full copy)."""
    total = np.zeros(x.shape[1], dtype=np.float64)
    squares = np.zeros(x.shape[1], dtype=np.float64)
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk].astype(np.float64)
        total += block.sum(axis=0)
        squares += (block * block).sum(axis=0)
    mean = total / x.shape[0]
    return float(np.maximum(squares / x.shape[0] - mean * mean, 0.0).mean())


def nearest_center(x: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, squared distances)`` of each row of ``x`` to its nearest row of ``centers`` (exact, faiss)."""
    import faiss

    distances, index = faiss.knn(x, np.ascontiguousarray(centers, dtype=np.float32), 1)
    return index[:, 0].astype(np.int64), np.maximum(distances[:, 0], 0.0)


def _plus_plus_numpy(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    import faiss

    n = x.shape[0]
    trials = 2 + int(math.log(k))
    centers = np.empty((k, x.shape[1]), dtype=np.float32)
    centers[0] = x[rng.integers(n)]
    closest = nearest_center(x, centers[:1])[1].astype(np.float64)
    for c in range(1, k):
        potential = closest.sum()
        draws = rng.random(trials) * potential
        candidates = np.minimum(np.searchsorted(np.cumsum(closest), draws), n - 1)
        dist = faiss.pairwise_distances(x[candidates], x).astype(np.float64)
        dist = np.minimum(closest[None], np.maximum(dist, 0.0))
        best = int(np.argmin(dist.sum(1)))
        closest = dist[best]
        centers[c] = x[candidates[best]]
    return centers


def _lloyd_numpy(
    x: np.ndarray, centers: np.ndarray, max_iter: int, tol_abs: float
) -> tuple[np.ndarray, np.ndarray, float, int]:
    n, k = x.shape[0], centers.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported as n_iter
        new_labels, dist = nearest_center(x, centers)
        counts = np.bincount(new_labels, minlength=k)
        onehot = np.zeros((k, n), dtype=np.float32)
        onehot[new_labels, np.arange(n)] = 1.0
        sums = onehot @ x
        new_centers = centers.copy()
        filled = counts > 0
        new_centers[filled] = sums[filled] / counts[filled, None]
        empty = np.flatnonzero(~filled)
        if empty.size:
            new_centers[empty] = x[np.argsort(-dist, kind="stable")[: empty.size]]
        shift = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        converged = np.array_equal(new_labels, labels) or shift <= tol_abs
        labels = new_labels
        if converged:
            break
    labels, dist = nearest_center(x, centers)
    return labels, centers, float(dist.astype(np.float64).sum()), iteration


def _torch_sqdist(x: torch.Tensor, x2: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    return (x2[:, None] - 2 * x @ centers.T + (centers * centers).sum(1)[None]).clamp_min_(0)


def _plus_plus_torch(x: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    n = x.shape[0]
    trials = 2 + int(math.log(k))
    x2 = (x * x).sum(1)
    centers = torch.empty((k, x.shape[1]), dtype=x.dtype, device=x.device)
    centers[0] = x[int(rng.integers(n))]
    closest = _torch_sqdist(x, x2, centers[:1])[:, 0].double()
    for c in range(1, k):
        potential = float(closest.sum())
        draws = rng.random(trials) * potential
        cumulative = torch.cumsum(closest, 0).cpu().numpy()
        candidates = np.minimum(np.searchsorted(cumulative, draws), n - 1)
        dist = _torch_sqdist(x, x2, x[torch.as_tensor(candidates, device=x.device)]).T.double()
        dist = torch.minimum(closest[None], dist)
        best = int(torch.argmin(dist.sum(1)))
        closest = dist[best]
        centers[c] = x[int(candidates[best])]
    return centers


def _lloyd_torch(
    x: torch.Tensor, centers: torch.Tensor, max_iter: int, tol_abs: float
) -> tuple[torch.Tensor, torch.Tensor, float, int]:
    n, k = x.shape[0], centers.shape[0]
    x2 = (x * x).sum(1)
    labels = torch.full((n,), -1, dtype=torch.long, device=x.device)
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported as n_iter
        dist = _torch_sqdist(x, x2, centers)
        min_dist, new_labels = dist.min(1)
        counts = torch.bincount(new_labels, minlength=k)
        sums = torch.zeros_like(centers).index_add_(0, new_labels, x)
        filled = counts > 0
        new_centers = centers.clone()
        new_centers[filled] = sums[filled] / counts[filled, None].to(x.dtype)
        empty = torch.nonzero(~filled).flatten().tolist()
        if empty:
            far = torch.argsort(-min_dist, stable=True)[: len(empty)]
            new_centers[empty] = x[far]
        shift = float(((new_centers - centers) ** 2).sum())
        centers = new_centers
        converged = bool(torch.equal(new_labels, labels)) or shift <= tol_abs
        labels = new_labels
        if converged:
            break
    labels = _torch_sqdist(x, x2, centers).min(1)[1]
    return labels, centers, float(squared_error(x, centers[labels])), iteration


def squared_error(x: torch.Tensor, assigned: torch.Tensor) -> torch.Tensor:
    """``sum ||x - assigned||^2`` over the last two axes: per row in float32, over rows in float64.

    The direct form has no cancellation (``|x|^2 - 2 x.c + |c|^2`` loses about 1e-5 of the inertia in float32).
    """
    diff = torch.sub(x, assigned)
    return diff.mul_(diff).sum(-1).double().sum(-1)


def _device(device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def kmeans(
    features: np.ndarray | torch.Tensor,
    k: int,
    seed: int | Sequence[int] = 0,
    n_init: int = DEFAULT_N_INIT,
    max_iter: int = 300,
    tol: float = 1e-4,
    backend: str = "faiss",
    device: str | torch.device | None = None,
) -> KMeansFit:
    """Fit k-means (see the module docstring for the algorithm and the back-ends).

    Args:
        features: ``(N, D)`` points.
        k: number of clusters, ``2 <= k <= N``.
        seed: seeds the k-means++ draws of all restarts (anything :func:`numpy.random.default_rng` takes).
        n_init: restarts; the lowest inertia wins.
        max_iter: Lloyd iterations per restart at most.
        tol: relative tolerance on the squared centre shift (scikit-learn's definition).
        backend: ``"faiss"``, ``"torch"`` or ``"sklearn"``; ``"auto"`` is ``"torch"`` for one problem (for a batch of
            images see :func:`encoderscope.cluster.batch.fit_clusters_batch`).
        device: torch back-end only (default: CUDA when available).
    """
    x = as_features(features)
    k = check_k(k, x.shape[0])
    if backend == "auto":
        backend = "torch"
    if backend not in BACKENDS:
        raise ParameterError(f"unknown k-means back-end {backend!r}; choose one of {', '.join(BACKENDS)}")
    if n_init < 1 or max_iter < 1:
        raise ParameterError(f"n_init and max_iter must be at least 1, got {n_init} and {max_iter}")
    with limit_threads(x.shape[0], x.shape[1], k):
        return _fit(x, k, seed, n_init, max_iter, tol, backend, device)


def _fit(
    x: np.ndarray, k: int, seed: int | Sequence[int], n_init: int, max_iter: int, tol: float, backend: str,
    device: str | torch.device | None,
) -> KMeansFit:
    tol_abs = mean_variance(x) * tol
    if backend == "sklearn":
        from sklearn.cluster import KMeans

        state = seed if isinstance(seed, int | np.integer) else int(np.random.SeedSequence(seed).generate_state(1)[0])
        model = KMeans(k, init="k-means++", n_init=n_init, max_iter=max_iter, tol=tol, random_state=state).fit(x)
        return KMeansFit(
            model.labels_.astype(np.int64), model.cluster_centers_.astype(np.float32), float(model.inertia_),
            int(model.n_iter_), backend,
        )
    rng = np.random.default_rng(seed)
    best: KMeansFit | None = None
    if backend == "torch":
        xt = torch.from_numpy(x).to(_device(device))
        for _ in range(n_init):
            labels_t, centers_t, inertia, n_iter = _lloyd_torch(xt, _plus_plus_torch(xt, k, rng), max_iter, tol_abs)
            if best is None or inertia < best.inertia:
                best = KMeansFit(labels_t.cpu().numpy(), centers_t.cpu().numpy(), inertia, n_iter, backend)
    else:
        for _ in range(n_init):
            labels, centers, inertia, n_iter = _lloyd_numpy(x, _plus_plus_numpy(x, k, rng), max_iter, tol_abs)
            if best is None or inertia < best.inertia:
                best = KMeansFit(labels, centers, inertia, n_iter, backend)
    assert best is not None
    return best
