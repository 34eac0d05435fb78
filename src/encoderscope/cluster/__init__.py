"""Clustering of activation positions: k-means (faiss / torch / scikit-learn back-ends), PCA, Ward, choice of K.

Example:
    >>> import numpy as np
    >>> from encoderscope.cluster import fit_clusters
    >>> x = np.random.default_rng(0).normal(size=(50, 8)).astype("float32")
    >>> fit_clusters(x, 3, seed=0).labels.shape
    (50,)
"""

from encoderscope.cluster._checks import AUTO_K, as_features, check_k, parse_k
from encoderscope.cluster.agglomerative import WardFit, ward_fit
from encoderscope.cluster.api import METHODS, Clustering, fit_clusters
from encoderscope.cluster.choose_k import K_RANGE, KChoice, choose_k, inertia_drop_k
from encoderscope.cluster.kmeans import BACKENDS, DEFAULT_N_INIT, KMeansFit, kmeans, nearest_center
from encoderscope.cluster.pca import PCAFit, pca_fit

__all__ = [
    "AUTO_K",
    "BACKENDS",
    "DEFAULT_N_INIT",
    "K_RANGE",
    "METHODS",
    "Clustering",
    "KChoice",
    "KMeansFit",
    "PCAFit",
    "WardFit",
    "as_features",
    "check_k",
    "choose_k",
    "fit_clusters",
    "inertia_drop_k",
    "kmeans",
    "nearest_center",
    "parse_k",
    "pca_fit",
    "ward_fit",
]
