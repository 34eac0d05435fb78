"""How a model's outputs map to prefix tokens and a spatial grid.

A :class:`TokenLayout` is resolved once per model (from timm attributes, torchvision/HF configs, or given by the
user) and used by every step that turns a layer output into a ``(C, h, w)`` grid. Registers are first-class: they are
returned as prefix tokens, never dropped or averaged into the patches.

Example:
    >>> layout = TokenLayout(prefix_kinds=("cls", "reg", "reg", "reg", "reg"), patch_size=(14, 14))
    >>> layout.n_prefix, layout.n_registers, layout.grid_for((224, 168))
    (5, 4, (16, 12))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PrefixKind = Literal["cls", "reg", "dist"]


@dataclass(frozen=True)
class TokenLayout:
    """Token layout of a vision model.

    Attributes:
        prefix_kinds: kind of each prefix token in order, e.g. ``("cls", "reg", "reg")``; empty for CNNs.
        patch_size: ``(ph, pw)`` for token models, ``None`` for convolutional grids.
        channels_last: the model's 4-D outputs are ``(B, H, W, C)`` (Swin-style) rather than ``(B, C, H, W)``.
    """

    prefix_kinds: tuple[str, ...] = ()
    patch_size: tuple[int, int] | None = None
    channels_last: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.prefix_kinds) - {"cls", "reg", "dist"}
        if unknown:
            raise ValueError(f"unknown prefix token kinds {sorted(unknown)}; use 'cls', 'reg' or 'dist'")

    @property
    def n_prefix(self) -> int:
        """Number of tokens before the patch grid."""
        return len(self.prefix_kinds)

    @property
    def n_registers(self) -> int:
        """Number of register tokens."""
        return sum(kind == "reg" for kind in self.prefix_kinds)

    @property
    def cls_index(self) -> int | None:
        """Index of the CLS token among the prefix tokens, or ``None``."""
        return self.prefix_kinds.index("cls") if "cls" in self.prefix_kinds else None

    @property
    def is_tokens(self) -> bool:
        """True for token (ViT-like) models."""
        return self.patch_size is not None

    def grid_for(self, input_hw: tuple[int, int]) -> tuple[int, int] | None:
        """Patch grid ``(h, w)`` for an input of ``(H, W)`` pixels (floor division, as a strided patch embedding)."""
        if self.patch_size is None:
            return None
        return input_hw[0] // self.patch_size[0], input_hw[1] // self.patch_size[1]

    def describe(self) -> str:
        """Short human description, e.g. ``"CLS + 4 registers, patch 14"``."""
        if not self.is_tokens:
            return "conv grid (NHWC)" if self.channels_last else "conv grid"
        parts = []
        if self.cls_index is not None:
            parts.append("CLS")
        if self.n_registers:
            parts.append(f"{self.n_registers} register{'s' if self.n_registers > 1 else ''}")
        n_dist = sum(kind == "dist" for kind in self.prefix_kinds)
        if n_dist:
            parts.append(f"{n_dist} distillation")
        prefix = " + ".join(parts) if parts else "no prefix tokens"
        assert self.patch_size is not None
        return f"{prefix}, patch {self.patch_size[0]}" + (
            f"x{self.patch_size[1]}" if self.patch_size[0] != self.patch_size[1] else ""
        )
