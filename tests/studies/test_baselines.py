"""The baselines study in its quick form (random-init tiny ViT; the zoo variant is marked zoo)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from encoderscope.studies.baselines import BaselinesConfig, NaveEntry, region_count, run


def test_region_count_hand_case() -> None:
    labels = np.array([[0, 0, 1], [2, 0, 1], [2, 2, 0]])
    assert region_count(labels) == 4  # the lone 0 at the bottom right is its own piece


def _check(out, names) -> None:
    numbers = json.loads((out / "numbers.json").read_text())
    summary = (out / "summary.md").read_text()
    assert "CorLoc (%) per K" in summary and "scores.png" in summary
    assert (out / "scores.png").stat().st_size > 1000 and (out / "maps.png").stat().st_size > 1000
    assert set(numbers["results"]) == set(names)
    for by_k in numbers["results"].values():
        for scores in by_k.values():
            assert 0.0 <= scores["corloc"] <= 100.0 and 0.0 <= scores["miou"] <= 100.0
            assert scores["regions"] >= 1.0
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["details"]["quick"] is True and run_info["details"]["study"] == "baselines"


def test_quick_run_random_init(tmp_path) -> None:
    entry = NaveEntry("timm:vit_tiny_patch16_224", ["blocks.10", "blocks.11"], random_init=True)
    config = BaselinesConfig(n_images=2, ks=(3, 4), size=64, entries=[entry], gallery_images=1)
    out = run(tmp_path, quick=True, config=config)
    _check(out, [entry.name, "slic", "felzenszwalb"])
    numbers = json.loads((out / "numbers.json").read_text())
    # superpixels are matched to K: never more than K regions per map on average plus the split pieces
    assert numbers["results"]["slic"]["3"]["regions"] <= numbers["results"]["slic"]["4"]["regions"] + 2


@pytest.mark.zoo
def test_quick_run_zoo(tmp_path) -> None:
    out = run(tmp_path, quick=True)
    _check(out, [BaselinesConfig.quick().entries[0].name, "slic", "felzenszwalb"])
