"""Choosing K: the NAVE reference's inertia-drop rule, kept literally, and a silhouette alternative.

``inertia-drop (reference)``: fit k-means for k = 3..10, take the relative drops
``r_j = (I_{k_j+1} - I_{k_j}) / I_{k_j}`` for j = 0..6 and return ``K = argmax_j r_j + 2`` (docs/methods/nave.md).
All ``r_j`` are negative, so the rule picks the smallest relative drop; the ``+ 2`` maps index j to ``k_j - 1``, which
looks like an off-by-one in the reference and is kept as it is so results match it.

``silhouette``: the k in 3..10 with the largest mean silhouette coefficient (Rousseeuw 1987), evaluated on a seeded
subsample of at most 2000 points; ties go to the smaller k. It measures how much closer points are to their own
cluster than to the next one, instead of reading a single inertia curve.

Example:
    >>> inertia_drop_k([100.0, 60.0, 50.0, 45.0, 42.0, 40.0, 39.0, 38.5])
    8
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from encoderscope.cluster._checks import as_features
from encoderscope.cluster.kmeans import DEFAULT_N_INIT, kmeans
from encoderscope.errors import ParameterError

K_RANGE = tuple(range(3, 11))
RULES = {"auto": "inertia-drop (reference)", "silhouette": "silhouette"}
SILHOUETTE_SAMPLE = 2000


@dataclass
class KChoice:
    """The chosen K and the evidence for it.

    Attributes:
        k: the chosen number of clusters.
        rule: ``"inertia-drop (reference)"`` or ``"silhouette"``.
        ks: the candidate k values.
        scores: inertia per k (inertia-drop) or mean silhouette per k (silhouette).
    """

    k: int
    rule: str
    ks: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def inertia_drop_k(inertias: Sequence[float]) -> int:
    """The reference rule on inertias for k = 3..10: ``argmax_j (I[j+1] - I[j]) / I[j] + 2`` (see module docstring)."""
    values = np.asarray(inertias, dtype=np.float64)
    if values.shape != (len(K_RANGE),):
        raise ParameterError(f"inertia-drop needs the {len(K_RANGE)} inertias of k = 3..10, got {values.shape[0]}")
    drops = (values[1:] - values[:-1]) / np.where(values[:-1] == 0, 1.0, values[:-1])
    return int(np.argmax(drops)) + 2


def choose_k(
    features: np.ndarray | torch.Tensor,
    rule: str = "auto",
    seed: int = 0,
    backend: str = "faiss",
    n_init: int = DEFAULT_N_INIT,
) -> KChoice:
    """Choose K for ``features`` with ``rule`` = ``"auto"`` (inertia-drop, reference) or ``"silhouette"``."""
    check_rule(rule)
    x = as_features(features)
    check_enough_positions(x.shape[0])
    fits = [kmeans(x, k, seed=seed, n_init=n_init, backend=backend) for k in K_RANGE]
    if rule == "auto":
        inertias = [fit.inertia for fit in fits]
        return KChoice(inertia_drop_k(inertias), RULES[rule], list(K_RANGE), inertias)
    scores = silhouette_scores(x, [fit.labels for fit in fits], seed)
    return KChoice(K_RANGE[int(np.argmax(scores))], RULES[rule], list(K_RANGE), scores)


def check_rule(rule: str) -> None:
    """``rule`` must be one of :data:`RULES`."""
    if rule not in RULES:
        raise ParameterError(f"unknown K rule {rule!r}; choose one of {', '.join(RULES)}")


def check_enough_positions(n_positions: int) -> None:
    """Choosing K over k = 3..10 needs more than 10 positions."""
    if n_positions <= K_RANGE[-1]:
        raise ParameterError(
            f"choosing K over k = 3..10 needs more than 10 positions, got {n_positions}; give K explicitly"
        )


def silhouette_scores(x: np.ndarray, labelings: Sequence[np.ndarray], seed: int) -> list[float]:
    """Mean silhouette of each labeling of ``x`` on a seeded subsample (-1 when a labeling has one cluster)."""
    from sklearn.metrics import silhouette_score

    scores = []
    for labels in labelings:
        if len(np.unique(labels)) < 2:
            scores.append(-1.0)
            continue
        sample = min(SILHOUETTE_SAMPLE, x.shape[0])
        scores.append(float(silhouette_score(x, labels, sample_size=sample, random_state=seed)))
    return scores
