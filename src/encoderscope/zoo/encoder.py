"""The :class:`Encoder`: a frozen vision model with its preprocessing, token layout and provenance."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from encoderscope.capture.layout import TokenLayout
from encoderscope.devices import module_device, resolve_device
from encoderscope.zoo.preprocess import Preprocess


@dataclass
class Encoder:
    """A model ready for capture.

    Attributes:
        module: the network, in ``eval()`` mode with ``requires_grad`` off.
        preprocess: the transform that comes with the weights.
        layout: prefix tokens and patch grid (see :class:`~encoderscope.capture.layout.TokenLayout`).
        spec: the spec string it was loaded from (``"zoo:dinov2-vits14"``, ``"module:MyNet"``...).
        architecture: architecture name (``"vit_small_patch14_dinov2"``).
        weights: ``"random-init"`` or a description of the pretrained weights.
        fingerprint: a hash that changes when the weights change (used as an activation-cache key).
        depth_layers: the model's blocks or stages, shallow to deep (``blocks.0`` ... ``blocks.11``).
        classifier: optional callable mapping a batch of ``classify``-preprocessed images to logits.
        class_names: names of the classifier's outputs, when known.
        feature_layer: the penultimate (pooled feature) layer name for classifiers, when known.
    """

    module: nn.Module
    preprocess: Preprocess
    layout: TokenLayout
    spec: str
    architecture: str
    weights: str
    fingerprint: str
    depth_layers: list[str] = field(default_factory=list)
    classifier: Callable[[torch.Tensor], torch.Tensor] | None = None
    class_names: Sequence[str] | None = None
    feature_layer: str | None = None

    @property
    def device(self) -> torch.device:
        """Where the model is: the device of its parameters (or buffers; the CPU for a module with neither)."""
        return module_device(self.module)

    @property
    def default_layers(self) -> list[str]:
        """The last block or stage: what NAVE uses when no layers are given."""
        return self.depth_layers[-1:] if self.depth_layers else []

    @property
    def random_init(self) -> bool:
        """True when the weights are random."""
        return self.weights == "random-init"

    def to(self, device: str | torch.device) -> Encoder:
        """Move the module to ``device`` (checked by :func:`~encoderscope.devices.resolve_device`); returns ``self``."""
        self.module.to(resolve_device(device))
        return self

    def __repr__(self) -> str:
        return (
            f"Encoder(spec={self.spec!r}, architecture={self.architecture!r}, weights={self.weights!r}, "
            f"layout={self.layout.describe()!r}, depth_layers={len(self.depth_layers)})"
        )
