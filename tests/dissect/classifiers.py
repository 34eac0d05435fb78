"""Test helper: a tiny Encoder-like classifier for the label-space scorer (class logits from the mean colour of the
classifier crop, through a fixed ``(3, 2)`` weight)."""

from __future__ import annotations

import torch

from encoderscope.zoo.preprocess import Preprocess


class MeanColourClassifier:
    """Classes ``cat`` and ``car``; logits ``mean_rgb(crop) @ weight``."""

    def __init__(self, weight: list[list[float]]) -> None:
        self.preprocess = Preprocess(size=16)
        self.class_names = ["cat", "car"]
        self.spec = "test:classifier"
        self.device = torch.device("cpu")
        self.weight = torch.tensor(weight)

    def classifier(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.mean(dim=(2, 3)) @ self.weight
