"""Counterfactuals: the loss on a hand case, flips on the synthetic pair, batch equals single runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoderscope.linking.classifier import synthetic_classifier
from encoderscope.linking.counterfactual import counterfactual_loss, counterfactuals
from encoderscope.linking.network import LinkingNetwork, fit_link
from encoderscope.linking.pairs import make_pairs
from encoderscope.zoo.generators import linear_generator


def test_loss_hand_case() -> None:
    link = LinkingNetwork("ols", coef=np.eye(2, dtype=np.float32), intercept=np.zeros(2, np.float32))
    r = torch.tensor([[1.0, 0.0]])
    s = torch.tensor([[0.0, -1.0]])  # r - s = (1, 1)

    def head(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0], 2 * x[:, 1]], dim=1)

    loss = counterfactual_loss(r, s, torch.tensor([0]), torch.tensor([1]), head, link)
    expected = -2.0 + 0.6 * 1.0 - 10.0 * (1.0 / np.sqrt(2.0))
    assert float(loss[0]) == pytest.approx(expected, rel=1e-6)


def test_flips_and_batch_equals_single(tmp_path) -> None:
    gen, clf = linear_generator(), synthetic_classifier()
    pairs = make_pairs(gen, clf, 10, progress=False)
    link = fit_link(pairs.features, pairs.latents).network
    rows = np.flatnonzero(pairs.labels == 0)[:2]
    both = counterfactuals(pairs.features[rows], [0, 0], [1, 2], link, clf, gen, max_steps=200, progress=False)
    assert both.success.all() and (both.final_prediction == [1, 2]).all()
    single = counterfactuals(pairs.features[rows[:1]], [0], [1], link, clf, gen, max_steps=200, progress=False)
    assert single.steps[0] == both.steps[0]
    assert both.summary()["success_rate"] == 1.0 and (both.latent_distance > 0).all()
    both.save(tmp_path)
    assert (tmp_path / "before_after.png").exists() and (tmp_path / "summary.json").exists()
