"""Linking network: the synthetic linear generator's true link is recovered; methods, scores, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoderscope.errors import ParameterError
from encoderscope.linking.classifier import synthetic_classifier
from encoderscope.linking.network import RIDGE_ALPHAS, LinkingNetwork, fit_link, mse
from encoderscope.linking.pairs import make_pairs
from encoderscope.linking.synthetic import true_link
from encoderscope.zoo.generators import linear_generator


def test_ols_recovers_true_link() -> None:
    gen = linear_generator()
    pairs = make_pairs(gen, synthetic_classifier(), 40, progress=False)
    fit = fit_link(pairs.features, pairs.latents, method="ols", seed=0)
    coef, intercept = true_link(gen)
    np.testing.assert_allclose(fit.network.coef, coef, atol=1e-3)
    np.testing.assert_allclose(fit.network.intercept, intercept, atol=1e-3)
    assert fit.test_r2 > 0.9999 and fit.n_test == 24


def test_scores_hand_case() -> None:
    assert mse(np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]])) == pytest.approx(2.5)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = x @ rng.normal(size=(4, 2)) + rng.normal(size=(300, 2))  # noise of variance 1
    fit = fit_link(x, y, method="ridge", seed=0)
    assert 0.2 < fit.test_r2 < 0.95 and fit.test_mse == pytest.approx(1.0, abs=0.3)


@pytest.mark.parametrize("method", ["ridge", "ridge-cv", "elasticnet", "mlp"])
def test_methods_save_load(tmp_path, method) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = np.tanh(x[:, :3])
    fit = fit_link(x, y, method=method, seed=0, epochs=30)
    fit.save(tmp_path)
    back = LinkingNetwork.load(tmp_path)
    np.testing.assert_allclose(back.predict(x[:4]), fit.network.predict(x[:4]), atol=1e-6)
    torch_out = back.torch_map(torch.as_tensor(x[:4])).detach().numpy()
    np.testing.assert_allclose(torch_out, fit.network.predict(x[:4]), atol=1e-5)
    assert (tmp_path / "scores.json").exists() and (tmp_path / "run.json").exists()


def test_ridge_cv_generalises_where_ols_interpolates() -> None:
    """With as many training pairs as features, OLS fits the noise; ridge-cv picks a strength from its grid and
    predicts held-out pairs far better."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 80))
    y = x[:, :3] @ rng.normal(size=(3, 2)) + rng.normal(size=(100, 2))
    ols = fit_link(x, y, method="ols", seed=0)
    cv = fit_link(x, y, method="ridge-cv", seed=0)
    assert ols.train_r2 > 0.999 and ols.test_r2 < 0.3
    assert cv.test_r2 > ols.test_r2 + 0.2
    assert cv.config["alpha"] in RIDGE_ALPHAS


def test_ols_with_fewer_training_pairs_than_features_warns_once(capsys) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 50)), rng.normal(size=(60, 2))
    fit_link(x, y, method="ols", seed=0)  # 48 training pairs for 50 features
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and len(err.strip().splitlines()) == 1
    assert "48 training pairs for 50 features" in err and "ridge-cv" in err
    fit_link(x, y, method="ridge-cv", seed=0)
    fit_link(x[:, :10], y, method="ols", seed=0)  # 48 pairs for 10 features: well determined
    assert capsys.readouterr().err == ""


def test_bad_inputs() -> None:
    with pytest.raises(ParameterError, match="unknown method"):
        fit_link(np.zeros((5, 2)), np.zeros((5, 1)), method="svm")
    with pytest.raises(ParameterError, match="NaN"):
        fit_link(np.full((5, 2), np.nan), np.zeros((5, 1)))
