import numpy as np
import pytest
import torch

from encoderscope.cluster import pca_batch, pca_fit
from encoderscope.errors import ParameterError
from tests.cluster.features import image_like


def test_matches_the_per_image_pca_back_end():
    x = image_like(5, seed=0)
    fit = pca_batch(torch.from_numpy(x), 4)
    for j in range(5):
        reference = pca_fit(x[j], 4)
        assert np.array_equal(fit.labels[j].numpy(), reference.labels)
        # same orientation of the axes (largest coordinate positive), same mean and variances
        np.testing.assert_allclose(fit.components[j].numpy(), reference.components, atol=1e-5)
        np.testing.assert_allclose(fit.mean[j].numpy(), reference.mean, atol=1e-6)
        np.testing.assert_allclose(fit.explained_variance[j].numpy(), reference.explained_variance, rtol=1e-5)


def test_masked_mixed_sizes_in_small_chunks_equal_the_unpadded_result():
    x = image_like(3, seed=1)
    sizes = [144, 30, 77]
    parts = [x[i, :n] for i, n in enumerate(sizes)]
    fit = pca_batch(parts, 3, chunk_elements=1)  # one image per chunk
    for j, n in enumerate(sizes):
        reference = pca_fit(parts[j], 3)
        assert np.array_equal(fit.labels[j, :n].numpy(), reference.labels)
        assert (fit.labels[j, n:] == -1).all()
        np.testing.assert_allclose(fit.components[j].numpy(), reference.components, atol=1e-5)


def test_hand_computed_case_and_bad_k():
    x = torch.tensor([[[4.0, 0], [-4, 0], [0, 1], [0, -1], [3, 2], [-3, -2]]])
    assert pca_batch(x, 2).labels.tolist() == [[0, 0, 1, 1, 0, 0]]
    with pytest.raises(ParameterError, match="channels"):
        pca_batch(torch.rand(1, 20, 3), 4)
    with pytest.raises(ParameterError, match="smallest image"):
        pca_batch([torch.rand(20, 3), torch.rand(2, 3)], 3)
