"""The configuration of a dissection run (``encoderscope dissect``): :class:`DissectConfig`, checked in one place.

Example:
    >>> DissectConfig(similarity="wpmi", similarity_params={"top_k": 3}).similarity_params
    {'top_k': 3}
    >>> DissectConfig(similarity="wpmi", similarity_params={"alpha": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    encoderscope.errors.ParameterError: unknown option 'alpha' for similarity 'wpmi'; valid: top_k, a, lam, ...
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from encoderscope.capture.config import CaptureConfig
from encoderscope.capture.pooling import POOL_MODES
from encoderscope.configs import (
    HELP_ARCH,
    HELP_RANDOM_INIT,
    HELP_SEED,
    option,
)
from encoderscope.dissect.similarity import get_similarity
from encoderscope.errors import ParameterError

POOLS = ("auto", *POOL_MODES)


def similarity_options(name: str) -> list[str]:
    """The keyword options of similarity function ``name`` (beyond the two matrices)."""
    parameters = list(inspect.signature(get_similarity(name)).parameters.values())[2:]
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


@dataclass(frozen=True)
class DissectConfig(CaptureConfig):
    """Dissection of one layer: the model, the probe images, the concepts, the scorer and the similarity
    (docs/methods/dissection.md)."""

    model: str | None = option(
        None, help="Model spec (zoo:, timm:, tv:, hf:, file:) or an LWTA checkpoint folder (also lwta:FOLDER)."
    )
    layer: str | None = option(None, help="Layer to dissect, e.g. blocks.11.mlp.act or layer4.")
    probe: tuple[str, ...] = option((), help="Probe images: folder, file list, zoo:photos, ...")
    concepts: str | None = option(
        None, help="Concept set: imagenet, fashion-mnist, words-1k/3k/10k or a text file (default: the scorer's)."
    )
    scorer: str = option(
        "labelspace", help="clip:MODEL[:PRETRAINED|:FILE], labelspace[:MODEL] or annotations:FILE."
    )
    similarity: str = option("soft_wpmi", help="soft_wpmi, wpmi, cos_similarity, cos_similarity_cubed, rank_reorder.")
    similarity_params: dict[str, Any] = option(
        None, cli=False, help="Keyword options of the similarity function (docs/methods/dissection.md#defaults)."
    )
    pool: str = option("auto", help="auto (CLS for ViTs, mean for CNNs), mean, max, cls, patch_mean, ...")
    limit: int | None = option(None, help="Use the first N probe images.")
    keep: int = option(5, help="Best concepts kept per unit.", cli=False)
    top_images: int = option(10, help="Top-activating images kept per unit.", cli=False)
    galleries: int = option(16, help="Units with a gallery of top images (0: none).")
    explain: int = option(0, help="Per-image explanations for the first N probe images.")
    block_size: int | None = option(None, help="LWTA block size U for explanations (default: found).")
    batch_size: int = option(32, help="Images per forward pass.")
    random_init: bool = option(False, help=HELP_RANDOM_INIT)
    arch: str | None = option(None, help=HELP_ARCH)
    seed: int = option(0, help=HELP_SEED)

    def check(self) -> None:
        super().check()
        if isinstance(self.probe, str):
            self._set("probe", (self.probe,))
        self._set("similarity_params", dict(self.similarity_params or {}))
        valid = similarity_options(self.similarity)
        unknown = sorted(set(self.similarity_params) - set(valid))
        if unknown:
            raise ParameterError(
                f"unknown option {unknown[0]!r} for similarity {self.similarity!r}; valid: {', '.join(valid)}"
            )
        if self.pool not in POOLS:
            raise ParameterError(f"unknown pool {self.pool!r}; choose one of {', '.join(POOLS)}")
        for name in ("keep", "top_images", "batch_size"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("galleries", "explain"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise ParameterError(f"limit must be at least 1, got {self.limit}")
        if self.block_size is not None and self.block_size < 1:
            raise ParameterError(f"block_size must be at least 1, got {self.block_size}")
