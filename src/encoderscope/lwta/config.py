"""The configuration of ``encoderscope lwta train``: :class:`LwtaTrainConfig`, checked in one place.

It is the flat, command-line view of :class:`~encoderscope.lwta.train.TrainConfig` (which nests the architecture's
:class:`~encoderscope.lwta.models.ModelConfig`); :func:`encoderscope.lwta.train.train_config` builds that.

Example:
    >>> LwtaTrainConfig(arch="resnet", U=2).U
    2
    >>> LwtaTrainConfig(U=0)
    Traceback (most recent call last):
    ...
    encoderscope.errors.ParameterError: U must be at least 1 (1 = the GELU/ReLU baseline), got 0
"""

from __future__ import annotations

from dataclasses import dataclass

from encoderscope.configs import HELP_AUTOCAST, HELP_SEED, Config, option
from encoderscope.errors import ParameterError

ARCHS = ("vit", "resnet")
OPTIMIZERS = ("auto", "adamw", "sgd")


@dataclass(frozen=True)
class LwtaTrainConfig(Config):
    """One small LWTA network trained on Fashion-MNIST with the CPU recipe (docs/methods/lwta.md)."""

    arch: str = option("vit", help="vit (patch 4, 32 px) or resnet (narrow ResNet-10).")
    U: int = option(4, flags=("--U", "-U"), help="Competitors per LWTA block (1 = GELU/ReLU baseline).")
    epochs: int = option(2, help="Training epochs.")
    batch_size: int = option(128, help="Images per training step.")
    optimizer: str = option("auto", help="adamw, sgd or auto (AdamW for vit, SGD for resnet).")
    lr: float | None = option(None, help="Peak learning rate (default 1e-3 AdamW, 0.2 SGD).")
    train_limit: int = option(12000, help="Training images (seeded subset; 0 = all 60k).")
    test_limit: int = option(2000, help="Test images (seeded subset; 0 = all 10k).")
    kl_weight: float = option(0.0, help="Weight of the KL to the uniform prior (0: released code).")
    passes: int | None = option(None, help="Stochastic passes at evaluation (default 6 vit, 3 resnet).")
    seed: int = option(0, help=HELP_SEED)
    autocast: bool = option(False, help=HELP_AUTOCAST)

    def check(self) -> None:
        if self.arch not in ARCHS:
            raise ParameterError(f"unknown architecture {self.arch!r}; use vit or resnet")
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"unknown optimizer {self.optimizer!r}; use adamw, sgd or auto")
        if self.U < 1:
            raise ParameterError(f"U must be at least 1 (1 = the GELU/ReLU baseline), got {self.U}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ParameterError("epochs and batch_size must be at least 1")
        if self.train_limit < 0 or self.test_limit < 0:
            raise ParameterError("train_limit and test_limit must be >= 0 (0 = all)")
        if self.lr is not None and self.lr <= 0:
            raise ParameterError(f"lr must be positive, got {self.lr}")
        if self.passes is not None and self.passes < 1:
            raise ParameterError(f"evaluation needs at least one pass, got {self.passes}")
