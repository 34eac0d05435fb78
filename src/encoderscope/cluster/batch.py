"""Clustering every image of a batch at once, on the features' device: :func:`fit_clusters_batch`.

The batched counterpart of :func:`~encoderscope.cluster.api.fit_clusters` for the NAVE image scope (back-end
``"auto"``): methods ``kmeans`` (:mod:`~encoderscope.cluster.batched_kmeans`) and ``pca``
(:mod:`~encoderscope.cluster.batched_pca`). Image ``i`` uses the seed ``[seed, indices[i]]``, so its labels do not
depend on the batch it is in. K is an integer, ``"auto"`` or ``"silhouette"`` (the rules of
:mod:`~encoderscope.cluster.choose_k` on batched k-means fits for k = 3..10; the silhouette is computed on the
host). k-means labels are renumbered by decreasing cluster size, as :func:`fit_clusters` does.

An image that cannot be clustered (NaN/Inf features, fewer positions than K, too few positions to choose K) gets
the same one-line error as the per-image path in ``errors``; the other images are clustered. Labels, centres and
inertias come back to the host once per batch (one transfer each).

Example:
    >>> import torch
    >>> x = torch.cat([torch.zeros(3, 6, 2), torch.ones(3, 4, 2)], dim=1)
    >>> out = fit_clusters_batch(x, 2, seed=0)
    >>> [fit.labels.tolist() for fit in out.fits][0]
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from encoderscope._finite import all_finite
from encoderscope.cluster._checks import check_k, non_finite_error, parse_k
from encoderscope.cluster.api import Clustering
from encoderscope.cluster.batched_kmeans import BatchKMeansFit, image_seeds, kmeans_batch, pad_features, position_mask
from encoderscope.cluster.batched_pca import pca_batch
from encoderscope.cluster.choose_k import (
    K_RANGE,
    RULES,
    KChoice,
    check_enough_positions,
    inertia_drop_k,
    silhouette_scores,
)
from encoderscope.cluster.kmeans import DEFAULT_N_INIT
from encoderscope.cluster.pca import check_pca_k
from encoderscope.errors import EncoderscopeError, ParameterError

BATCH_METHODS = ("kmeans", "pca")
BACKEND_NAME = "torch-batched"


@dataclass
class BatchClustering:
    """One clustering per image of a batch.

    Attributes:
        fits: the :class:`~encoderscope.cluster.api.Clustering` of each image (host arrays), ``None`` where it failed.
        errors: the error of each image that could not be clustered, else ``None``.
    """

    fits: list[Clustering | None]
    errors: list[EncoderscopeError | None]


def fit_clusters_batch(
    features: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray],
    k: int | str,
    method: str = "kmeans",
    seed: int = 0,
    indices: Sequence[int] | None = None,
    n_init: int = DEFAULT_N_INIT,
) -> BatchClustering:
    """Cluster each image's ``(N_i, D)`` positions into K groups (see the module docstring).

    Args:
        features: ``(B, N, D)`` on any device, or a sequence of ``(N_i, D)`` arrays of different sizes.
        k: an integer >= 2, ``"auto"`` or ``"silhouette"``.
        method: ``"kmeans"`` or ``"pca"``.
        seed: image ``i`` draws from ``default_rng([seed, indices[i]])``.
        indices: the images' indices in their data set (default ``0 .. B-1``).
        n_init: k-means restarts.
    """
    if method not in BATCH_METHODS:
        raise ParameterError(f"batched clustering supports {', '.join(BATCH_METHODS)}, got method {method!r}")
    parsed = parse_k(k)
    x, lengths = pad_features(features)
    indices = list(range(len(lengths))) if indices is None else [int(i) for i in indices]
    if len(indices) != len(lengths):
        raise ParameterError(f"{len(indices)} indices for {len(lengths)} images")
    errors = _image_errors(x, lengths, parsed, method)
    fits: list[Clustering | None] = [None] * len(lengths)
    ok = [i for i, error in enumerate(errors) if error is None]
    if ok:
        sub = x[ok] if len(ok) < len(lengths) else x
        sub_lengths = [lengths[i] for i in ok]
        seeds = image_seeds(seed, [indices[i] for i in ok])
        for i, fit in zip(ok, _fit(sub, sub_lengths, parsed, method, seed, seeds, n_init), strict=True):
            fits[i] = fit
    return BatchClustering(fits, errors)


def _image_errors(x: torch.Tensor, lengths: list[int], k: int | str, method: str) -> list[EncoderscopeError | None]:
    """The per-image path's error for each image that cannot be clustered (``None`` for the others)."""
    if all_finite(x):
        bad = [0] * len(lengths)
    else:
        bad = (~torch.isfinite(x).all(-1) & position_mask(lengths, x.shape[1], x.device)).sum(1).tolist()
    errors: list[EncoderscopeError | None] = []
    for n, n_bad in zip(lengths, bad, strict=True):
        try:
            if n_bad:
                raise non_finite_error(n_bad, n)
            if isinstance(k, str):
                check_enough_positions(n)
            else:
                check_k(k, n)
                if method == "pca":
                    check_pca_k(k, x.shape[2])
        except EncoderscopeError as err:
            errors.append(err)
            continue
        errors.append(None)
    return errors


def _fit(
    x: torch.Tensor, lengths: list[int], k: int | str, method: str, seed: int, seeds: list[list[int]], n_init: int
) -> list[Clustering]:
    if isinstance(k, int):
        if method == "pca":
            return _pca_clusterings(x, lengths, k, [None] * len(lengths))
        fit = kmeans_batch(x, k, seeds, n_init=n_init, lengths=lengths)
        return _kmeans_clusterings(fit, k, [None] * len(lengths))
    choices, by_k = _choose_k(x, lengths, k, seed, seeds, n_init)
    out: list[Clustering | None] = [None] * len(lengths)
    for chosen in sorted({choice.k for choice in choices}):
        group = [i for i, choice in enumerate(choices) if choice.k == chosen]
        group_choices = [choices[i] for i in group]
        if method == "pca":
            fits = _pca_clusterings(x[group], [lengths[i] for i in group], chosen, group_choices)
        else:
            fits = _kmeans_clusterings(_select(by_k[chosen], group), chosen, group_choices)
        for i, fit in zip(group, fits, strict=True):
            out[i] = fit
    return [fit for fit in out if fit is not None]


def _choose_k(
    x: torch.Tensor, lengths: list[int], rule: str, seed: int, seeds: list[list[int]], n_init: int
) -> tuple[list[KChoice], dict[int, BatchKMeansFit]]:
    """The K rule of every image on batched k-means fits for k = 3..10 (and those fits, reused for the chosen K)."""
    by_k = {k: kmeans_batch(x, k, seeds, n_init=n_init, lengths=lengths) for k in K_RANGE}
    if rule == "auto":
        inertias = torch.stack([by_k[k].inertia for k in K_RANGE], 1).tolist()
        return [KChoice(inertia_drop_k(row), RULES[rule], list(K_RANGE), row) for row in inertias], by_k
    labels = {k: fit.labels.cpu().numpy() for k, fit in by_k.items()}
    choices = []
    for i, n in enumerate(lengths):
        scores = silhouette_scores(x[i, :n].cpu().numpy(), [labels[k][i, :n] for k in K_RANGE], seed)
        choices.append(KChoice(K_RANGE[int(np.argmax(scores))], RULES[rule], list(K_RANGE), scores))
    return choices, by_k


def _select(fit: BatchKMeansFit, rows: list[int]) -> BatchKMeansFit:
    index = torch.tensor(rows, device=fit.labels.device)
    return BatchKMeansFit(
        fit.labels[index], fit.centers[index], fit.inertia[index], fit.n_iter[index], [fit.lengths[i] for i in rows]
    )


def renumber_by_size(labels: torch.Tensor, centers: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clusters of each row renumbered by decreasing size (stable), labels ``-1`` kept; centres reordered to match."""
    sizes = torch.zeros((labels.shape[0], k + 1), dtype=torch.long, device=labels.device)
    sizes.scatter_add_(1, torch.where(labels < 0, k, labels), torch.ones_like(labels))
    order = torch.argsort(-sizes[:, :k], dim=1, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(k, device=labels.device).expand_as(order))
    renumbered = torch.where(labels < 0, -1, rank.gather(1, labels.clamp_min(0)))
    return renumbered, centers.gather(1, order[..., None].expand_as(centers))


def _kmeans_clusterings(fit: BatchKMeansFit, k: int, choices: list[KChoice | None]) -> list[Clustering]:
    labels, centers = renumber_by_size(fit.labels, fit.centers, k)
    labels_h, centers_h, inertia_h = labels.cpu().numpy(), centers.cpu().numpy(), fit.inertia.tolist()
    return [
        Clustering("kmeans", k, labels_h[i, :n], centers=centers_h[i], inertia=inertia_h[i], k_choice=choices[i])
        for i, n in enumerate(fit.lengths)
    ]


def _pca_clusterings(x: torch.Tensor, lengths: list[int], k: int, choices: list[KChoice | None]) -> list[Clustering]:
    fit = pca_batch(x, k, lengths=lengths)
    labels, mean, components = fit.labels.cpu().numpy(), fit.mean.cpu().numpy(), fit.components.cpu().numpy()
    return [
        Clustering("pca", k, labels[i, :n], mean=mean[i], components=components[i], k_choice=choices[i])
        for i, n in enumerate(lengths)
    ]
