"""Fixtures of the linking tests: the synthetic generator and classifier, their pairs and a fitted link."""

from __future__ import annotations

import pytest

from encoderscope.linking.classifier import synthetic_classifier
from encoderscope.linking.network import fit_link
from encoderscope.linking.pairs import make_pairs
from encoderscope.zoo.generators import linear_generator


@pytest.fixture(scope="module")
def setup():
    """``(generator, classifier, pairs, link)`` of the synthetic linear pair (20 pairs per class)."""
    gen, clf = linear_generator(), synthetic_classifier()
    pairs = make_pairs(gen, clf, 20, progress=False)
    return gen, clf, pairs, fit_link(pairs.features, pairs.latents).network
