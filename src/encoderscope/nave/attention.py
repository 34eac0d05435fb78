"""The ``attention`` method of NAVE: label each patch by the head whose CLS token attends to it most.

For a ViT block, the CLS-to-patch attention of every head is recomputed from the output of the block's ``attn.qkv``
linear layer (timm blocks use fused attention, so the softmax itself is never materialised): ``q`` and ``k`` of the
CLS token and of all tokens, the block's ``q_norm``/``k_norm`` when present, ``softmax(q k^T * head_dim^-0.5)`` over
all tokens, then the columns of the patch tokens (CLS, registers and distillation tokens skipped). As in the
reference's DINOv2 variant, the per-head maps are upsampled bicubically to twice the patch grid before the argmax.

Example:
    >>> import timm, torch
    >>> block = timm.create_model("vit_tiny_patch16_224", pretrained=False).blocks[0]
    >>> qkv = torch.randn(1, 1 + 4, 3 * 192)
    >>> tuple(cls_attention(qkv, block.attn, cls_index=0, n_prefix=1).shape)
    (1, 3, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from encoderscope import devices
from encoderscope.capture.outputs import LayerOutput
from encoderscope.errors import LayerError, ParameterError

if TYPE_CHECKING:
    from encoderscope.zoo.encoder import Encoder

UPSAMPLE = 2


def attention_module(encoder: Encoder, block: str) -> tuple[str, nn.Module]:
    """The ``(name, module)`` of the qkv linear layer of ``block`` and the block's attention module."""
    if encoder.layout.cls_index is None:
        raise ParameterError("method 'attention' needs a ViT with a CLS token")
    modules = dict(encoder.module.named_modules())
    attn = modules.get(f"{block}.attn")
    if attn is None or not isinstance(getattr(attn, "qkv", None), nn.Linear) or not hasattr(attn, "num_heads"):
        raise LayerError(
            f"method 'attention' needs a timm-style ViT block with attn.qkv and attn.num_heads; {block!r} has none"
        )
    return f"{block}.attn.qkv", attn


def cls_attention(qkv: torch.Tensor, attn: nn.Module, cls_index: int, n_prefix: int) -> torch.Tensor:
    """``(B, heads, n_patches)`` softmax attention of the CLS token to the patch tokens, from ``(B, N, 3 D)`` qkv."""
    batch, n_tokens, _ = qkv.shape
    heads = int(attn.num_heads)
    parts = qkv.float().reshape(batch, n_tokens, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k = parts[0], parts[1]
    q_norm, k_norm = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
    if q_norm is not None and k_norm is not None:
        q, k = q_norm.float()(q), k_norm.float()(k)
    scale = q.shape[-1] ** -0.5
    logits = (q[:, :, cls_index : cls_index + 1] * scale) @ k.transpose(-2, -1)
    return logits.softmax(dim=-1)[:, :, 0, n_prefix:]


def qkv_tokens(output: LayerOutput) -> torch.Tensor:
    """``(B, N, 3 D)`` tokens back from a captured qkv output that capture split into prefix tokens and a grid."""
    if output.grid is None:
        raise ParameterError("the qkv output could not be matched to the patch grid")
    patches = output.grid.flatten(2).transpose(1, 2)
    return patches if output.prefix is None else torch.cat([output.prefix, patches], dim=1)


def attention_labels(
    output: LayerOutput, attn: nn.Module, encoder: Encoder, heads: Sequence[int] | None = None
) -> tuple[torch.Tensor, int]:
    """``(B, 2h, 2w)`` label maps (index into ``heads``, on the CPU) and the number of heads used.

    The attention is computed where the block is (its ``q_norm``/``k_norm`` live there).
    """
    layout = encoder.layout
    assert output.grid is not None and layout.cls_index is not None
    h, w = int(output.grid.shape[-2]), int(output.grid.shape[-1])
    qkv = devices.to_device(qkv_tokens(output), devices.module_device(attn))
    maps = cls_attention(qkv, attn, layout.cls_index, layout.n_prefix)
    n_heads = maps.shape[1]
    chosen = list(range(n_heads)) if heads is None else [int(i) for i in heads]
    if len(chosen) < 2 or any(not 0 <= i < n_heads for i in chosen):
        raise ParameterError(f"heads must be at least two indices in [0, {n_heads}), got {chosen}")
    maps = maps[:, chosen].reshape(maps.shape[0], len(chosen), h, w)
    maps = F.interpolate(maps, size=(UPSAMPLE * h, UPSAMPLE * w), mode="bicubic", align_corners=False)
    return maps.argmax(dim=1).cpu(), len(chosen)
