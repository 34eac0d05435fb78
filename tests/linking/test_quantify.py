"""Per-part quantification of unit sweeps on the synthetic pair (unsupervised parts and masks)."""

from __future__ import annotations

import numpy as np

from encoderscope.linking.parts import fit_mask_model, fit_part_model
from encoderscope.linking.quantify import quantify_sweep
from encoderscope.linking.tune import sweep_units


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
