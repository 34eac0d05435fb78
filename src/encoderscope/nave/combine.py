"""Combining the activations of several depths into one feature per position (docs/methods/nave.md, steps 2-5).

For layers ``l_1 .. l_m`` ordered shallow to deep, with grids ``(B, C_l, h_l, w_l)``:

1. resample every grid to the grid of the FIRST layer, bicubic, ``align_corners=False`` (as the reference's
   ``nn.Upsample(size=..., mode='bicubic')``; grids already of that size are left as they are);
2. L2-normalise each position's channel vector within each layer;
3. weight layer ``l`` by ``(1 + C_first) / (1 + C_l)``;
4. concatenate the channels: ``(B, h, w, sum C_l)``.

``resample="bilinear-input"`` is a named departure: bilinear interpolation of every grid to the INPUT resolution
(``input_hw``), as a third-party summary of the paper describes; it gives one feature per pixel (many more positions,
so clustering is slower) instead of one per cell of the first layer's grid.

Example:
    >>> import torch
    >>> shallow, deep = torch.rand(1, 8, 4, 4), torch.rand(1, 16, 2, 2)
    >>> tuple(combine_depths([shallow, deep]).shape)
    (1, 4, 4, 24)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from encoderscope.errors import ActivationError, ParameterError

RESAMPLE_MODES = ("bicubic", "bilinear-input")


def layer_weights(channels: Sequence[int]) -> list[float]:
    """Per-layer weights ``(1 + C_first) / (1 + C_l)``.

    Example:
        >>> [round(w, 4) for w in layer_weights([512, 1024, 2048])]
        [1.0, 0.5005, 0.2504]
    """
    return [(1 + channels[0]) / (1 + c) for c in channels]


def combine_depths(
    feature_maps: Sequence[torch.Tensor],
    resample: str = "bicubic",
    input_hw: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Resampled, per-position L2-normalised, channel-weighted, concatenated features (see the module docstring).

    Args:
        feature_maps: ``(B, C_l, h_l, w_l)`` tensors, shallow to deep.
        resample: ``"bicubic"`` (the reference: to the first map's grid) or ``"bilinear-input"`` (departure).
        input_hw: the input size ``(H, W)``; required for ``"bilinear-input"``.

    Returns:
        ``(B, h, w, sum C_l)`` float32 tensor on the first map's grid (or the input grid).
    """
    if not feature_maps:
        raise ParameterError("combine_depths needs at least one feature map")
    if resample not in RESAMPLE_MODES:
        raise ParameterError(f"unknown resample mode {resample!r}; choose one of {', '.join(RESAMPLE_MODES)}")
    for index, grid in enumerate(feature_maps):
        if grid.ndim != 4:
            raise ActivationError(f"feature map {index} must be (B, C, h, w), got shape {tuple(grid.shape)}")
        if grid.shape[0] != feature_maps[0].shape[0]:
            raise ActivationError(f"feature maps hold different batch sizes: {[m.shape[0] for m in feature_maps]}")
    if resample == "bicubic":
        size = (int(feature_maps[0].shape[-2]), int(feature_maps[0].shape[-1]))
        mode = "bicubic"
    else:
        if input_hw is None:
            raise ParameterError("resample='bilinear-input' needs input_hw, the (H, W) of the input")
        size, mode = (int(input_hw[0]), int(input_hw[1])), "bilinear"
    weights = layer_weights([int(grid.shape[1]) for grid in feature_maps])
    parts = []
    for grid, weight in zip(feature_maps, weights, strict=True):
        grid = grid.float()
        if tuple(grid.shape[-2:]) != size:
            grid = F.interpolate(grid, size=size, mode=mode, align_corners=False)
        unit = F.normalize(grid, p=2.0, dim=1)
        parts.append(unit if weight == 1.0 else unit * weight)  # x * 1.0 is x: one pass fewer for the first layer
    combined = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return combined.permute(0, 2, 3, 1).contiguous()
