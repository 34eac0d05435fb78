import numpy as np
import pytest

from encoderscope.cluster import choose_k, inertia_drop_k
from encoderscope.errors import ParameterError


def test_inertia_drop_formula_on_a_hand_made_sequence():
    # k = 3..10; relative drops r_j = (I[j+1] - I[j]) / I[j]:
    # 100->50: -0.5, 50->45: -0.1, 45->44: -0.0222, 44->30: -0.318, 30->20: -0.333, 20->10: -0.5, 10->5: -0.5
    inertias = [100.0, 50.0, 45.0, 44.0, 30.0, 20.0, 10.0, 5.0]
    # the largest (least negative) drop is j = 2, so the reference returns K = 2 + 2 = 4 (i.e. k_j - 1)
    assert inertia_drop_k(inertias) == 4


def test_inertia_drop_needs_eight_values():
    with pytest.raises(ParameterError, match=r"k = 3\.\.10"):
        inertia_drop_k([3.0, 2.0])


def _blobs(k: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 20, (k, 5))
    return (centres[np.arange(400) % k] + rng.normal(0, 0.3, (400, 5))).astype(np.float32)


def test_auto_applies_the_reference_rule_to_kmeans_inertias():
    x = _blobs(5)
    choice = choose_k(x, "auto", seed=0)
    assert choice.rule == "inertia-drop (reference)"
    assert choice.ks == list(range(3, 11))
    assert choice.k == inertia_drop_k(choice.scores)


def test_silhouette_finds_well_separated_blobs():
    choice = choose_k(_blobs(6), "silhouette", seed=0)
    assert choice.rule == "silhouette"
    assert choice.k == 6


def test_too_few_positions_and_unknown_rule():
    with pytest.raises(ParameterError, match="more than 10 positions"):
        choose_k(np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32))
    with pytest.raises(ParameterError, match="unknown K rule"):
        choose_k(_blobs(3), "elbow")
