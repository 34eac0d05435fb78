import numpy as np
import pytest

from encoderscope.cluster import fit_clusters
from encoderscope.errors import ParameterError


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    sizes = [50, 30, 20]
    parts = [rng.normal(10 * i, 0.2, (n, 12)) for i, n in enumerate(sizes)]
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_labels_numbered_by_decreasing_size(method):
    fit = fit_clusters(_data(), 3, method=method, seed=0)
    assert np.bincount(fit.labels).tolist() == [50, 30, 20]
    assert np.array_equal(fit.predict(_data()), fit.labels)


def test_pca_method_and_auto_k_are_recorded():
    fit = fit_clusters(_data(), "auto", method="pca", seed=0)
    assert fit.k_choice is not None and fit.k_choice.rule == "inertia-drop (reference)"
    assert fit.k == fit.k_choice.k and fit.labels.max() < fit.k


@pytest.mark.parametrize("k", ["five", 1, "1", True])
def test_bad_k_values(k):
    with pytest.raises(ParameterError):
        fit_clusters(_data(), k)


def test_unknown_method():
    with pytest.raises(ParameterError, match="unknown clustering method"):
        fit_clusters(_data(), 3, method="dbscan")
