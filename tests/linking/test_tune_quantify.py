"""Unit sweeps (values, images, effects) and per-part quantification on the synthetic pair."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.linking.generators import linear_generator
from encoderscope.linking.network import fit_link
from encoderscope.linking.pairs import make_pairs
from encoderscope.linking.parts import fit_mask_model, fit_part_model
from encoderscope.linking.quantify import quantify_sweep
from encoderscope.linking.synthetic import synthetic_classifier
from encoderscope.linking.tune import SweepResult, step_values, sweep_units


@pytest.fixture(scope="module")
def setup():
    gen, clf = linear_generator(), synthetic_classifier()
    pairs = make_pairs(gen, clf, 20, progress=False)
    return gen, clf, pairs, fit_link(pairs.features, pairs.latents).network


def test_step_values_min_mid_max() -> None:
    np.testing.assert_allclose(step_values(np.array([0.0, -1.0]), np.array([2.0, 1.0]), 3), [[0, 1, 2], [-1, 0, 1]])
    with pytest.raises(ParameterError):
        step_values(np.zeros(1), np.ones(1), 1)


def test_sweep_sets_unit_and_ranks(setup, tmp_path) -> None:
    gen, clf, pairs, link = setup
    feats = pairs.features[:3]
    sweep = sweep_units(link, gen, clf, feats, units=[0, 4], n_steps=3, progress=False)
    lo, hi = feats.min(0), feats.max(0)
    np.testing.assert_allclose(sweep.values[1], [lo[4], (lo[4] + hi[4]) / 2, hi[4]], rtol=1e-5)
    # the latent of step 2 is the link applied to r with r[4] = max
    modified = feats[1].copy()
    modified[4] = hi[4]
    np.testing.assert_allclose(sweep.latents[1, 1, 2], link.predict(modified[None])[0], atol=1e-5)
    ranking = sweep.ranking()
    assert ranking[0]["pixel_change"] >= ranking[1]["pixel_change"]
    assert np.isfinite(sweep.logit_change).all() and np.isfinite(sweep.unit_cycle).all()
    sweep.save(tmp_path)
    assert (tmp_path / "strips" / "unit_0000.png").exists() and (tmp_path / "ranking.csv").exists()
    back = SweepResult.load(tmp_path)
    np.testing.assert_array_equal(back.images, sweep.images)
    assert back.subset([4]).units.tolist() == [4]


def test_quantify_unsupervised_and_masks(setup, tmp_path) -> None:
    gen, clf, pairs, link = setup
    sweep = sweep_units(link, gen, clf, pairs.features[:2], units=[0, 1, 2], progress=False)
    flat = sweep.images.reshape(-1, 16, 16, 3)
    parts = fit_part_model(flat, k=2, source="pixels", seed=0)
    result = quantify_sweep(sweep, parts, min_area=5, progress=False)
    assert len(result.rows) == 3 * 2 * 2 and result.labels.shape == (2, 3, 3, 16, 16)
    result.save(tmp_path)
    assert (tmp_path / "units" / "unit_0001.csv").exists() and (tmp_path / "selective_units.csv").exists()
    masks = np.zeros(flat.shape[:3], np.int64)
    masks[:, :, 8:] = 1
    model = fit_mask_model(flat, masks, ["left", "right"], source="pixels")
    predicted = model.predict(flat)
    assert (predicted == masks).mean() > 0.95  # position features separate the halves
