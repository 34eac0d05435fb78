"""Conversion sweep over the model registries (timm family representatives, torchvision classifiers).

Every model either converts, and then runs forward in train and eval mode with exactly one winner per block of U
consecutive features along the feature axis of every LWTA call, or ``convert`` raises one ``EncoderscopeError``
line. Models that also run on a smaller input are run on it too: each LWTA layer checks its widths, so competing
over a spatial or token axis (whose size changes with the image) would fail there. U is the largest of 4 and 2 that
divides every width (if none does, the error for 2 is the outcome). The default session runs the fixed sample of
:func:`tests.lwta.registry_models.sample_specs`; the rest is marked ``slow`` and skipped unless ``-m slow`` or
``ENCODERSCOPE_FULL_SWEEP=1`` asks for the whole sweep.
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
from tests.zoo.registry import full_sweep_asked

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


def _run_checked(model: nn.Module, batch: torch.Tensor, resized: torch.Tensor | None) -> dict[str, int]:
    """Forward passes in train then eval mode with every LWTA call checked, and in eval mode on ``resized``;
    returns the calls per layer of the eval pass on ``batch``."""
    layers = lwta_layers(model)
    calls = dict.fromkeys(layers, 0)
    full_blocks: list[int] = []
    handles = [layer.register_forward_hook(_checking_hook(calls, full_blocks, name)) for name, layer in layers.items()]
    try:
        with torch.no_grad():
            torch.manual_seed(0)  # dropout and stochastic depth in train mode
            model.train()(batch)
            calls.update(dict.fromkeys(calls, 0))
            model.eval()(batch)
            eval_calls = dict(calls)
            if resized is not None:
                model(resized)  # every LWTA checks its widths: a spatial or token axis would have changed size
    finally:
        for handle in handles:
            handle.remove()
    assert sum(full_blocks) > 0, "no block without zero inputs was checked"
    return eval_calls


def _smaller_input_the_model_accepts(model: nn.Module, example: torch.Tensor) -> torch.Tensor | None:
    """The example 64 px smaller per side (at least 32 px) if the original model runs on it, else ``None``."""
    *lead, height, width = example.shape
    size = (max(32, height - 64), max(32, width - 64))
    smaller = torch.randn((*lead, *size), generator=torch.Generator().manual_seed(2))
    try:
        with torch.no_grad():
            model.eval()(smaller.to(example.dtype))
    except Exception:  # a fixed-size model: there is no other size to compare with
        return None
    return smaller.to(example.dtype)


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
def test_registry_model_converts_with_one_winner_per_block_or_says_why(spec: str, record_property, request) -> None:
    if request.node.get_closest_marker("slow") and not full_sweep_asked(request.config):
        pytest.skip("full registry sweep: run with -m slow or ENCODERSCOPE_FULL_SWEEP=1")
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
    resized = _smaller_input_the_model_accepts(model, example)
    calls = _run_checked(sparse, batch.to(example.dtype), resized)
    assert calls and all(count > 0 for count in calls.values()), [name for name, count in calls.items() if not count]
    record_property("lwta_outcome", "converted")
    record_property("lwta_resized", resized is not None)
