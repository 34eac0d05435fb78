"""Reading what a module is: its token layout and its candidate blocks or stages (shallow to deep).

The layout comes from what the model says about itself: timm ``num_prefix_tokens`` with its CLS, distillation and
register tokens; Hugging Face embeddings (``cls_token`` / ``class_embedding``, ``distillation_token``,
``register_tokens`` or ``config.num_register_tokens``; none for SigLIP); torchvision's ``class_token``; open_clip's
``class_embedding``, and the timm trunk inside open_clip towers. The depth candidates are timm ``feature_info``
modules, ResNet ``layer1..4``, or the shallowest block container (``blocks``, ``stages``, ``encoder.layer``...);
:mod:`encoderscope.zoo.input_policy` keeps those with a spatial output in a probe forward pass.

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


def as_pair(value: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    """``(a, a)`` for an int, the first and last items of a sequence otherwise."""
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[-1])


def _patch_of(patch_embed: nn.Module) -> tuple[int, int] | None:
    """Patch size of a patch embedding: its ``patch_size``, else the stride of its projection, else ``None``."""
    size = getattr(patch_embed, "patch_size", None)
    if isinstance(size, int | tuple | list) and size:
        return as_pair(size)
    proj = getattr(patch_embed, "proj", None)
    stride = getattr(proj, "stride", None)
    return as_pair(stride) if isinstance(stride, tuple) and stride else None


def _timm_layout(module: nn.Module, channels_last: bool) -> TokenLayout | None:
    """timm ViT family (VisionTransformer, DeiT, Eva, NaFlexViT...): ``num_prefix_tokens`` with CLS/dist/registers."""
    patch_embed = getattr(module, "patch_embed", None) or getattr(module, "embeds", None)
    encoder = getattr(module, "encoder", None)
    if patch_embed is None and isinstance(encoder, nn.Module):
        # a classifier around a timm encoder (DeepSeek's vision tower: model.encoder.patch_embed, the prefix count on
        # the classifier)
        patch_embed = getattr(encoder, "patch_embed", None)
    if isinstance(patch_embed, nn.ModuleList) and len(patch_embed):
        # CrossViT: one patch embedding and class token (cls_token_0, cls_token_1) per branch; its blocks output a
        # list of the branches' tokens, and the first one (branch 0, the finer patches) is what gets captured
        has_cls = any(hasattr(module, attribute) for attribute in ("cls_token", "cls_token_0"))
        return TokenLayout(("cls",) * has_cls, _patch_of(patch_embed[0]) or (1, 1))
    if patch_embed is None or not hasattr(module, "num_prefix_tokens"):
        return None
    n_prefix = int(module.num_prefix_tokens)
    n_reg = int(getattr(module, "num_reg_tokens", 0) or 0)
    has_cls = getattr(module, "cls_token", None) is not None
    has_dist = getattr(module, "dist_token", None) is not None
    kinds = ["cls"] * has_cls + ["dist"] * has_dist + ["reg"] * n_reg
    if len(kinds) != n_prefix:
        kinds = (["cls"] if has_cls else []) + ["reg"] * (n_prefix - int(has_cls))
    return TokenLayout(tuple(kinds), _patch_of(patch_embed) or (1, 1), channels_last)


def _hf_embeddings(module: nn.Module) -> nn.Module | None:
    for name, child in module.named_modules():
        if name == "embeddings" or name.endswith(".embeddings"):
            return child
    return None


def _hf_layout(module: nn.Module, config: object) -> TokenLayout | None:
    """Hugging Face vision transformers: prefix tokens read from the embeddings and the config."""
    if not (hasattr(config, "patch_size") and hasattr(config, "hidden_size")):
        return None
    embeddings = _hf_embeddings(module)
    kinds: list[str] = []
    if embeddings is not None:
        if getattr(embeddings, "cls_token", None) is not None or hasattr(embeddings, "class_embedding"):
            kinds.append("cls")
        if getattr(embeddings, "distillation_token", None) is not None:
            kinds.append("dist")
        registers = getattr(embeddings, "register_tokens", None)
        n_reg = int(getattr(config, "num_register_tokens", 0) or 0)
        if not n_reg and isinstance(registers, torch.Tensor):
            n_reg = int(registers.shape[1])
        kinds += ["reg"] * n_reg
    return TokenLayout(tuple(kinds), as_pair(config.patch_size))  # type: ignore[attr-defined]


def infer_layout(module: nn.Module) -> TokenLayout:
    """Token layout from timm / torchvision / Hugging Face / open_clip attributes; a plain conv layout otherwise."""
    channels_last = getattr(module, "output_fmt", "NCHW") == "NHWC"
    trunk = getattr(module, "trunk", None)
    if isinstance(trunk, nn.Module):  # open_clip TimmModel: the timm model inside
        return infer_layout(trunk)
    timm_layout = _timm_layout(module, channels_last)
    if timm_layout is not None:
        return timm_layout
    if getattr(module, "patch_embed", None) is not None and channels_last:  # Swin-style: NHWC grids, no prefix
        return TokenLayout((), None, True)
    # torchvision VisionTransformer: class token first, patch_size attribute
    if hasattr(module, "class_token") and hasattr(module, "patch_size"):
        return TokenLayout(("cls",), as_pair(module.patch_size))
    # open_clip VisionTransformer: class_embedding first, patch_size attribute
    if hasattr(module, "class_embedding") and hasattr(module, "patch_size") and hasattr(module, "transformer"):
        return TokenLayout(("cls",), as_pair(module.patch_size))
    config = getattr(module, "config", None)
    hf_layout = _hf_layout(module, config) if config is not None else None
    return hf_layout or TokenLayout(channels_last=channels_last)


_BLOCK_CONTAINERS = ("blocks", "stages", "layers", "layer", "resblocks", "features", "_blocks", "trunk_output")


def _container_children(name: str, container: nn.Module) -> list[str]:
    """Children of a block container; a child that is a ModuleList (never called itself) stands for its last item."""
    prefix = f"{name}." if name else ""
    found = []
    for child_name, child in container.named_children():
        while isinstance(child, nn.ModuleList) and len(child):
            last_name, child = list(child.named_children())[-1]
            child_name = f"{child_name}.{last_name}"
        found.append(prefix + child_name)
    return found


def _feature_info_layers(module: nn.Module, names: dict[str, nn.Module]) -> list[str]:
    feature_info = getattr(module, "feature_info", None)
    if not (isinstance(feature_info, list) and feature_info and isinstance(feature_info[0], dict)):
        return []
    found = []
    for info in feature_info:
        name = info.get("module")
        if not name or name not in names:
            continue
        child = names[name]
        while isinstance(child, nn.ModuleList) and len(child):
            last = str(len(child) - 1)
            name, child = f"{name}.{last}", child[len(child) - 1]
        found.append(name)
    return found if len(found) >= 2 else []


def infer_depth_layers(module: nn.Module) -> list[str]:
    """Candidate blocks/stages, shallow to deep: timm ``feature_info``, ResNet ``layer1..4``, or a block container.

    A container is the shallowest ``ModuleList``/``Sequential`` of at least two children whose name ends in one of
    ``blocks``, ``stages``, ``layers``, ``layer``, ``resblocks``, ``features``, ``_blocks``, ``trunk_output``.
    """
    trunk = getattr(module, "trunk", None)
    if isinstance(trunk, nn.Module):  # open_clip TimmModel
        return [f"trunk.{name}" for name in infer_depth_layers(trunk)]
    names = dict(module.named_modules())
    from_features = _feature_info_layers(module, names)
    if from_features:
        return from_features
    if all(f"layer{i}" in names for i in range(1, 5)):  # ResNet family
        return [f"layer{i}" for i in range(1, 5)]
    containers = [
        (name.count("."), name)
        for name, child in names.items()
        if isinstance(child, nn.ModuleList | nn.Sequential)
        and len(child) >= 2
        and name.split(".")[-1] in _BLOCK_CONTAINERS
    ]
    if containers:
        name = min(containers)[1]
        return _container_children(name, names[name])
    return [name for name, child in module.named_children() if any(True for _ in child.parameters())]



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
