"""Linking in Style: link a classifier's features to a generator's latent space (docs/methods/linking.md).

Steps: :func:`make_pairs` (latent, features) pairs -> :func:`fit_link` the linking network -> :func:`sweep_units`
unit visualisation -> :func:`quantify_sweep` per-part change scores -> :func:`counterfactuals`.

Example:
    >>> from encoderscope.linking import load_generator, as_classifier, make_pairs, fit_link
    >>> gen, clf = load_generator("synthetic:linear"), as_classifier("synthetic:linear")
    >>> pairs = make_pairs(gen, clf, n_per_class=30, progress=False)
    >>> round(fit_link(pairs.features, pairs.latents).test_r2, 3)
    1.0
"""

from encoderscope.linking.classifier import LinkClassifier, as_classifier
from encoderscope.linking.counterfactual import CounterfactualResult, counterfactual_loss, counterfactuals
from encoderscope.linking.metrics import part_changes, part_properties
from encoderscope.linking.network import LinkFit, LinkingNetwork, fit_link
from encoderscope.linking.pairs import PairedData, make_pairs
from encoderscope.linking.parts import PartModel, fit_mask_model, fit_part_model
from encoderscope.linking.quantify import QuantifyResult, quantify_sweep
from encoderscope.linking.tune import SweepResult, sweep_units, unit_ranges
from encoderscope.zoo.generators import (
    Generator,
    LatentGenerator,
    load_generator,
    load_stylegan_pickle,
    stylegan_generator,
    wrap_generator,
)

__all__ = [
    "CounterfactualResult",
    "Generator",
    "LatentGenerator",
    "LinkClassifier",
    "LinkFit",
    "LinkingNetwork",
    "PairedData",
    "PartModel",
    "QuantifyResult",
    "SweepResult",
    "as_classifier",
    "counterfactual_loss",
    "counterfactuals",
    "fit_link",
    "fit_mask_model",
    "fit_part_model",
    "load_generator",
    "load_stylegan_pickle",
    "make_pairs",
    "part_changes",
    "part_properties",
    "quantify_sweep",
    "stylegan_generator",
    "sweep_units",
    "unit_ranges",
    "wrap_generator",
]
