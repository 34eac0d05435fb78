"""A synthetic generator/classifier pair whose true link is known (tests, demos, the CLI without weights).

``synthetic:linear`` (see :func:`~encoderscope.zoo.generators.linear_generator`) renders ``x = 0.5 + A w``. The
matching classifier's network (:func:`synthetic_network`) computes features ``r = B x + b0`` (a linear layer named
``features``) and logits with a head ``fc`` that classifies the latent recovered from ``r`` by the nearest class
mean. The true link is therefore ``w = P (r - c0)`` with ``P = pinv(B A)`` and ``c0 = B 0.5 + b0``:
:func:`true_link` returns it. The classifier itself is
:func:`encoderscope.linking.classifier.synthetic_classifier` (or ``as_classifier("synthetic:linear")``).

Example:
    >>> import torch
    >>> gen = linear_generator()
    >>> w = gen.sample(5, seed=0, truncation=0.7, cls=2)
    >>> logits = synthetic_network()(gen.synthesize(w))
    >>> tuple(logits.shape), int(logits.argmax(1)[0])
    ((5, 3), 2)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from encoderscope.zoo.generators import LatentGenerator, linear_generator


def _parts(generator: LatentGenerator, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    mixing = np.asarray(generator.info["mixing"], dtype=np.float64)
    readout = rng.standard_normal((n_features, mixing.shape[0])) / np.sqrt(mixing.shape[0])
    bias = rng.standard_normal(n_features) * 0.1
    return mixing, readout, bias


def true_link(
    generator: LatentGenerator | None = None, n_features: int = 12, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef (L, D), intercept (L,))`` of the exact features -> latent map of the synthetic pair."""
    generator = generator or linear_generator()
    mixing, readout, bias = _parts(generator, n_features, seed)
    projection = np.linalg.pinv(readout @ mixing)
    offset = readout @ np.full(mixing.shape[0], 0.5) + bias
    return projection, -projection @ offset


def synthetic_network(n_features: int = 12, seed: int = 0) -> nn.Sequential:
    """The network of the linear classifier matched to ``synthetic:linear``: ``flatten``, ``features`` (the feature
    layer) and the head ``fc``; its inputs are the generator's images, unnormalised and not resized."""
    generator = linear_generator()
    mixing, readout, bias = _parts(generator, n_features, seed)
    coef, intercept = true_link(generator, n_features, seed)
    means = np.asarray(generator.class_means)
    net = nn.Sequential()
    net.add_module("flatten", nn.Flatten())
    net.add_module("features", nn.Linear(mixing.shape[0], n_features))
    net.add_module("fc", nn.Linear(n_features, means.shape[0]))
    with torch.no_grad():
        net.features.weight.copy_(torch.as_tensor(readout))
        net.features.bias.copy_(torch.as_tensor(bias))
        # logits_k = m_k . w_hat - |m_k|^2 / 2 with w_hat = coef r + intercept
        net.fc.weight.copy_(torch.as_tensor(means @ coef))
        net.fc.bias.copy_(torch.as_tensor(means @ intercept - 0.5 * (means**2).sum(1)))
    return net
