"""Turning a raw layer output into a :class:`LayerOutput`: a (B, C, h, w) grid plus prefix tokens, or a vector.

The interpretation uses the model's :class:`~encoderscope.capture.layout.TokenLayout` and the input size:

* 4-D outputs are channel-first grids, or channel-last (Swin, ConvNeXt internals) when the last two axes cannot be a
  spatial grid of the input at one stride while the middle two can;
* 3-D token outputs ``(B, N, C)`` with ``N = n_prefix + h * w`` are split into prefix tokens and an ``h x w`` grid;
* 2-D outputs are per-image vectors.

Example:
    >>> import torch
    >>> from encoderscope.capture.layout import TokenLayout
    >>> layout = TokenLayout(("cls", "reg"), (16, 16))
    >>> out = interpret_output(torch.zeros(2, 2 + 3 * 4, 8), layout, (48, 64))
    >>> tuple(out.grid.shape), tuple(out.prefix.shape), out.kind
    ((2, 8, 3, 4), (2, 2, 8), 'tokens')
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from encoderscope.capture.layout import TokenLayout


@dataclass
class LayerOutput:
    """One layer's output for a batch, split into its parts.

    Attributes:
        grid: ``(B, C, h, w)`` spatial map (patch tokens for token models), or ``None``.
        prefix: ``(B, P, C)`` prefix tokens (CLS, registers, distillation) of token outputs, or ``None``.
        prefix_kinds: the kind of each prefix token (``"cls"``, ``"reg"``, ``"dist"``).
        vector: ``(B, C)`` for non-spatial outputs (pooled features, logits), or ``None``.
        raw: the output as captured when it fits none of the above (``kind == "other"``), else ``None``.
        kind: ``"grid"``, ``"grid-nhwc"``, ``"tokens"``, ``"vector"`` or ``"other"``.
    """

    grid: torch.Tensor | None = None
    prefix: torch.Tensor | None = None
    prefix_kinds: tuple[str, ...] = ()
    vector: torch.Tensor | None = None
    raw: torch.Tensor | None = None
    kind: str = "other"

    @property
    def channels(self) -> int | None:
        """Number of channels (units) of the grid or vector."""
        if self.grid is not None:
            return int(self.grid.shape[1])
        if self.vector is not None:
            return int(self.vector.shape[1])
        return None

    @property
    def registers(self) -> torch.Tensor | None:
        """``(B, R, C)`` register tokens, or ``None`` when the output has none."""
        if self.prefix is None:
            return None
        index = [i for i, kind in enumerate(self.prefix_kinds) if kind == "reg"]
        return self.prefix[:, index] if index else None

    def select(self, index: torch.Tensor | list[int] | slice) -> LayerOutput:
        """The same output restricted to some images of the batch."""

        def pick(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor[index]

        return LayerOutput(
            pick(self.grid), pick(self.prefix), self.prefix_kinds, pick(self.vector), pick(self.raw), self.kind
        )

    def to(self, device: torch.device | str) -> LayerOutput:
        """The same output with every tensor on ``device``."""

        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device)

        return LayerOutput(
            move(self.grid), move(self.prefix), self.prefix_kinds, move(self.vector), move(self.raw), self.kind
        )

    @staticmethod
    def concat(parts: list[LayerOutput]) -> LayerOutput:
        """Concatenate outputs of several batches along the batch axis (shapes must agree)."""

        def cat(tensors: list[torch.Tensor | None]) -> torch.Tensor | None:
            return None if tensors[0] is None else torch.cat(tensors, dim=0)  # type: ignore[arg-type]

        first = parts[0]
        return LayerOutput(
            cat([p.grid for p in parts]),
            cat([p.prefix for p in parts]),
            first.prefix_kinds,
            cat([p.vector for p in parts]),
            cat([p.raw for p in parts]),
            first.kind,
        )


def _fits_grid(h: int, w: int, input_hw: tuple[int, int]) -> bool:
    """Can an ``h x w`` map be the input seen at one integer stride (one cell of slack for padding/ceil modes)?"""
    height, width = input_hw
    if not (1 <= h <= height and 1 <= w <= width):
        return False
    stride = round(height / h)
    return stride >= 1 and abs(h - height / stride) <= 1 and abs(w - width / stride) <= 1


def spatial_format(shape: tuple[int, ...], input_hw: tuple[int, int], channels_last_hint: bool) -> str | None:
    """``"grid"`` (NCHW), ``"grid-nhwc"`` or ``None`` for a 4-D output shape."""
    nchw = _fits_grid(shape[2], shape[3], input_hw)
    nhwc = _fits_grid(shape[1], shape[2], input_hw)
    if nchw and nhwc:
        return "grid-nhwc" if channels_last_hint else "grid"
    if nchw:
        return "grid"
    if nhwc:
        return "grid-nhwc"
    return None


def interpret_output(tensor: torch.Tensor, layout: TokenLayout, input_hw: tuple[int, int]) -> LayerOutput:
    """Split one captured output into a :class:`LayerOutput` (see the module docstring)."""
    tensor = tensor.float()
    if tensor.ndim == 4:
        fmt = spatial_format(tuple(tensor.shape), input_hw, layout.channels_last)
        if fmt == "grid":
            return LayerOutput(grid=tensor.contiguous(), kind="grid")
        if fmt == "grid-nhwc":
            return LayerOutput(grid=tensor.permute(0, 3, 1, 2).contiguous(), kind="grid-nhwc")
        return LayerOutput(raw=tensor, kind="other")
    if tensor.ndim == 3:
        grid_hw = layout.grid_for(input_hw)
        if grid_hw is not None:
            n_tokens = tensor.shape[1]
            h, w = grid_hw
            for n_prefix, kinds in ((layout.n_prefix, layout.prefix_kinds), (0, ())):
                if n_tokens == n_prefix + h * w:
                    batch, _, channels = tensor.shape
                    patches = tensor[:, n_prefix:, :].reshape(batch, h, w, channels)
                    prefix = tensor[:, :n_prefix, :].contiguous() if n_prefix else None
                    return LayerOutput(
                        grid=patches.permute(0, 3, 1, 2).contiguous(),
                        prefix=prefix,
                        prefix_kinds=tuple(kinds),
                        kind="tokens",
                    )
        return LayerOutput(raw=tensor, kind="other")
    if tensor.ndim == 2:
        return LayerOutput(vector=tensor, kind="vector")
    return LayerOutput(raw=tensor, kind="other")
