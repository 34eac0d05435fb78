"""Paired data: advancing RNG (no duplicates), correct-classification filter, npz round trip."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.linking.classifier import synthetic_classifier
from encoderscope.linking.pairs import PairedData, batch_seed, make_pairs
from encoderscope.zoo.generators import linear_generator


def test_rng_advances_no_duplicates() -> None:
    pairs = make_pairs(linear_generator(), synthetic_classifier(), 40, batch_size=8, progress=False)
    assert len(np.unique(pairs.latents.round(6), axis=0)) == len(pairs) == 120
    assert batch_seed(0, 1, 0) != batch_seed(0, 1, 1) != batch_seed(0, 2, 1)


def test_filter_keeps_only_correct() -> None:
    gen, clf = linear_generator(), synthetic_classifier()
    clf.class_names = ("class1", "class0", "class2")  # swapped: class0/1 can never be right
    pairs = make_pairs(gen, clf, 4, classes=[2], progress=False)
    assert pairs.meta["filter_correct"] and (pairs.predictions == 2).all()
    with pytest.raises(ParameterError, match="no sample"):
        make_pairs(gen, clf, 2, classes=[0], class_map={0: 2}, max_tries_factor=1, progress=False)


def test_save_load_round_trip(tmp_path) -> None:
    pairs = make_pairs(linear_generator(), synthetic_classifier(), 3, progress=False)
    path = pairs.save(tmp_path / "p.npz")
    back = PairedData.load(path)
    np.testing.assert_array_equal(back.latents, pairs.latents)
    assert back.meta["seed"] == 0 and back.meta["generator"] == "synthetic:linear"
    with pytest.raises(ParameterError, match="no paired data"):
        PairedData.load(tmp_path / "missing.npz")
