"""Small LWTA networks for CPU training, their preprocessing and their checkpoints.

* ``vit``: a timm ``VisionTransformer`` with patch 4 at 32 px (embed 64, depth 4, 4 heads, MLP width 256).
* ``resnet``: a narrow timm ResNet-10 (one BasicBlock per stage, channels 16-32-64-128).

Both take 3-channel 32 px inputs (grey images are replicated), so the trained networks go through the same
:class:`~encoderscope.zoo.Encoder` / capture path as any other model. Checkpoints are a folder with ``model.pt`` (a
state dict, loadable with ``torch.load(..., weights_only=True)``) and ``config.json``, both written atomically.

Example:
    >>> cfg = ModelConfig(arch="vit", U=4, embed_dim=32, depth=2, num_heads=2)
    >>> net = build_model(cfg)
    >>> sorted(lwta_layers(net))
    ['blocks.0.mlp.act', 'blocks.1.mlp.act']
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from encoderscope._io import atomic_path, read_json, write_json
from encoderscope.capture.layout import TokenLayout
from encoderscope.errors import ParameterError, SourceError
from encoderscope.lwta.convert import convert, lwta_layers, set_generator
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.preprocess import Preprocess

FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


@dataclass
class ModelConfig:
    """Architecture of a small LWTA network (see the module docstring); ``U=1`` is the GELU/ReLU baseline."""

    arch: Literal["vit", "resnet"] = "vit"
    U: int = 1
    num_classes: int = 10
    class_names: list[str] = field(default_factory=list)
    img_size: int = 32
    patch_size: int = 4
    embed_dim: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    channels: tuple[int, ...] = (16, 32, 64, 128)
    temp: float = 1.67
    temp_test: float | None = None
    kl_weight: float = 0.0
    seed: int = 0
    mean: float = FASHION_MEAN
    std: float = FASHION_STD

    @property
    def default_passes(self) -> int:
        """Stochastic passes averaged at evaluation: 6 for ViTs, 3 for CNNs (the released code)."""
        return 6 if self.arch == "vit" else 3

    @property
    def activation_layer_kind(self) -> str:
        """``"mlp"`` for ViTs, ``"relu"`` for ResNets."""
        return "mlp" if self.arch == "vit" else "relu"


def build_model(config: ModelConfig) -> nn.Module:
    """A seeded random-init network with LWTA(U) activations (U=1: GELU for the ViT, ReLU for the ResNet)."""
    import timm
    from timm.models.resnet import BasicBlock, ResNet

    torch.manual_seed(config.seed)
    if config.arch == "vit":
        base: nn.Module = timm.models.VisionTransformer(
            img_size=config.img_size,
            patch_size=config.patch_size,
            num_classes=config.num_classes,
            embed_dim=config.embed_dim,
            depth=config.depth,
            num_heads=config.num_heads,
            mlp_ratio=config.mlp_ratio,
        )
    elif config.arch == "resnet":
        channels = tuple(config.channels)
        if len(channels) != 4:
            raise ParameterError(f"resnet needs 4 stage widths, got {channels}")
        base = ResNet(BasicBlock, [1, 1, 1, 1], channels=channels, stem_width=channels[0],
                      num_classes=config.num_classes)
    else:
        raise ParameterError(f"unknown architecture {config.arch!r}; use vit or resnet")
    return convert(
        base, config.U, temp=config.temp, temp_test=config.temp_test, kl_weight=config.kl_weight,
        seed=config.seed, example=torch.zeros(1, 3, config.img_size, config.img_size),
    )


def preprocess_for(config: ModelConfig) -> Preprocess:
    """Grey-level normalisation and the 28 -> 32 px resize (bilinear) used for training and capture."""
    return Preprocess(
        mean=(config.mean,) * 3,
        std=(config.std,) * 3,
        size=config.img_size,
        crop_pct=1.0,
        interpolation="bilinear",
        pad_multiple=config.patch_size if config.arch == "vit" else 1,
    )


def save_checkpoint(model: nn.Module, config: ModelConfig, folder: str | Path) -> Path:
    """Write ``model.pt`` (state dict) and ``config.json`` atomically into ``folder``."""
    folder = Path(folder)
    with atomic_path(folder / "model.pt") as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    write_json(folder / "config.json", dataclasses.asdict(config))
    return folder


def load_checkpoint(folder: str | Path, seed: int | None = None) -> tuple[nn.Module, ModelConfig]:
    """Rebuild a network saved by :func:`save_checkpoint` (``weights_only=True``), in ``eval()`` mode.

    ``seed`` reseeds the LWTA noise (default: the training seed).
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.pt").is_file():
        raise SourceError(f"{folder} is not an LWTA checkpoint (needs model.pt and config.json)")
    raw = read_json(folder / "config.json")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    raw = {k: (tuple(v) if k == "channels" else v) for k, v in raw.items() if k in known}
    config = ModelConfig(**raw)
    model = build_model(config)
    state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    if seed is not None:
        set_generator(model, torch.Generator().manual_seed(seed))
    return model.eval(), config


def _fingerprint(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def encoder_for(model: nn.Module, config: ModelConfig, spec: str = "lwta") -> Encoder:
    """The trained network as an :class:`~encoderscope.zoo.Encoder` (for capture and dissection).

    Built directly (layout and blocks are known for the two architectures), frozen in ``eval()`` mode.
    """
    from encoderscope.zoo.sources import freeze

    if config.arch == "vit":
        layout = TokenLayout(prefix_kinds=("cls",), patch_size=(config.patch_size, config.patch_size))
        depth = [f"blocks.{i}" for i in range(config.depth)]
        feature = "fc_norm" if hasattr(model, "fc_norm") else None
    else:
        layout = TokenLayout()
        depth = ["layer1", "layer2", "layer3", "layer4"]
        feature = "global_pool"
    return Encoder(
        module=freeze(model),
        preprocess=preprocess_for(config),
        layout=layout,
        spec=spec,
        architecture=f"{config.arch}-lwta{config.U}",
        weights="trained with encoderscope lwta train",
        fingerprint=_fingerprint(model),
        depth_layers=depth,
        classifier=model,
        class_names=list(config.class_names) or None,
        feature_layer=feature,
    )


__all__ = [
    "ModelConfig",
    "build_model",
    "encoder_for",
    "load_checkpoint",
    "lwta_layers",
    "preprocess_for",
    "save_checkpoint",
]
