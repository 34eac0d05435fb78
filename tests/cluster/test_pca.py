import numpy as np
import pytest
from sklearn.decomposition import PCA

from encoderscope.cluster import pca_fit
from encoderscope.errors import ParameterError


def test_labels_are_argmax_abs_score_like_sklearn_pca():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(120, 6)) * np.array([5, 3, 2, 1, 0.5, 0.1])).astype(np.float32)
    fit = pca_fit(x, 3)
    reference = np.abs(PCA(n_components=3).fit_transform(x)).argmax(axis=1)
    assert np.array_equal(fit.labels, reference)
    assert np.array_equal(fit.predict(x), fit.labels)


def test_hand_computed_case():
    x = np.array([[4, 0], [-4, 0], [0, 1], [0, -1], [3, 2], [-3, -2]], dtype=np.float32)
    # mean 0; first axis is x (variance 50/5), second is y; |score| argmax: x wins for rows 0,1,4,5
    assert pca_fit(x, 2).labels.tolist() == [0, 0, 1, 1, 0, 0]


def test_k_above_channels():
    with pytest.raises(ParameterError, match="channels"):
        pca_fit(np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32), 4)


def test_axes_are_oriented_with_their_largest_coordinate_positive():
    rng = np.random.default_rng(1)
    fit = pca_fit((rng.normal(size=(50, 5)) * np.array([4, 3, 2, 1, 0.5])).astype(np.float32), 3)
    top = np.take_along_axis(fit.components, np.abs(fit.components).argmax(1)[:, None], 1)
    assert (top > 0).all()
    np.testing.assert_allclose(np.linalg.norm(fit.components, axis=1), 1.0, rtol=1e-5)
