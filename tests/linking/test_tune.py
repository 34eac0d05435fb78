"""Unit sweeps (values, images, effects) on the synthetic pair; choosing the units."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.linking.tune import SweepResult, select_units, step_values, sweep_units


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


def test_select_units(setup) -> None:
    _, _, pairs, link = setup
    assert select_units("0,2", link, pairs.features) == [0, 2] and select_units("all", link, pairs.features) is None
    top = select_units("top:3", link, pairs.features)
    assert len(top) == 3 and len(set(top)) == 3
    with pytest.raises(ParameterError, match="use '0,2', 'all' or 'top:K'"):
        select_units("some", link, pairs.features)
