"""The similarity functions against plain numpy loops written from docs/methods/dissection.md#similarity-functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoderscope.dissect import similarity as sim
from encoderscope.errors import ActivationError, ParameterError


def _data(n: int = 40, m: int = 7, u: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 0.4, size=(n, m)), rng.normal(size=(n, u))


def _softmax_rows(P: np.ndarray, a: float) -> np.ndarray:
    out = np.zeros_like(P)
    for n in range(P.shape[0]):
        e = np.exp(a * P[n] - np.max(a * P[n]))
        out[n] = e / e.sum()
    return out


def _pmi_loops(P, A, top_k, a, lam, min_prob, weights):
    Pp = _softmax_rows(P, a)
    U, M = A.shape[1], P.shape[1]
    log_cond = np.zeros((U, M))
    for u in range(U):
        order = sorted(range(A.shape[0]), key=lambda n: -A[n, u])[:top_k]
        for m in range(M):
            total = 0.0
            for i, n in enumerate(order):
                if weights is None:
                    total += np.log(Pp[n, m] + min_prob)
                else:
                    total += np.log(1 + weights[i] * (Pp[n, m] - 1) + min_prob)
            log_cond[u, m] = total
    score = np.zeros((U, M))
    for m in range(M):
        col = log_cond[:, m]
        log_pm = np.log(np.sum(np.exp(col - col.max()))) + col.max() - np.log(U)
        for u in range(U):
            score[u, m] = log_cond[u, m] - lam * log_pm
    return score


@pytest.mark.parametrize("chunk", [sim.DEFAULT_CHUNK, 7])
def test_soft_wpmi_matches_loops(chunk: int) -> None:
    P, A = _data()
    k = 10
    weights = [0.998 - (i / k) * (0.998 - 0.97) for i in range(k)]  # p_i for i = 1..k
    expected = _pmi_loops(P, A, k, 10.0, 1.0, 1e-7, weights)
    got = sim.soft_wpmi(torch.tensor(P), torch.tensor(A), top_k=k, chunk_elements=chunk)
    assert got.shape == (5, 7)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_soft_wpmi_float32_defaults_match_loops() -> None:
    P, A = _data(n=120, seed=1)
    weights = [0.998 - (i / 100) * (0.998 - 0.97) for i in range(100)]
    expected = _pmi_loops(P, A, 100, 10.0, 1.0, 1e-7, weights)
    got = sim.soft_wpmi(torch.tensor(P, dtype=torch.float32), torch.tensor(A, dtype=torch.float32))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("chunk", [sim.DEFAULT_CHUNK, 5])
def test_wpmi_matches_loops_with_its_defaults(chunk: int) -> None:
    P, A = _data(n=60, seed=2)
    expected = _pmi_loops(P, A, 28, 2.0, 0.6, 1e-7, None)
    got = sim.wpmi(torch.tensor(P), torch.tensor(A), chunk_elements=chunk)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_soft_wpmi_hand_computed_two_by_two() -> None:
    # N=2, M=2, U=1, top_k=1, a=1, lam=0: score = log(1 + 0.998 (softmax(P[winner]) - 1) + 1e-7)
    P = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    A = torch.tensor([[0.0], [5.0]], dtype=torch.float64)
    got = sim.soft_wpmi(P, A, top_k=1, a=1.0, lam=0.0)
    e = np.e / (np.e + 1)
    expected = [np.log(1 + 0.998 * (e - 1) + 1e-7), np.log(1 + 0.998 * (1 - e - 1) + 1e-7)]
    np.testing.assert_allclose(got.numpy()[0], expected, rtol=1e-12)


@pytest.mark.parametrize("chunk", [sim.DEFAULT_CHUNK, 3])
def test_cos_similarity_matches_loops(chunk: int) -> None:
    P, A = _data(seed=3)
    expected = np.zeros((A.shape[1], P.shape[1]))
    for u in range(A.shape[1]):
        for m in range(P.shape[1]):
            expected[u, m] = np.dot(A[:, u], P[:, m]) / np.sqrt(np.dot(A[:, u], A[:, u]) * np.dot(P[:, m], P[:, m]))
    got = sim.cos_similarity(torch.tensor(P), torch.tensor(A), chunk_elements=chunk)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("chunk", [sim.DEFAULT_CHUNK, 3])
def test_cos_similarity_cubed_matches_loops(chunk: int) -> None:
    P, A = _data(seed=4)
    A[:, 0] = 0.5  # a constant unit: its norm is clamped to min_norm

    def prepare(X: np.ndarray) -> np.ndarray:
        out = np.zeros_like(X)
        for j in range(X.shape[1]):
            col = (X[:, j] - X[:, j].mean()) ** 3
            out[:, j] = col / max(np.sqrt((col**2).sum()), 1e-3)
        return out

    expected = prepare(A).T @ prepare(P)
    got = sim.cos_similarity_cubed(torch.tensor(P), torch.tensor(A), chunk_elements=chunk)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-14)
    assert np.allclose(got.numpy()[0], 0.0)


def _rank_reorder_loops(P, A, p, top_fraction, scale_p, bases):
    n, U, M = P.shape[0], A.shape[1], P.shape[1]
    t = int(n * top_fraction)
    score = np.zeros((U, M))
    for u in range(U):
        order = sorted(range(n), key=lambda i: -A[i, u])[:t]
        acts = [A[i, u] for i in order]
        s = sorted(acts)
        for m in range(M):
            c = [P[i, m] for i in order]
            rank = [sorted(c).index(value) for value in c]
            err = np.mean([abs(acts[i] - s[rank[i]]) ** p for i in range(t)]) / bases[u]
            score[u, m] = -err / np.mean(c) ** scale_p
    return score


def _bases(A: np.ndarray, t: int, p: float, seed: int) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    bases = []
    for u in range(A.shape[1]):
        s = np.sort(np.sort(A[:, u])[::-1][:t])
        perms = [torch.randperm(t, generator=generator).numpy() for _ in range(5)]
        bases.append(float(np.mean([np.abs(s - s[perm]) ** p for perm in perms])))
    return bases


@pytest.mark.parametrize("chunk", [sim.DEFAULT_CHUNK, 4])
def test_rank_reorder_matches_loops(chunk: int) -> None:
    P, A = _data(n=200, seed=5)
    t = int(200 * 0.05)
    expected = _rank_reorder_loops(P, A, 3.0, 0.05, 0.5, _bases(A, t, 3.0, seed=7))
    got = sim.rank_reorder(torch.tensor(P), torch.tensor(A), seed=7, chunk_elements=chunk)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)
    again = sim.rank_reorder(torch.tensor(P), torch.tensor(A), seed=7)
    assert torch.allclose(got, again, rtol=1e-12)  # same seed, same bases, whatever the chunking


def test_bad_inputs_raise_one_clear_error() -> None:
    with pytest.raises(ParameterError, match="images"):
        sim.soft_wpmi(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ActivationError):
        sim.cos_similarity(torch.tensor([[float("nan")]]), torch.zeros(1, 1))
    with pytest.raises(ParameterError, match="selects no image"):
        sim.rank_reorder(torch.rand(10, 2), torch.rand(10, 2))
    with pytest.raises(ParameterError, match="unknown similarity"):
        sim.get_similarity("jensen_shannon")


def test_top_k_larger_than_probe_is_clamped() -> None:
    P, A = _data(n=12, seed=6)
    weights = [0.998 - (i / 100) * (0.998 - 0.97) for i in range(12)]
    expected = _pmi_loops(P, A, 12, 10.0, 1.0, 1e-7, weights)
    got = sim.soft_wpmi(torch.tensor(P), torch.tensor(A))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


def test_finite_check_handles_overflowing_sums_and_late_nans() -> None:
    big = torch.full((4, 2), 3e38)  # finite values whose float32 sum overflows
    P = torch.rand(4, 2, dtype=torch.float32)
    assert sim.cos_similarity(P, big).shape == (2, 2)
    late = torch.rand(4, 2)
    late[3, 1] = float("nan")
    with pytest.raises(ActivationError, match="activations contains NaN"):
        sim.wpmi(P, late, top_k=2)
