"""Turning a raw layer output into a :class:`LayerOutput`: a (B, C, h, w) grid plus prefix tokens, or a vector.

The interpretation uses the model's :class:`~encoderscope.capture.layout.TokenLayout` and the input size:

* 4-D outputs are channel-first grids, or channel-last (Swin, ConvNeXt internals) when the last two axes cannot be a
  spatial grid of the input at one stride while the middle two can. A grid fits the input at stride ``s`` when each
  side is ``H / s`` within one cell (padding, ceil modes), or, for unpadded ("valid") convolutions, smaller than
  ``H / s`` by the same number of cells on both axes;
* 3-D token outputs ``(B, N, C)`` with ``N = P + h * w`` are split into ``P`` prefix tokens and an ``h x w`` grid.
  ``P`` is the layout's prefix count (or 0: layers after the prefix was dropped), and the grid is the input at any
  stride, the patch size first: hierarchical token models (Swin, PVT, MViT) change the stride per stage;
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


_MAX_VALID_SHRINK_PX = 96  # input pixels lost by unpadded convolutions (Inception's stem loses about 75)


def _fits_grid(h: int, w: int, input_hw: tuple[int, int], valid_padding: bool = False) -> bool:
    """Can an ``h x w`` map be the input seen at one integer stride (see the module docstring)?"""
    height, width = input_hw
    if not (1 <= h <= height and 1 <= w <= width):
        return False
    low = 2 if valid_padding else max(1, height // h - 1)
    for stride in range(low, height // h + 2):
        short_h, short_w = height / stride - h, width / stride - w
        if abs(short_h) <= 1 and abs(short_w) <= 1:
            return True
        shrunk = short_h >= -1 and short_w >= -1 and abs(short_h - short_w) <= 1
        if valid_padding and shrunk and max(short_h, short_w) * stride <= _MAX_VALID_SHRINK_PX:
            return True
    return False


def spatial_format(shape: tuple[int, ...], input_hw: tuple[int, int], channels_last_hint: bool) -> str | None:
    """``"grid"`` (NCHW), ``"grid-nhwc"`` or ``None`` for a 4-D output shape."""
    for valid_padding in (False, True):
        nchw = _fits_grid(shape[2], shape[3], input_hw, valid_padding)
        nhwc = _fits_grid(shape[1], shape[2], input_hw, valid_padding)
        if nchw and nhwc:
            return "grid-nhwc" if channels_last_hint else "grid"
        if nchw:
            return "grid"
        if nhwc:
            return "grid-nhwc"
    return None


def token_grid(n_tokens: int, layout: TokenLayout, input_hw: tuple[int, int]) -> tuple[int, tuple[int, int]] | None:
    """``(P, (h, w))`` with ``n_tokens = P + h * w`` for a token output of an ``input_hw`` input, or ``None``.

    ``P`` is the layout's prefix count, then 0 (and 1, a class token, when the layout knows of no prefix: models
    that keep one per stage such as CoaT); for each, the patch stride is tried first, then the patch size and 1
    times powers of two (the strides of hierarchical models; ``h, w`` = the input divided by the stride, rounded
    down or up).

    Example:
        >>> token_grid(1 + 6 * 8, TokenLayout(("cls",), (16, 16)), (96, 128))
        (1, (6, 8))
        >>> token_grid(3 * 4, TokenLayout(("cls",), (4, 4)), (96, 128))  # a later stage at stride 32, no CLS
        (0, (3, 4))
    """
    height, width = input_hw
    preferred = layout.grid_for(input_hw)
    patch = layout.patch_size[0] if layout.patch_size else 1
    strides = sorted({base * 2**k for base in (1, patch) for k in range(8)})
    for n_prefix in dict.fromkeys((layout.n_prefix, 0, 1 if not layout.n_prefix else 0)):
        count = n_tokens - n_prefix
        if count < 1:
            continue
        if preferred is not None and preferred[0] * preferred[1] == count:
            return n_prefix, preferred
        for stride in strides:
            for h, w in ((height // stride, width // stride), (-(-height // stride), -(-width // stride))):
                if h * w == count and h >= 1 and w >= 1:
                    return n_prefix, (h, w)
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
        found = token_grid(int(tensor.shape[1]), layout, input_hw)
        if found is not None:
            n_prefix, (h, w) = found
            batch, _, channels = tensor.shape
            patches = tensor[:, n_prefix:, :].reshape(batch, h, w, channels)
            return LayerOutput(
                grid=patches.permute(0, 3, 1, 2).contiguous(),
                prefix=tensor[:, :n_prefix, :].contiguous() if n_prefix else None,
                prefix_kinds=layout.prefix_kinds if n_prefix == layout.n_prefix else ("cls",) * n_prefix,
                kind="tokens",
            )
        return LayerOutput(raw=tensor, kind="other")
    if tensor.ndim == 2:
        return LayerOutput(vector=tensor, kind="vector")
    return LayerOutput(raw=tensor, kind="other")
