"""Content-hashed activation cache: safe to interrupt and resume.

One file per (model, layers, preprocessing, image): the key hashes the encoder's weight fingerprint and
architecture, the resolved layer names, the preprocessing settings, the precision and the decoded pixels of the
image, so a change to any of them misses the cache instead of returning stale activations. Files are written
atomically, so an interrupted run leaves only complete entries and the next run resumes from them.

Example:
    >>> import tempfile, torch
    >>> from PIL import Image
    >>> from encoderscope.capture.outputs import LayerOutput
    >>> cache = ActivationCache(tempfile.mkdtemp(), model_key="demo")
    >>> key = cache.image_key(Image.new("RGB", (4, 4)))
    >>> cache.put(key, {"blocks.0": LayerOutput(grid=torch.ones(1, 2, 3, 3), kind="grid")})
    >>> cache.get(key, ["blocks.0"])["blocks.0"].grid.shape
    torch.Size([1, 2, 3, 3])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from encoderscope._io import cache_dir, read_npz, write_npz
from encoderscope.capture.outputs import LayerOutput

if TYPE_CHECKING:
    from encoderscope.zoo.encoder import Encoder

_PARTS = ("grid", "prefix", "vector", "raw")
CACHE_FORMAT = 1


def model_key(encoder: Encoder, layers: Sequence[str], autocast: bool) -> str:
    """Hash of everything but the image that determines the activations."""
    settings = {
        "format": CACHE_FORMAT,
        "architecture": encoder.architecture,
        "fingerprint": encoder.fingerprint,
        "layers": list(layers),
        "preprocess": dataclasses.asdict(encoder.preprocess),
        "layout": dataclasses.asdict(encoder.layout),
        "autocast": autocast,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


class ActivationCache:
    """Per-image activation files under ``root/<model_key>/``.

    Args:
        root: cache folder (default ``<encoderscope cache>/activations``).
        model_key: the :func:`model_key` of the encoder, layers and settings.
    """

    def __init__(self, root: str | os.PathLike[str] | None, model_key: str) -> None:
        base = Path(root) if root is not None else cache_dir("activations")
        self.folder = base / model_key
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def image_key(image: Image.Image) -> str:
        """Hash of the decoded RGB pixels and size (independent of file name and format)."""
        digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
        digest.update(np.asarray(image).tobytes())
        return digest.hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str, layers: Sequence[str]) -> dict[str, LayerOutput] | None:
        """The cached outputs of one image (batch axis of size 1), or ``None`` on a miss or a damaged file."""
        path = self._path(key)
        if not path.exists():
            self.misses += 1
            return None
        try:
            arrays = read_npz(path)
            meta = json.loads(bytes(arrays.pop("__meta__")).decode())
            outputs = {}
            for index, layer in enumerate(layers):
                info = meta[layer]
                tensors = {part: torch.from_numpy(arrays[f"{index}.{part}"]) for part in _PARTS if info[part]}
                outputs[layer] = LayerOutput(prefix_kinds=tuple(info["prefix_kinds"]), kind=info["kind"], **tensors)
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return outputs

    def put(self, key: str, outputs: dict[str, LayerOutput]) -> None:
        """Store one image's outputs (each tensor with a batch axis of size 1), atomically."""
        arrays: dict[str, np.ndarray] = {}
        meta = {}
        for index, (layer, output) in enumerate(outputs.items()):
            meta[layer] = {"kind": output.kind, "prefix_kinds": list(output.prefix_kinds)}
            for part in _PARTS:
                tensor = getattr(output, part)
                meta[layer][part] = tensor is not None
                if tensor is not None:
                    arrays[f"{index}.{part}"] = tensor.detach().cpu().numpy()
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        write_npz(self._path(key), arrays, compressed=False)
