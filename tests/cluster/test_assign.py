import numpy as np
import pytest
import torch

from encoderscope.cluster import assign_labels, fit_clusters
from encoderscope.errors import ActivationError
from tests.cluster.features import image_like


@pytest.mark.parametrize("method", ["kmeans", "pca", "agglomerative"])
def test_equals_predict_in_any_chunking(method):
    x = image_like(3, seed=0)
    fit = fit_clusters(x[0], 4, method=method, seed=0)
    new = torch.from_numpy(x[1:].reshape(-1, x.shape[-1]))
    expected = fit.predict(new)
    assert np.array_equal(assign_labels(fit, new).numpy(), expected)
    assert np.array_equal(assign_labels(fit, new, chunk_rows=7).numpy(), expected)


def test_bad_features():
    fit = fit_clusters(image_like(1, seed=1)[0], 3)
    bad = torch.zeros(5, 48)
    bad[2, 1] = float("inf")
    with pytest.raises(ActivationError, match="NaN or Inf values at 1 of 5 positions"):
        assign_labels(fit, bad)
    with pytest.raises(ActivationError, match="2-D"):
        assign_labels(fit, torch.zeros(2, 5, 48))
