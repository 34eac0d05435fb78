"""Conversion sweep over the model registries (timm family representatives, torchvision classifiers).

Every model either converts, and then runs forward in train and eval mode with exactly one winner per block of U
consecutive features along the feature axis of every LWTA call, or ``convert`` raises one ``EncoderscopeError``
line. U is the largest of 4 and 2 that divides every width (if none does, the error for 2 is the outcome). The
default session runs the fixed sample of :func:`tests.lwta.registry_models.sample_specs`; the rest is ``slow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from encoderscope.errors import EncoderscopeError, ParameterError
from encoderscope.lwta import LWTA, convert, lwta_layers
from encoderscope.lwta.placement import example_input
from tests.lwta.registry_models import all_specs, build, sample_specs

CANDIDATE_U = (4, 2)
SAMPLE = set(sample_specs())


def _params() -> list:
    return [spec if spec in SAMPLE else pytest.param(spec, marks=pytest.mark.slow) for spec in all_specs()]


def _blocks(t: torch.Tensor, axis: int, U: int) -> torch.Tensor:
    """``(before, K/U, U, after)``: blocks of U consecutive features of ``axis`` on dim 2 (a view, no copy)."""
    shape = tuple(t.shape)
    return t.reshape(math.prod(shape[:axis]), shape[axis] // U, U, math.prod(shape[axis + 1 :]))


def assert_one_winner_per_block(layer: LWTA, x: torch.Tensor, out: torch.Tensor) -> int:
    """At most one non-zero output per block of U features, exactly one in every block without a zero input (a
    zero can win), and the winner passes its input value. Returns the number of blocks without a zero input."""
    axis = layer.axis % x.dim()
    assert layer.widths is not None and x.shape[axis] in layer.widths and x.shape[axis] % layer.U == 0
    x_blocks, out_blocks = _blocks(x, axis, layer.U), _blocks(out, axis, layer.U)
    nonzero = out_blocks != 0
    winners = nonzero.sum(2)
    full = (x_blocks != 0).all(2)
    assert int(winners.max()) <= 1
    assert bool((winners >= full).all())  # a block without zero inputs has its one winner
    error = torch.where(nonzero, (out_blocks - x_blocks).abs() - 1e-5 * x_blocks.abs(), 0.0)
    assert float(error.max()) <= 1e-6
    return int(full.sum())


def _checking_hook(calls: dict[str, int], full_blocks: list[int], name: str) -> Callable[..., None]:
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(module, LWTA)
        full_blocks.append(assert_one_winner_per_block(module, inputs[0], output))
        calls[name] += 1

    return hook


def _run_checked(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Forward passes in train then eval mode with every LWTA call checked; returns the eval calls per layer."""
    layers = lwta_layers(model)
    calls = dict.fromkeys(layers, 0)
    full_blocks: list[int] = []
    handles = [layer.register_forward_hook(_checking_hook(calls, full_blocks, name)) for name, layer in layers.items()]
    try:
        with torch.no_grad():
            torch.manual_seed(0)  # dropout and stochastic depth in train mode
            model.train()(x)
            calls.update(dict.fromkeys(calls, 0))
            model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    assert sum(full_blocks) > 0, "no block without zero inputs was checked"
    return calls


def _convert_with_the_largest_u(model: nn.Module) -> nn.Module:
    """``convert`` with the first of ``CANDIDATE_U`` that divides every width (one probe pass for most models)."""
    for index, U in enumerate(CANDIDATE_U):
        last = index == len(CANDIDATE_U) - 1
        try:
            return convert(model, U, seed=0)
        except ParameterError as error:
            if last or "does not divide" not in str(error):
                raise
    raise AssertionError("unreachable")


@pytest.mark.parametrize("spec", _params())
def test_registry_model_converts_with_one_winner_per_block_or_says_why(spec: str, record_property) -> None:
    model = build(spec)
    try:
        sparse = _convert_with_the_largest_u(model)
    except EncoderscopeError as error:
        message = str(error)
        assert message and "\n" not in message and message.startswith("convert: ")
        record_property("lwta_outcome", f"error: {message}")
        return
    example = example_input(model)
    batch = torch.cat([example, torch.randn(example.shape, generator=torch.Generator().manual_seed(1))])
    calls = _run_checked(sparse, batch.to(example.dtype))
    assert calls and all(count > 0 for count in calls.values()), [name for name, count in calls.items() if not count]
    record_property("lwta_outcome", "converted")
