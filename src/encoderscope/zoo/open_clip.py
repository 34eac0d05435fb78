"""open_clip models: image towers as encoders (``open_clip:ARCH[:WEIGHTS]``), and the one place they are built.

``WEIGHTS`` is a local checkpoint file (read with ``weights_only=True``) or an open_clip pretrained tag (downloaded
by open_clip, so it needs the network the first time); ``random_init`` builds the architecture without weights. The
encoder is the model's ``visual`` tower, under the same rules as every other source: its token layout (open_clip's
class token, or the timm trunk's own layout), its blocks with a spatial output, and an input policy from a probe
forward pass (open_clip's ViTs have fixed position embeddings: they take their native size). The ``clip:`` concept
scorer builds its model with :func:`create_open_clip` too.

Example:
    >>> enc = load_open_clip("ViT-S-32", random_init=True)
    >>> enc.layout.describe(), enc.depth_layers[-1], enc.preprocess.fixed_hw
    ('CLS, patch 32', 'transformer.resblocks.11', (224, 224))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from encoderscope._io import file_sha256
from encoderscope._optional import require
from encoderscope.errors import SourceError, WeightsUnavailableError, first_line
from encoderscope.zoo.building import freeze, seeded
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.inspect import as_pair, infer_depth_layers, infer_layout, parameter_fingerprint
from encoderscope.zoo.preprocess import IMAGENET_MEAN, IMAGENET_STD
from encoderscope.zoo.sources import probed_encoder, read_state_dict

_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")


def is_checkpoint(weights: str) -> bool:
    """Does ``weights`` name a local checkpoint file (rather than an open_clip pretrained tag)?"""
    path = Path(weights)
    return path.suffix in _CHECKPOINT_SUFFIXES or path.exists()


def create_open_clip(arch: str, weights: str | None = None, seed: int = 0) -> tuple[nn.Module, Callable[[Any], Any]]:
    """``(model, preprocess)`` of an open_clip architecture: random init (seeded) when ``weights`` is ``None``,
    else a local checkpoint file or an open_clip pretrained tag.

    Raises:
        SourceError: unknown architecture, or a checkpoint that does not fit it.
        WeightsUnavailableError: a pretrained tag that cannot be downloaded here.
    """
    open_clip = require("open_clip", "clip")
    if arch not in open_clip.list_models():
        raise SourceError(f"unknown open_clip model {arch!r} (see open_clip.list_models())")
    if weights is None or is_checkpoint(weights):
        with seeded(seed):
            model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None)
        if weights is not None:
            try:
                model.load_state_dict(read_state_dict(weights))
            except RuntimeError as err:
                detail = next((line.strip() for line in str(err).splitlines() if line.strip()), "mismatch")
                raise SourceError(f"{weights} does not fit open_clip {arch}: {detail[:160]}") from err
        return model, preprocess
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=weights)
    except Exception as err:  # network or hub failures, unknown tags
        raise WeightsUnavailableError(
            f"cannot get open_clip weights {arch}:{weights} here ({first_line(err)[:120]}); "
            f"pass a local checkpoint file instead ({arch}:/path/to/weights.pt)"
        ) from None
    return model, preprocess


def load_open_clip(name: str, random_init: bool, seed: int = 0) -> Encoder:
    """``open_clip:ARCH[:WEIGHTS]``: the image tower of an open_clip model (see the module docstring)."""
    arch, _, weights = name.partition(":")
    if not weights and not random_init:
        raise WeightsUnavailableError(
            f"open_clip:{arch} names no weights: use open_clip:{arch}:/path/to/checkpoint.pt (or an open_clip "
            "pretrained tag, which needs the network), or random init (--random-init)"
        )
    model, _ = create_open_clip(arch, None if random_init else weights, seed=seed)
    visual = freeze(model.visual)
    del model
    config = dict(getattr(visual, "preprocess_cfg", None) or {})
    native = as_pair(config.get("size") or getattr(visual, "image_size", 224))
    layout = infer_layout(visual)
    if random_init:
        fingerprint, described = f"random-init-open_clip-{arch}-seed{seed}", "random-init"
    elif is_checkpoint(weights):
        fingerprint, described = file_sha256(weights)[:16], f"open_clip checkpoint {Path(weights).name}"
    else:
        fingerprint, described = parameter_fingerprint(visual), f"open_clip pretrained {arch}:{weights}"
    return probed_encoder(
        visual,
        layout,
        infer_depth_layers(visual),
        native,
        f"open_clip:{name}",
        dict(
            mean=tuple(config.get("mean") or getattr(visual, "image_mean", None) or IMAGENET_MEAN),
            std=tuple(config.get("std") or getattr(visual, "image_std", None) or IMAGENET_STD),
            size=native[0],
            crop_pct=1.0,
            interpolation=str(config.get("interpolation", "bicubic")),
        ),
        architecture=arch,
        weights=described,
        fingerprint=fingerprint,
    )
