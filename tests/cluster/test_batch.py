import numpy as np
import pytest
import torch

from encoderscope.cluster import fit_clusters, fit_clusters_batch, kmeans
from encoderscope.cluster.choose_k import K_RANGE, silhouette_scores
from encoderscope.errors import ActivationError, ParameterError
from tests.cluster.features import image_like


@pytest.mark.parametrize("method", ["kmeans", "pca"])
@pytest.mark.parametrize("k", [4, "auto"])
def test_each_image_as_fit_clusters_with_the_seed_of_its_index(method, k):
    x = image_like(4, seed=0)
    indices = [10, 3, 7, 0]
    out = fit_clusters_batch(torch.from_numpy(x), k, method=method, seed=2, indices=indices)
    assert out.errors == [None] * 4
    for j, index in enumerate(indices):
        reference = fit_clusters(x[j], k, method=method, seed=[2, index], backend="torch")
        fit = out.fits[j]
        assert fit is not None and fit.method == method and fit.k == reference.k
        assert np.array_equal(fit.labels, reference.labels)  # k-means: renumbered by decreasing size
        if method == "kmeans":
            assert fit.inertia == pytest.approx(reference.inertia, rel=1e-5)
            np.testing.assert_allclose(fit.centers, reference.centers, atol=1e-6)
            assert np.array_equal(fit.predict(x[j]), fit.labels)
        if k == "auto":
            assert fit.k_choice is not None and fit.k_choice.rule == "inertia-drop (reference)"
            assert fit.k_choice.k == reference.k_choice.k


def test_silhouette_rule_per_image():
    x = image_like(2, seed=1)
    out = fit_clusters_batch(x, "silhouette", seed=4, indices=[5, 6])
    for j, index in enumerate([5, 6]):
        labelings = [kmeans(x[j], k, seed=[4, index], backend="torch").labels for k in K_RANGE]
        scores = silhouette_scores(x[j], labelings, seed=4)
        fit = out.fits[j]
        assert fit is not None and fit.k_choice is not None
        assert fit.k_choice.scores == pytest.approx(scores) and fit.k == K_RANGE[int(np.argmax(scores))]


def test_images_that_cannot_be_clustered_get_the_per_image_error_and_the_others_go_on():
    x = image_like(4, seed=2)
    x[1, 3, 0] = np.nan
    parts = [x[0], x[1], x[2, :3], x[3, :50]]
    out = fit_clusters_batch(parts, 5)
    for part, error in zip(parts, out.errors, strict=True):
        if error is None:
            continue
        with pytest.raises(type(error)) as expected:
            fit_clusters(part, 5)
        assert str(error) == str(expected.value)
    assert [e is None for e in out.errors] == [True, False, False, True]
    assert isinstance(out.errors[1], ActivationError) and isinstance(out.errors[2], ParameterError)
    assert out.fits[0] is not None and out.fits[3] is not None and out.fits[3].labels.shape == (50,)
    few = fit_clusters_batch([x[0], x[0, :10]], "auto")
    assert few.fits[1] is None and "more than 10 positions" in str(few.errors[1])
    assert "channels" in str(fit_clusters_batch([x[0, :, :3]], 4, method="pca").errors[0])


def test_bad_calls():
    with pytest.raises(ParameterError, match="batched clustering supports"):
        fit_clusters_batch(np.ones((1, 12, 2), dtype=np.float32), 2, method="agglomerative")
    with pytest.raises(ParameterError, match="indices"):
        fit_clusters_batch(np.ones((2, 12, 2), dtype=np.float32), 2, indices=[0])
    with pytest.raises(ParameterError, match="at least 2"):
        fit_clusters_batch(np.ones((2, 12, 2), dtype=np.float32), 1)
