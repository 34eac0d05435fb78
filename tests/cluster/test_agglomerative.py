import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from encoderscope.cluster import ward_fit


def test_ward_matches_sklearn_and_predicts_nearest_mean():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (30, 4)), rng.normal(8, 1, (30, 4)), rng.normal(-8, 1, (20, 4))])
    x = x.astype(np.float32)
    fit = ward_fit(x, 3)
    reference = AgglomerativeClustering(3, linkage="ward").fit_predict(x)
    assert adjusted_rand_score(reference, fit.labels) == 1.0
    assert np.allclose(fit.centers[fit.labels[0]], x[fit.labels == fit.labels[0]].mean(0), atol=1e-5)
    assert np.array_equal(fit.predict(x), fit.labels)
