"""How a model takes its input, decided by probe forward passes: any size padded to a multiple, or one fixed size.

:func:`probe_model` runs the model (batch of one, random pixels, up to its deepest candidate block only) and
returns a :class:`Probed`:

1. At the native square size ``S x S`` it records which depth candidates give a spatial output (the others are
   dropped: a depth index always means a block or stage with a grid) and the deepest grid's stride.
2. The padding multiple follows the model's real constraint. A model that declares windows (``window_size`` /
   ``grid_size`` / ``partition_size`` of its blocks) needs ``m`` = window times the stride at which it runs (with
   the largest of the patch size, the deepest grid's stride and the timm ``feature_info`` reductions; Swin-T:
   4 x 7 x 2^3 = 224). Any other model first gets its patch size (1 for convolutional models: no padding, as the
   NAVE reference pads only ViTs), then ``m`` = the largest stride above, for stride-sensitive models (DLA, HRNet,
   anti-aliased ResNets). ``m, 2m, 4m, 8m`` (up to the native size) follow. Each is tried on a non-square input
   ``S'`` high and wider by two cells of the coarsest stride (so that no stage sees the native grid again); the
   first that runs is kept: images keep their aspect ratio and are zero-padded to it.
3. When none runs, the model takes only its native size: images are resized to ``S x S`` (the square the model was
   built for) and maps are mapped back to each image's own size and aspect ratio.
4. When the native size does not run either, or no candidate has a spatial output, the model is unsupported:
   :class:`~encoderscope.errors.UnsupportedModelError` says why in one line.

Example:
    >>> import torch
    >>> from encoderscope.capture.layout import TokenLayout
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.Conv2d(4, 4, 3, 2, 1))
    >>> probed = probe_model(net, TokenLayout(), ["0", "1"], native=32)
    >>> probed.policy.pad_multiple, probed.policy.fixed_hw, probed.depth_layers
    (1, None, ['0', '1'])
    >>> probed.policy.note
    'any size: aspect ratio kept, no padding needed'
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from encoderscope.capture.hooks import StopForward, capture_outputs, guarded_forward
from encoderscope.capture.layout import TokenLayout
from encoderscope.capture.outputs import interpret_output
from encoderscope.errors import UnsupportedModelError

_WINDOW_ATTRIBUTES = ("window_size", "grid_size", "partition_size")
_TRIES = (1, 2, 4, 8)


@dataclass(frozen=True)
class InputPolicy:
    """What is done to images before the model sees them.

    Attributes:
        fixed_hw: the one input size the model takes (images are resized to it), or ``None`` for any size.
        pad_multiple: images are zero-padded bottom/right to a multiple of this (any-size models).
        note: one line for run.json and the console, e.g. ``"fixed input 224x224: ..."``.
    """

    fixed_hw: tuple[int, int] | None
    pad_multiple: int
    note: str


@dataclass(frozen=True)
class Probed:
    """Result of :func:`probe_model`: the input policy and the depth candidates that give a spatial output."""

    policy: InputPolicy
    depth_layers: list[str]


def fixed_policy(size: tuple[int, int]) -> InputPolicy:
    """The policy of a model that takes only ``size``."""
    return InputPolicy(
        size,
        1,
        f"fixed input {size[0]}x{size[1]}: images are resized to it (square), maps are mapped back to each image's "
        "own size and aspect ratio",
    )


def dynamic_policy(multiple: int) -> InputPolicy:
    """The policy of a model that takes any size padded to ``multiple``."""
    if multiple == 1:
        return InputPolicy(None, 1, "any size: aspect ratio kept, no padding needed")
    return InputPolicy(None, multiple, f"any size: aspect ratio kept, padded to a multiple of {multiple} px")


def _probe(
    module: nn.Module, names: Sequence[str], input_hw: tuple[int, int], label: str
) -> dict[str, torch.Tensor]:
    pixels = torch.randn(1, 3, *input_hw, generator=torch.Generator().manual_seed(0))
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    with (
        torch.inference_mode(),
        capture_outputs(module, names, stop_early=True) as outputs,
        contextlib.suppress(StopForward),
    ):
        guarded_forward(module, pixels.to(device), label)
    return dict(outputs)


def _spatial(
    outputs: dict[str, torch.Tensor], names: Sequence[str], layout: TokenLayout, input_hw: tuple[int, int]
) -> dict[str, tuple[int, int]]:
    """Name -> grid ``(h, w)`` of the captured outputs that have one, in the order of ``names``."""
    grids = {}
    for name in names:
        if name in outputs:
            grid = interpret_output(outputs[name], layout, input_hw).grid
            if grid is not None:
                grids[name] = (int(grid.shape[-2]), int(grid.shape[-1]))
    return grids


def _stride(size: int, cells: int) -> int:
    """A grid's stride: exact when it divides, else the nearest power of two."""
    if size % cells == 0:
        return size // cells
    return 2 ** round(math.log2(max(1.0, size / cells)))


def _window_multiple(module: nn.Module, grids: dict[str, tuple[int, int]], native: int) -> int:
    """Largest ``window * stride`` over blocks that declare a window, ``stride`` being their stage's grid stride."""
    modules = dict(module.named_modules())
    best = 1
    for name, (h, _) in grids.items():
        stride = _stride(native, h)
        for child in modules[name].modules():
            if "Embed" in type(child).__name__:  # patch embeddings carry a grid_size that is no window
                continue
            for attribute in _WINDOW_ATTRIBUTES:
                value = getattr(child, attribute, None)
                if isinstance(value, int | tuple | list) and value and not isinstance(value, bool):
                    window = int(value if isinstance(value, int) else max(value))
                    if 1 < window <= native // stride:
                        best = max(best, window * stride)
    return best


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def probe_model(
    module: nn.Module,
    layout: TokenLayout,
    candidates: Sequence[str],
    native: int | tuple[int, int],
    label: str | None = None,
    reductions: Sequence[int] = (),
    dynamic: bool = True,
) -> Probed:
    """Decide the input policy and the spatial depth layers of ``module`` (see the module docstring).

    Args:
        module: the network (in eval mode; called with ``(1, 3, H, W)`` tensors).
        layout: its token layout.
        candidates: depth candidates, shallow to deep (see :func:`~encoderscope.zoo.inspect.infer_depth_layers`).
        native: the input size the model was built for (``S`` or ``(H, W)``).
        label: the model's name for error messages.
        reductions: strides the model declares (timm ``feature_info`` reductions).
        dynamic: ``False`` skips the any-size tries (a model known to take one size only).
    """
    native_hw = (native, native) if isinstance(native, int) else (int(native[0]), int(native[1]))
    name = label or type(module).__name__
    names = list(dict.fromkeys(candidates))
    try:
        outputs = _probe(module, names, native_hw, name)
    except UnsupportedModelError as err:
        raise UnsupportedModelError(f"{name} does not run at its native size {native_hw[0]}x{native_hw[1]}: "
                                    f"{str(err).split(': ', 1)[-1]}") from err
    grids = _spatial(outputs, names, layout, native_hw)
    if not grids:
        raise UnsupportedModelError(
            f"{name} has no block with a spatial output among {len(names)} candidates "
            f"({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}): concept maps need convolutional maps or "
            "patch tokens"
        )
    depth = list(grids)
    if not dynamic:
        return Probed(fixed_policy(native_hw), depth)
    deepest_h = grids[depth[-1]][0]
    patch = layout.patch_size[0] if layout.patch_size else 1
    base = max([_stride(native_hw[0], deepest_h), *reductions, patch])
    window = _window_multiple(module, grids, native_hw[0])
    first = [_lcm(base, window)] if window > 1 else [patch, base]
    limit = max(native_hw)
    multiples = [*first, *(first[-1] * factor for factor in _TRIES[1:] if first[-1] * factor <= limit)]
    for multiple in dict.fromkeys(multiples):
        side = math.ceil(native_hw[0] / multiple) * multiple
        # wider by at least two cells of the coarsest stride, so that every stage sees a different grid
        probe_hw = (side, side + multiple * math.ceil(2 * max(multiple, base) / multiple))
        try:
            tried = _probe(module, depth[-1:], probe_hw, name)
        except UnsupportedModelError:
            continue
        if _spatial(tried, depth[-1:], layout, probe_hw):
            return Probed(dynamic_policy(multiple), depth)
    return Probed(fixed_policy(native_hw), depth)
