import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from encoderscope.cluster import kmeans
from encoderscope.errors import ActivationError, ParameterError


def blobs(seed: int = 0, n: int = 60, d: int = 16, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (k, d))
    truth = rng.integers(0, k, n)
    return (centres[truth] + rng.normal(0, 0.5, (n, d))).astype(np.float32), truth


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_backends_agree_with_sklearn_reference(backend):
    x, truth = blobs()
    reference = kmeans(x, 4, seed=0, backend="sklearn")
    fit = kmeans(x, 4, seed=0, backend=backend)
    assert adjusted_rand_score(reference.labels, fit.labels) == 1.0
    assert adjusted_rand_score(truth, fit.labels) == 1.0
    assert fit.inertia == pytest.approx(reference.inertia, rel=1e-4)
    assert fit.labels.min() >= 0 and fit.labels.max() < 4


def test_inertia_matches_its_definition():
    x, _ = blobs(1)
    fit = kmeans(x, 3, seed=2)
    expected = ((x - fit.centers[fit.labels]) ** 2).sum()
    assert fit.inertia == pytest.approx(float(expected), rel=1e-4)


def test_faiss_and_torch_start_from_the_same_seeded_centres():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    a = kmeans(x, 5, seed=7, n_init=2, backend="faiss")
    b = kmeans(x, 5, seed=7, n_init=2, backend="torch")
    assert adjusted_rand_score(a.labels, b.labels) > 0.99
    assert a.inertia == pytest.approx(b.inertia, rel=1e-3)


def test_seed_makes_runs_repeatable_and_restarts_do_not_worsen():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    assert np.array_equal(kmeans(x, 6, seed=1).labels, kmeans(x, 6, seed=1).labels)
    assert kmeans(x, 6, seed=1, n_init=5).inertia <= kmeans(x, 6, seed=1, n_init=1).inertia + 1e-6


def test_predict_assigns_nearest_centre():
    x, _ = blobs(5)
    fit = kmeans(x, 4, seed=0)
    assert np.array_equal(fit.predict(x), fit.labels)


def test_duplicate_points_fill_every_cluster_index_range():
    x = np.zeros((10, 3), dtype=np.float32)
    fit = kmeans(x, 3, seed=0)
    assert fit.labels.min() >= 0 and fit.labels.max() < 3 and fit.inertia == 0.0


@pytest.mark.parametrize(
    ("k", "error"), [(1, "at least 2"), (0, "at least 2"), (11, "larger than the number of positions")]
)
def test_bad_k_is_one_clear_error(k, error):
    with pytest.raises(ParameterError, match=error):
        kmeans(np.ones((10, 2), dtype=np.float32), k)


def test_non_finite_features_are_an_activation_error():
    x = np.ones((10, 2), dtype=np.float32)
    x[3, 1] = np.nan
    x[4, 0] = np.inf
    with pytest.raises(ActivationError, match="NaN or Inf values at 2 of 10 positions"):
        kmeans(x, 2)


def test_unknown_backend():
    with pytest.raises(ParameterError, match="back-end"):
        kmeans(np.ones((10, 2), dtype=np.float32), 2, backend="cuml")
