"""Small classifiers trained for the studies: a narrow ResNet-10 ("cnn") and a 4-block ViT ("vit").

The architectures, the training loop (AdamW/SGD, cosine schedule, label smoothing, seeded data order) and the
checkpoints are those of :mod:`encoderscope.lwta` with ``U=1`` (plain ReLU/GELU activations), so nothing is
re-implemented here. This module only adds what the studies need around them:

* :func:`fashion_arrays`: a seeded subset of Fashion-MNIST as uint8 arrays, up-scaled to the training size;
* :func:`to_tensors`: uint8 grey or RGB arrays to normalised ``(N, 3, S, S)`` inputs of a model config;
* :func:`train_classifier`: train one network on given arrays;
* :func:`predict`: class predictions of a trained network;
* :func:`as_encoder`: the trained network as an :class:`~encoderscope.zoo.Encoder` for capture and NAVE.

Example:
    >>> x, y = fashion_arrays("t10k", limit=8, size=32)
    >>> x.shape, x.dtype.name
    ((8, 32, 32), 'uint8')
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoderscope import devices
from encoderscope.errors import ParameterError
from encoderscope.lwta.models import ModelConfig, encoder_for
from encoderscope.lwta.train import TrainConfig, TrainResult, train
from encoderscope.zoo.encoder import Encoder

Arch = Literal["cnn", "vit"]


def fashion_arrays(split: str, limit: int | None, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of Fashion-MNIST ``split`` as uint8 ``(N, size, size)`` images (bilinear) and int64 labels."""
    from encoderscope.data.zoo_images import fashion_mnist

    images, labels = fashion_mnist(split)
    order = np.arange(len(labels))
    if limit is not None and limit < len(labels):
        order = np.sort(np.random.default_rng(seed).choice(len(labels), size=limit, replace=False))
    pixels = torch.from_numpy(images[order]).float()[:, None]
    if size != pixels.shape[-1]:
        pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
    out = pixels[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    return out, labels[order].astype(np.int64)


def model_config(arch: Arch, size: int = 64, seed: int = 0, class_names: list[str] | None = None) -> ModelConfig:
    """The study classifiers: ``cnn`` = ResNet-10 (16-32-64-128), ``vit`` = patch size/8, dim 64, 4 blocks, 4 heads.

    Example:
        >>> model_config("vit", 64).patch_size
        8
    """
    if arch not in ("cnn", "vit"):
        raise ParameterError(f"unknown classifier architecture {arch!r}; use cnn or vit")
    if size % 8:
        raise ParameterError(f"the image size must be a multiple of 8, got {size}")
    return ModelConfig(
        arch="resnet" if arch == "cnn" else "vit",
        U=1,
        img_size=size,
        patch_size=size // 8,
        seed=seed,
        class_names=list(class_names or []),
    )


def to_tensors(images: np.ndarray, config: ModelConfig) -> torch.Tensor:
    """uint8 ``(N, S, S)`` or ``(N, S, S, 3)`` images to normalised float ``(N, 3, S, S)`` (the config's mean/std)."""
    data = np.asarray(images)
    if data.dtype != np.uint8 or data.ndim not in (3, 4):
        raise ParameterError(f"expected uint8 (N, H, W) or (N, H, W, 3) images, got {data.dtype} {data.shape}")
    pixels = torch.from_numpy(data).float() / 255.0
    pixels = pixels[:, None].expand(-1, 3, -1, -1) if data.ndim == 3 else pixels.permute(0, 3, 1, 2)
    return ((pixels - config.mean) / config.std).contiguous()


def train_classifier(
    arch: Arch,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    epochs: int = 2,
    seed: int = 0,
    class_names: list[str] | None = None,
    batch_size: int = 128,
    progress: bool = True,
    device: str | None = None,
    autocast: bool = False,
) -> TrainResult:
    """Train a ``cnn`` or ``vit`` classifier on uint8 images (see :func:`to_tensors`) with the lwta recipe (U=1),
    on ``device`` (default: ``cuda`` when available, else ``cpu``; ``autocast``: mixed precision)."""
    size = int(train_data[0].shape[1])
    config = model_config(arch, size, seed, class_names)
    data = (
        to_tensors(train_data[0], config),
        torch.as_tensor(train_data[1]),
        to_tensors(test_data[0], config),
        torch.as_tensor(test_data[1]),
    )
    recipe = TrainConfig(model=config, epochs=epochs, batch_size=batch_size, seed=seed, train_limit=None,
                         test_limit=None, device=device, autocast=autocast)
    return train(recipe, data=data, passes=1, progress=progress)


@torch.inference_mode()
def predict(model: nn.Module, images: np.ndarray, config: ModelConfig, batch_size: int = 256) -> np.ndarray:
    """Predicted class per image (``eval()`` mode, where the model is)."""
    model.eval()
    device = devices.module_device(model)
    pixels = to_tensors(images, config)
    out = [model(devices.to_device(pixels[i : i + batch_size], device)).argmax(1).cpu()
           for i in range(0, len(pixels), batch_size)]
    return torch.cat(out).numpy()


def as_encoder(result: TrainResult, name: str) -> Encoder:
    """A trained classifier as an Encoder (its preprocessing, its blocks/stages as depth layers)."""
    encoder = encoder_for(result.model, result.config.model, spec=f"trained:{name}")
    return encoder  # type: ignore[return-value]
