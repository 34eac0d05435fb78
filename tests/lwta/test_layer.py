"""Property tests of the stochastic LWTA layer (docs/methods/lwta.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from encoderscope.errors import ParameterError
from encoderscope.lwta.layer import LWTA, gumbel_noise, kl_loss


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("U", [2, 4, 8])
@pytest.mark.parametrize("training", [True, False])
def test_dense_one_winner_per_block_with_linear_value(U: int, training: bool) -> None:
    layer = LWTA(U, generator=_gen()).train(training)
    x = torch.randn(3, 5, 4 * U, generator=_gen(1))
    out = layer(x)
    blocks_out = out.reshape(3, 5, 4, U)
    assert ((blocks_out != 0).sum(-1) == 1).all()
    # the winner passes its linear value (negative values included), the others are zero
    nonzero = out != 0
    assert torch.allclose(out[nonzero], x[nonzero])
    assert (x[nonzero] < 0).any()


@pytest.mark.parametrize("U", [2, 4])
def test_conv_one_winner_per_channel_block_at_each_position(U: int) -> None:
    layer = LWTA(U, mode="conv", generator=_gen())
    x = torch.randn(2, 3 * U, 5, 6, generator=_gen(2))
    out = layer(x)
    blocks_out = out.reshape(2, 3, U, 5, 6)
    assert ((blocks_out != 0).sum(2) == 1).all()
    assert torch.allclose(out[out != 0], x[out != 0])


def test_winner_frequencies_follow_softmax_of_preactivations() -> None:
    h = torch.tensor([0.5, -1.0, 1.5, 0.25])  # no zero: a zero winner would look like a loser
    n = 20000
    layer = LWTA(4, generator=_gen(3))
    out = layer(h.expand(n, 4).clone())
    counts = (out != 0).sum(0).double().numpy()
    expected = torch.softmax(h.double(), 0).numpy() * n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 16.27  # chi-square, 3 degrees of freedom, p = 0.001


def test_conv_winner_frequencies_follow_softmax_too() -> None:
    h = torch.tensor([1.0, 0.0])
    layer = LWTA(2, mode="conv", generator=_gen(4))
    out = layer(h.view(1, 2, 1, 1).expand(1, 2, 100, 100).clone())
    freq = (out[0, 0] != 0).double().mean().item()
    assert freq == pytest.approx(torch.sigmoid(torch.tensor(1.0)).item(), abs=0.015)


def test_straight_through_gradients_flow_to_every_unit() -> None:
    x = torch.randn(8, 16, generator=_gen(5), requires_grad=True)
    layer = LWTA(4, generator=_gen())
    (layer(x) * torch.randn(8, 16, generator=_gen(6))).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # losers receive gradient through the relaxed softmax
    assert (x.grad.reshape(8, 4, 4) != 0).sum(-1).min() > 1


def test_u1_is_the_plain_activation() -> None:
    x = torch.randn(4, 6, generator=_gen(7))
    assert torch.equal(LWTA(1)(x), F.gelu(x))
    xc = torch.randn(2, 3, 4, 4, generator=_gen(8))
    assert torch.equal(LWTA(1, mode="conv")(xc), F.relu(xc))


def test_deterministic_and_zero_temperature_take_the_argmax() -> None:
    x = torch.randn(10, 12, generator=_gen(9))
    expected = F.one_hot(x.reshape(10, 3, 4).argmax(-1), 4).reshape(10, 12) * x
    assert torch.equal(LWTA(4, deterministic=True)(x), expected)
    assert torch.equal(LWTA(4, temp=0.0)(x), expected)


def test_defaults_per_mode_and_seeded_noise_is_repeatable() -> None:
    assert LWTA(2).temp_test == 0.01 and LWTA(2).eps == 1e-8 and LWTA(2).temp == 1.67
    assert LWTA(2, mode="conv").temp_test == 1.67 and LWTA(2, mode="conv").eps == 1e-5
    x = torch.randn(6, 8, generator=_gen(10))
    first = LWTA(2, generator=_gen(11))(x)
    second = LWTA(2, generator=_gen(11))(x)
    assert torch.equal(first, second)


def test_gumbel_noise_is_finite_even_for_tiny_eps() -> None:
    noise = gumbel_noise(torch.Size([1000]), 0.0, torch.zeros(1), _gen(12))
    assert torch.isfinite(noise).all()


def test_kl_to_the_uniform_prior_matches_hand_computation() -> None:
    h = torch.tensor([[2.0, 0.0, 0.0, -1.0]])
    layer = LWTA(4, kl_weight=0.5, generator=_gen()).train()
    layer(h)
    q = np.exp(h.numpy()[0]) / np.exp(h.numpy()[0]).sum()
    expected = float((q * (np.log(q) - np.log(0.25))).sum())
    layer(h)
    model = torch.nn.Sequential(layer)
    assert kl_loss(model).item() == pytest.approx(0.5 * expected, rel=1e-5)
    assert layer.kl().item() == 0.0  # reset after reading
    assert LWTA(4).train()(h) is not None and LWTA(4).kl().item() == 0.0


@pytest.mark.parametrize("kwargs", [{"U": 0}, {"U": 2, "mode": "sparse"}, {"U": 2, "temp": -1.0}])
def test_bad_parameters_raise(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        LWTA(**kwargs)


def test_u_must_divide_the_width() -> None:
    with pytest.raises(ParameterError, match="does not divide"):
        LWTA(3)(torch.zeros(2, 8))
    with pytest.raises(ParameterError, match="does not divide"):
        LWTA(3, mode="conv")(torch.zeros(1, 8, 2, 2))
    with pytest.raises(ParameterError, match="N, C, H, W"):
        LWTA(2, mode="conv")(torch.zeros(2, 8))


def test_explicit_axis_competes_over_that_axis_with_the_modes_defaults() -> None:
    x = torch.randn(2, 8, 3, 4, generator=_gen(13))
    layer = LWTA(4, mode="dense", axis=1, width=8, generator=_gen(14))
    out = layer(x)
    assert layer.temp_test == 0.01 and layer.eps == 1e-8
    assert ((out.reshape(2, 2, 4, 3, 4) != 0).sum(2) == 1).all()
    assert torch.allclose(out[out != 0], x[out != 0])
    head = LWTA(2, mode="conv", axis=-1, width=6, generator=_gen(15))
    assert ((head(torch.randn(5, 6, generator=_gen(16))).reshape(5, 3, 2) != 0).sum(-1) == 1).all()
    tokens = torch.randn(2, 5, 8, generator=_gen(17))
    assert torch.equal(LWTA(4, axis=-1, generator=_gen(18))(tokens), LWTA(4, generator=_gen(18))(tokens))


def test_width_is_checked_at_every_call() -> None:
    layer = LWTA(2, mode="conv", axis=1, width=(8, 16))
    assert layer(torch.randn(1, 16, 2, 2)).shape == (1, 16, 2, 2)
    with pytest.raises(ParameterError, match=r"expected 8 or 16 features on axis 1, got input shape \(1, 4, 8, 8\)"):
        layer(torch.zeros(1, 4, 8, 8))
    with pytest.raises(ParameterError, match="expected 6 features on axis -1"):
        LWTA(1, width=6)(torch.zeros(2, 8))
    with pytest.raises(ParameterError, match="axis 2 does not exist"):
        LWTA(2, axis=2)(torch.zeros(2, 8))


@pytest.mark.parametrize("kwargs", [{"axis": 1.0}, {"width": 0}, {"width": ()}, {"width": (8, True)}])
def test_bad_axis_or_width_raise(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        LWTA(2, **kwargs)
