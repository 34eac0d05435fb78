"""Clustering of activation positions: k-means (faiss / torch / scikit-learn back-ends), PCA, Ward, choice of K.

:func:`fit_clusters` clusters one set of positions; :func:`fit_clusters_batch` clusters every image of a batch at
once on the features' device (batched k-means and PCA in torch, the NAVE back-end ``"auto"``);
:func:`assign_labels` labels new positions on their device.

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
from encoderscope.cluster.assign import assign_labels
from encoderscope.cluster.batch import BatchClustering, fit_clusters_batch
from encoderscope.cluster.batched_kmeans import BatchKMeansFit, kmeans_batch
from encoderscope.cluster.batched_pca import BatchPCAFit, pca_batch
from encoderscope.cluster.choose_k import K_RANGE, KChoice, choose_k, inertia_drop_k
from encoderscope.cluster.kmeans import BACKENDS, DEFAULT_N_INIT, KMeansFit, kmeans, nearest_center
from encoderscope.cluster.pca import PCAFit, pca_fit

__all__ = [
    "AUTO_K",
    "BACKENDS",
    "DEFAULT_N_INIT",
    "K_RANGE",
    "METHODS",
    "BatchClustering",
    "BatchKMeansFit",
    "BatchPCAFit",
    "Clustering",
    "KChoice",
    "KMeansFit",
    "PCAFit",
    "WardFit",
    "as_features",
    "assign_labels",
    "check_k",
    "choose_k",
    "fit_clusters",
    "fit_clusters_batch",
    "inertia_drop_k",
    "kmeans",
    "kmeans_batch",
    "nearest_center",
    "parse_k",
    "pca_batch",
    "pca_fit",
    "ward_fit",
]
