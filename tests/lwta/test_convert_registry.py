"""Conversion sweep over the model registries (timm family representatives, torchvision classifiers).

Every model either converts, and then runs forward in train and eval mode with exactly one winner per block of U
consecutive features along the feature axis of every LWTA call, or ``convert`` raises one ``EncoderscopeError``
line. U is the largest of 4 and 2 that divides every width. The default session runs the fixed sample of
:func:`tests.lwta.registry_models.sample_specs`; the rest is marked ``slow``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from encoderscope.errors import EncoderscopeError
from encoderscope.lwta import LWTA, convert, lwta_layers
from encoderscope.lwta.placement import example_input, plan
from tests.lwta.registry_models import all_specs, build, sample_specs

CANDIDATE_U = (4, 2)
SAMPLE = set(sample_specs())


def _params() -> list:
    return [spec if spec in SAMPLE else pytest.param(spec, marks=pytest.mark.slow) for spec in all_specs()]


def assert_one_winner_per_block(layer: LWTA, x: torch.Tensor, out: torch.Tensor) -> int:
    """At most one non-zero output per block of U features, exactly one in every block without a zero input (a
    zero can win), and the winner passes its input value. Returns the number of blocks without a zero input."""
    axis = layer.axis % x.dim()
    width = x.shape[axis]
    assert layer.widths is not None and width in layer.widths and width % layer.U == 0
    x_blocks = x.movedim(axis, -1).reshape(-1, width // layer.U, layer.U)
    out_blocks = out.movedim(axis, -1).reshape(-1, width // layer.U, layer.U)
    winners = (out_blocks != 0).sum(-1)
    full = (x_blocks != 0).all(-1)
    assert int(winners.max()) <= 1
    assert bool((winners[full] == 1).all())
    nonzero = out_blocks != 0
    torch.testing.assert_close(out_blocks[nonzero], x_blocks[nonzero], rtol=1e-5, atol=1e-6)
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


@pytest.mark.parametrize("spec", _params())
def test_registry_model_converts_with_one_winner_per_block_or_says_why(spec: str, record_property) -> None:
    model = build(spec)
    try:
        sites = plan(model)
        widths = {width for site in sites for width in site.widths}
        U = next((u for u in CANDIDATE_U if all(w % u == 0 for w in widths)), CANDIDATE_U[0])
        sparse = convert(model, U, seed=0)
    except EncoderscopeError as error:
        message = str(error)
        assert message and "\n" not in message and message.startswith("convert: ")
        record_property("lwta_outcome", "error")
        return
    example = example_input(model)
    batch = torch.cat([example, torch.randn(example.shape, generator=torch.Generator().manual_seed(1))])
    calls = _run_checked(sparse, batch.to(example.dtype))
    assert set(calls) == {site.name for site in sites}
    assert all(count > 0 for count in calls.values()), [name for name, count in calls.items() if not count]
    record_property("lwta_outcome", "converted")
