"""Reading what a module is: its token layout and its ordered blocks or stages (shallow to deep).

Example:
    >>> import timm
    >>> vit = timm.create_model("vit_small_patch14_reg4_dinov2", pretrained=False, img_size=56)
    >>> infer_layout(vit).describe()
    'CLS + 4 registers, patch 14'
    >>> infer_depth_layers(vit)[-1]
    'blocks.11'
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from encoderscope.capture.layout import TokenLayout


def _pair(value: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[-1])


def infer_layout(module: nn.Module) -> TokenLayout:
    """Token layout from timm / torchvision / Hugging Face attributes; a plain conv layout otherwise."""
    channels_last = getattr(module, "output_fmt", "NCHW") == "NHWC"
    patch_embed = getattr(module, "patch_embed", None)
    # timm ViT family (VisionTransformer, DeiT, Eva, ...): num_prefix_tokens, num_reg_tokens, cls/dist tokens
    if patch_embed is not None and hasattr(module, "num_prefix_tokens"):
        n_prefix = int(module.num_prefix_tokens)
        n_reg = int(getattr(module, "num_reg_tokens", 0) or 0)
        has_cls = getattr(module, "cls_token", None) is not None
        has_dist = getattr(module, "dist_token", None) is not None
        kinds = ["cls"] * has_cls + ["dist"] * has_dist + ["reg"] * n_reg
        if len(kinds) != n_prefix:
            kinds = (["cls"] if has_cls else []) + ["reg"] * (n_prefix - int(has_cls))
        return TokenLayout(tuple(kinds), _pair(patch_embed.patch_size), channels_last)
    if patch_embed is not None and channels_last:  # Swin-style: channel-last grids, no prefix tokens
        return TokenLayout((), None, True)
    # torchvision VisionTransformer: class token first, patch_size attribute
    if hasattr(module, "class_token") and hasattr(module, "patch_size"):
        return TokenLayout(("cls",), _pair(module.patch_size))
    # Hugging Face vision transformers: config.patch_size (+ num_register_tokens)
    config = getattr(module, "config", None)
    if config is not None and hasattr(config, "patch_size") and hasattr(config, "hidden_size"):
        n_reg = int(getattr(config, "num_register_tokens", 0) or 0)
        return TokenLayout(("cls",) + ("reg",) * n_reg, _pair(config.patch_size))
    return TokenLayout(channels_last=channels_last)


_BLOCK_CONTAINERS = ("blocks", "stages", "layers", "encoder.layers", "encoder.layer", "features", "_blocks")


def infer_depth_layers(module: nn.Module) -> list[str]:
    """Ordered blocks/stages of a model: timm ``feature_info``, ResNet ``layer1..4``, or a block container."""
    names = dict(module.named_modules())
    feature_info = getattr(module, "feature_info", None)
    if isinstance(feature_info, list) and feature_info and isinstance(feature_info[0], dict):
        found = [info.get("module") for info in feature_info]
        found = [name for name in found if name in names]
        if len(found) >= 2:
            return found
    if all(f"layer{i}" in names for i in range(1, 5)):  # ResNet family
        return [f"layer{i}" for i in range(1, 5)]
    for container in _BLOCK_CONTAINERS:
        parent = names.get(container)
        if isinstance(parent, nn.ModuleList | nn.Sequential) and len(parent) >= 2:
            return [f"{container}.{child}" for child, _ in parent.named_children()]
    children = [name for name, child in module.named_children() if any(True for _ in child.parameters())]
    return children


def parameter_fingerprint(module: nn.Module) -> str:
    """A 16-hex hash of every parameter and buffer (names, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in list(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        data = tensor.detach().to("cpu").reshape(-1)  # 1-D: 0-d buffers (BatchNorm's counter) cannot be byte-viewed
        if data.dtype == torch.bfloat16:
            data = data.float()
        digest.update(data.contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
