"""How a model takes its input, decided by probe forward passes: any size padded to a multiple, or one fixed size.

:func:`probe_model` runs the model (batch of one, random pixels, up to its deepest candidate block only) and
returns a :class:`Probed`:

1. At the native square size ``S x S`` it records which depth candidates give a spatial output (the others are
   dropped: a depth index always means a block or stage with a grid) and the deepest grid's stride.
2. The padding multiple ``m`` is the smallest of the model's own strides that it runs with: its patch size (never
   less: the NAVE reference pads a ViT to its patch size; for other models the stride of a patchify stem, as in
   ConvNeXt or torchvision's Swin), the strides of its grids, the timm ``feature_info``
   reductions, and, for blocks that declare windows (``window_size`` / ``grid_size`` / ``partition_size``) without
   padding them, the window times the stride at which it runs (MaxViT: 7 x 32 = 224); then twice, 4 and 8 times
   the largest (up to the native size). A multiple runs when the model takes every size it allows: a size that is
   a multiple of ``m`` can still be odd at any coarser stride ``m * 2^i`` up to the coarsest one (the deepest
   grid's, or a coarser timm reduction), where a stride-2 stage whose branches round differently (DLA, HRNet,
   anti-aliased ResNets) fails. So each stride level is probed with a side of ``m * 2^i`` times an odd number
   (even at every finer stride, whatever the rounding), two levels per probe (one on each axis), the coarsest
   first; the input is non-square, at least the native height, and wider than the native width by two cells of
   the coarsest stride (so that no stage sees its native grid again). A failure at level ``i`` also rules out the
   multiples that divide ``m * 2^i``. Images keep their aspect ratio and are zero-padded to the multiple found: a
   convolutional network gets 1 (no padding) or the stride of its patchify stem, a ViT its patch size, a model
   that pads its own windows (timm's and torchvision's Swin) its patch size, a stride-sensitive one its total
   stride.
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
_TRIES = (1, 2, 4, 8)  # the largest own stride, then twice, 4 and 8 times it


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


def _multiples(
    module: nn.Module,
    layout: TokenLayout,
    grids: dict[str, tuple[int, int]],
    native_hw: tuple[int, int],
    reductions: Sequence[int],
    deepest: int,
) -> list[int]:
    """Padding multiples to try, smallest first (see the module docstring, step 2); ``deepest``: the coarsest
    stride."""
    patch = layout.patch_size[0] if layout.patch_size else _stem_patch(module)
    strides = {_stride(native_hw[0], h) for h, _ in grids.values()}
    window = _window_multiple(module, grids, native_hw[0])
    own = {patch, *strides, *reductions} | ({_lcm(deepest, window)} if window > 1 else set())
    found = sorted(m for m in own if m >= patch)
    found += [found[-1] * factor for factor in _TRIES[1:] if found[-1] * factor <= max(native_hw)]
    return found


def _stem_patch(module: nn.Module) -> int:
    """The stride of a patchify stem (the model's first convolution, kernel = stride, unpadded), else 1: such a
    stem drops the pixels past the last whole patch, so images are padded to it as a ViT to its patch size."""
    first = next((child for child in module.modules() if isinstance(child, nn.Conv2d)), None)
    if first is None or first.kernel_size != first.stride or first.padding not in ((0, 0), "valid"):
        return 1
    return int(first.stride[0])


def _odd_multiple(unit: int, at_least: int) -> int:
    """The smallest odd multiple of ``unit`` that is at least ``at_least``."""
    count = max(1, math.ceil(at_least / unit))
    return unit * (count + 1 - count % 2)


def _failing_stride(
    module: nn.Module,
    deepest_layer: str,
    layout: TokenLayout,
    native_hw: tuple[int, int],
    multiple: int,
    deepest: int,
    name: str,
) -> int | None:
    """Probe sizes allowed by ``multiple`` (see the module docstring, step 2); ``None`` when all run, else the finer
    stride of the first probe that failed (or gave no grid)."""
    levels = 0 if deepest <= multiple else round(math.log2(deepest / multiple))
    strides = [multiple * 2**level for level in range(levels, -1, -1)]  # coarsest first
    coarse = max(multiple, deepest)
    for high, wide in zip(strides[::2], [*strides[1::2], strides[-1]], strict=False):
        probe_hw = (_odd_multiple(high, native_hw[0]), _odd_multiple(wide, native_hw[1] + 2 * coarse))
        try:
            tried = _probe(module, [deepest_layer], probe_hw, name)
        except UnsupportedModelError:
            return min(high, wide)
        if not _spatial(tried, [deepest_layer], layout, probe_hw):
            return min(high, wide)
    return None


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
    # the coarsest stride: the deepest grid's, or a coarser declared one (HRNet's stages give their finest branch)
    deepest = max([_stride(native_hw[0], grids[depth[-1]][0]), *reductions])
    ruled_out: list[int] = []  # strides at which an odd size failed
    for multiple in _multiples(module, layout, grids, native_hw, reductions, deepest):
        if any(stride % multiple == 0 for stride in ruled_out):
            continue
        failed = _failing_stride(module, depth[-1], layout, native_hw, multiple, deepest, name)
        if failed is None:
            return Probed(dynamic_policy(multiple), depth)
        ruled_out.append(failed)
    return Probed(fixed_policy(native_hw), depth)
