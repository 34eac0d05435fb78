"""The five CLIP-Dissect similarity functions of DISCOVER (equations: docs/methods/dissection.md).

Every function has the contract ``(concept_scores: Tensor[N, M], activations: Tensor[N, U], **params) ->
Tensor[U, M]``; the description of unit ``u`` is ``argmax_m score[u, m]``. The computation runs in chunks (over units
and concepts for (soft) WPMI and rank reordering, over images for the cubed cosine; ``chunk_elements`` bounds every
intermediate), so N=50k images, M=20k concepts and U=4096 units fit in a few GB beyond the inputs; the results equal
the unchunked formulas up to float rounding, and each takes at most about the time of the plain formula, which
materialises full-size copies (BENCHMARKS.md, section Similarity).

Example:
    >>> import torch
    >>> P = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.8, 0.3]])
    >>> A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    >>> soft_wpmi(P, A, top_k=2).argmax(dim=1).tolist()
    [0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from encoderscope._finite import all_finite
from encoderscope._progress import warn
from encoderscope.errors import ActivationError, ParameterError

DEFAULT_CHUNK = 1 << 24


def _check(concept_scores: torch.Tensor, activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    P, A = torch.as_tensor(concept_scores), torch.as_tensor(activations)
    if P.dim() != 2 or A.dim() != 2:
        raise ParameterError(
            f"similarity needs concept_scores (N, M) and activations (N, U), got {tuple(P.shape)} and "
            f"{tuple(A.shape)}"
        )
    if P.shape[0] != A.shape[0]:
        raise ParameterError(f"concept_scores has {P.shape[0]} images but activations has {A.shape[0]}")
    if P.shape[0] == 0 or P.shape[1] == 0 or A.shape[1] == 0:
        raise ParameterError("similarity needs at least one image, one concept and one unit")
    for name, tensor in (("concept_scores", P), ("activations", A)):
        if not all_finite(tensor):
            raise ActivationError(f"{name} contains NaN or Inf values")
    dtype = P.dtype if P.is_floating_point() else torch.float32
    return P.to(dtype), A.to(device=P.device, dtype=dtype)


def _spans(total: int, size: int) -> Iterator[tuple[int, int]]:
    size = max(1, int(size))
    for start in range(0, total, size):
        yield start, min(total, start + size)


def _effective_k(top_k: int, n: int, name: str) -> int:
    if top_k < 1:
        raise ParameterError(f"{name}: top_k must be >= 1, got {top_k}")
    if top_k > n:
        warn(f"{name}: top_k={top_k} is larger than the {n} probe images; using top_k={n}")
        return n
    return top_k


def _row_logsumexp(P: torch.Tensor, a: float, chunk_elements: int) -> torch.Tensor:
    """``logsumexp_m(a * P[n, m])`` for every image, in chunks of rows."""
    out = torch.empty(P.shape[0], dtype=P.dtype, device=P.device)
    for r0, r1 in _spans(P.shape[0], chunk_elements // P.shape[1]):
        out[r0:r1] = torch.logsumexp(a * P[r0:r1], dim=1)
    return out


def _weighted_log_likelihood(
    P: torch.Tensor,
    A: torch.Tensor,
    top_k: int,
    a: float,
    min_prob: float,
    weights: torch.Tensor | None,
    chunk_elements: int,
) -> torch.Tensor:
    """``log p(m | u)`` of (soft) WPMI: sums over each unit's top-k images of the softmax(a P) row terms."""
    m = P.shape[1]
    lse = _row_logsumexp(P, a, chunk_elements)
    index_KU = torch.topk(A, k=top_k, dim=0).indices
    out = torch.empty(A.shape[1], m, dtype=P.dtype, device=P.device)
    m_chunk = max(1, min(m, chunk_elements // top_k))
    u_chunk = max(1, chunk_elements // (top_k * m_chunk))
    for u0, u1 in _spans(A.shape[1], u_chunk):
        rows_UK = index_KU[:, u0:u1].T
        for m0, m1 in _spans(m, m_chunk):
            probs = torch.exp(a * P[rows_UK, m0:m1] - lse[rows_UK].unsqueeze(-1))  # (u, k, m)
            if weights is None:
                terms = torch.log(probs + min_prob)
            else:
                terms = torch.log(1 + weights.view(1, -1, 1) * (probs - 1) + min_prob)
            out[u0:u1, m0:m1] = terms.sum(dim=1)
    return out


def _pmi(log_p_m_given_u: torch.Tensor, lam: float) -> torch.Tensor:
    """``log p(m|u) - lam * (logsumexp_u log p(m|u) - log U)``."""
    n_units = log_p_m_given_u.shape[0]
    log_p_m = torch.logsumexp(log_p_m_given_u, dim=0, keepdim=True) - math.log(n_units)
    return log_p_m_given_u.sub_(lam * log_p_m)


def wpmi(
    concept_scores: torch.Tensor,
    activations: torch.Tensor,
    top_k: int = 28,
    a: float = 2.0,
    lam: float = 0.6,
    min_prob: float = 1e-7,
    chunk_elements: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """WPMI: ``sum_i log(P'[idx_i, m] + min_prob) - lam * log p(m)``, ``P' = softmax(a P)`` over concepts.

    Example:
        >>> import torch
        >>> wpmi(torch.eye(3), torch.eye(3), top_k=1).argmax(dim=1).tolist()
        [0, 1, 2]
    """
    P, A = _check(concept_scores, activations)
    k = _effective_k(top_k, P.shape[0], "wpmi")
    return _pmi(_weighted_log_likelihood(P, A, k, a, min_prob, None, chunk_elements), lam)


def soft_wpmi(
    concept_scores: torch.Tensor,
    activations: torch.Tensor,
    top_k: int = 100,
    a: float = 10.0,
    lam: float = 1.0,
    min_prob: float = 1e-7,
    p_start: float = 0.998,
    p_end: float = 0.97,
    chunk_elements: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """SoftWPMI (the default): ``sum_i log(1 + p_i (P'[idx_i, m] - 1) + min_prob) - lam * log p(m)``.

    ``p_i = p_start - ((i - 1) / top_k) (p_start - p_end)`` for ranks ``i = 1..top_k``.

    Example:
        >>> import torch
        >>> soft_wpmi(torch.eye(3), torch.eye(3), top_k=1).argmax(dim=1).tolist()
        [0, 1, 2]
    """
    P, A = _check(concept_scores, activations)
    k = _effective_k(top_k, P.shape[0], "soft_wpmi")
    ranks = torch.arange(k, dtype=P.dtype, device=P.device)
    weights = p_start - ranks / top_k * (p_start - p_end)
    return _pmi(_weighted_log_likelihood(P, A, k, a, min_prob, weights, chunk_elements), lam)


def _column_norms(X: torch.Tensor, chunk_elements: int) -> torch.Tensor:
    """L2 norm over images of every column of ``X``, in column chunks."""
    norms = torch.empty(X.shape[1], dtype=X.dtype, device=X.device)
    for c0, c1 in _spans(X.shape[1], chunk_elements // X.shape[0]):
        norms[c0:c1] = torch.linalg.vector_norm(X[:, c0:c1], dim=0)
    return norms


def cos_similarity(
    concept_scores: torch.Tensor, activations: torch.Tensor, chunk_elements: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """Cosine over images: every column of P and of A normalised to unit L2 norm; ``A_norm^T P_norm``.

    Computed as ``(A^T P) / (|a_u| |p_m|)``: one matrix product of the inputs themselves (no normalised copies),
    then the output scaled by the column norms.

    Example:
        >>> import torch
        >>> cos_similarity(torch.tensor([[1.0], [0.0]]), torch.tensor([[2.0], [0.0]])).tolist()
        [[1.0]]
    """
    P, A = _check(concept_scores, activations)
    out = A.T @ P
    out.div_(_column_norms(A, chunk_elements)[:, None]).div_(_column_norms(P, chunk_elements)[None, :])
    return out


def cos_similarity_cubed(
    concept_scores: torch.Tensor,
    activations: torch.Tensor,
    min_norm: float = 1e-3,
    chunk_elements: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Columns mean-centred over images, cubed, divided by ``max(L2 norm, min_norm)``; then ``A^T P``.

    One pass over blocks of images: each block's centred cubes of P and A are formed once, their products summed
    into the output and their squares into the column norms; the output is divided by the clamped norms at the
    end. Every element is transformed exactly once and no block exceeds about ``chunk_elements`` values.

    Example:
        >>> import torch
        >>> P = torch.tensor([[1.0], [0.0], [0.0]])
        >>> round(cos_similarity_cubed(P, P).item(), 4)
        1.0
    """
    P, A = _check(concept_scores, activations)
    p_mean, a_mean = P.mean(dim=0), A.mean(dim=0)
    out = torch.zeros(A.shape[1], P.shape[1], dtype=P.dtype, device=P.device)
    p_squares = torch.zeros(P.shape[1], dtype=P.dtype, device=P.device)
    a_squares = torch.zeros(A.shape[1], dtype=P.dtype, device=P.device)
    for r0, r1 in _spans(P.shape[0], chunk_elements // (P.shape[1] + A.shape[1])):
        cube_p = (P[r0:r1] - p_mean).pow_(3)
        cube_a = (A[r0:r1] - a_mean).pow_(3)
        p_squares += (cube_p * cube_p).sum(dim=0)
        a_squares += (cube_a * cube_a).sum(dim=0)
        out.addmm_(cube_a.T, cube_p)
    out.div_(a_squares.sqrt_().clamp_min_(min_norm)[:, None]).div_(p_squares.sqrt_().clamp_min_(min_norm)[None, :])
    return out


def rank_reorder(
    concept_scores: torch.Tensor,
    activations: torch.Tensor,
    p: float = 3.0,
    top_fraction: float = 0.05,
    scale_p: float = 0.5,
    seed: int = 0,
    chunk_elements: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Rank reordering: how well each concept's ranking of a unit's top images reproduces its activations.

    With ``t = int(N * top_fraction)`` top images ``a_1 >= ... >= a_t`` of unit ``u`` and ``c_i = P[idx_i, m]``:
    ``error = mean_i |a_i - s[r_i]|^p / base`` where ``s`` is the activations in ascending order, ``r_i`` the
    ascending rank of ``c_i``, and ``base`` the mean of ``|s - s[pi]|^p`` over five random permutations ``pi``
    (drawn from ``seed``, unit by unit); ``score = -error / mean_i(c_i)^scale_p``.

    Example:
        >>> import torch
        >>> P = torch.rand(200, 3, generator=torch.Generator().manual_seed(0))
        >>> rank_reorder(P, P.clone()).argmax(dim=1).tolist()
        [0, 1, 2]
    """
    P, A = _check(concept_scores, activations)
    n, m = P.shape
    t = int(n * top_fraction)
    if t < 1:
        raise ParameterError(f"rank_reorder: top_fraction={top_fraction} of {n} images selects no image")
    top_vals_TU, index_TU = torch.topk(A, k=t, dim=0)
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(A.shape[1], m, dtype=P.dtype, device=P.device)
    m_chunk = max(1, min(m, chunk_elements // t))
    u_chunk = max(1, chunk_elements // (t * m_chunk))
    positions = torch.arange(t, device=P.device).view(1, t, 1)
    for u0, u1 in _spans(A.shape[1], u_chunk):
        acts_UT = top_vals_TU[:, u0:u1].T  # descending
        ascending_UT = acts_UT.flip(1)
        base = torch.empty(u1 - u0, dtype=P.dtype, device=P.device)
        for j in range(u1 - u0):
            s = ascending_UT[j]
            perms = torch.stack([torch.randperm(t, generator=generator) for _ in range(5)]).to(P.device)
            base[j] = ((s.unsqueeze(0) - s[perms]).abs() ** p).mean()
        rows_UT = index_TU[:, u0:u1].T
        for m0, m1 in _spans(m, m_chunk):
            c_UTM = P[rows_UT, m0:m1]
            order = c_UTM.argsort(dim=1)  # ranks = the inverse permutation (a scatter, not a second sort)
            ranks = torch.empty_like(order).scatter_(1, order, positions.expand_as(order))
            reordered = torch.gather(ascending_UT.unsqueeze(-1).expand_as(c_UTM), 1, ranks)
            error = ((acts_UT.unsqueeze(-1) - reordered).abs() ** p).mean(dim=1) / base.unsqueeze(-1)
            out[u0:u1, m0:m1] = -error / c_UTM.mean(dim=1) ** scale_p
    return out


SIMILARITIES: dict[str, Callable[..., torch.Tensor]] = {
    "soft_wpmi": soft_wpmi,
    "wpmi": wpmi,
    "cos_similarity": cos_similarity,
    "cos_similarity_cubed": cos_similarity_cubed,
    "rank_reorder": rank_reorder,
}


def get_similarity(name: str) -> Callable[..., torch.Tensor]:
    """The similarity function called ``name`` (one of :data:`SIMILARITIES`)."""
    if name not in SIMILARITIES:
        raise ParameterError(f"unknown similarity {name!r}; choose one of {sorted(SIMILARITIES)}")
    return SIMILARITIES[name]
