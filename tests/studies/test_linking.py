"""The linking study in its quick form (real generators and efficientnet-lite0 from the offline zoo)."""

from __future__ import annotations

import json

import pytest

from encoderscope.studies import get_study


@pytest.mark.zoo
@pytest.mark.slow
def test_linking_quick(tmp_path) -> None:
    get_study("linking")(tmp_path, True)
    numbers = json.loads((tmp_path / "numbers.json").read_text())
    summary = (tmp_path / "summary.md").read_text()
    for name in ("eyes_samples.png", "eyes_strips.png", "eyes_parts.png", "eyes_cf.png", "faces_strips.png"):
        assert name in summary and (tmp_path / name).stat().st_size > 1000
    assert 0.0 <= numbers["eyes_classifier_test_accuracy"] <= 1.0
    assert 0.0 <= numbers["eyes_counterfactuals"]["success_rate"] <= 1.0
    assert numbers["faces_pairs"] == 10 and "test_r2" in numbers["faces_link_ols"]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["kind"] == "study" and run["details"]["study"] == "linking"
