"""Per-unit activations ``(B, C)`` from a :class:`LayerOutput`, for dissection and linking.

Modes: ``mean`` / ``max`` over the spatial grid (conv channels; for token outputs over the patch tokens), ``cls``
(the CLS token, as CLIP-Dissect and DISCOVER do for ViTs), ``patch_mean`` / ``patch_max`` (patch tokens only, never
the registers), ``registers`` (mean of the register tokens). Vector outputs are returned as they are.

Example:
    >>> import torch
    >>> from encoderscope.capture.outputs import LayerOutput
    >>> out = LayerOutput(grid=torch.arange(8.0).reshape(1, 2, 2, 2), kind="grid")
    >>> unit_activations(out, "mean").tolist()
    [[1.5, 5.5]]
"""

from __future__ import annotations

from typing import Literal

import torch

from encoderscope.capture.outputs import LayerOutput
from encoderscope.errors import ParameterError

PoolMode = Literal["mean", "max", "cls", "patch_mean", "patch_max", "registers"]
POOL_MODES = ("mean", "max", "cls", "patch_mean", "patch_max", "registers")


def unit_activations(output: LayerOutput, mode: str = "mean") -> torch.Tensor:
    """Reduce a layer output to one value per unit and image (see the module docstring)."""
    if mode not in POOL_MODES:
        raise ParameterError(f"unknown pooling mode {mode!r}; choose one of {', '.join(POOL_MODES)}")
    if output.vector is not None:
        return output.vector
    if mode == "cls":
        if output.prefix is None or "cls" not in output.prefix_kinds:
            raise ParameterError("pooling 'cls' needs a token output with a CLS token; use 'mean' or 'max'")
        return output.prefix[:, output.prefix_kinds.index("cls")]
    if mode == "registers":
        registers = output.registers
        if registers is None:
            raise ParameterError("pooling 'registers' needs a token output with register tokens")
        return registers.mean(dim=1)
    if output.grid is None:
        raise ParameterError(f"layer output of kind {output.kind!r} has no grid to pool")
    flat = output.grid.flatten(2)
    return flat.amax(dim=2) if mode in ("max", "patch_max") else flat.mean(dim=2)
