"""Neuron activations for dissection: an ``(N images, U units)`` matrix from one layer, through the capture core.

Pooling (``pool``): ``"auto"`` takes the CLS token for token outputs (CLIP-Dissect and DISCOVER hook ViTs this way;
for a DISCOVER ViT the layer is ``blocks.i.mlp.act``, the LWTA outputs of the CLS token), the spatial mean for conv
grids, and vectors as they are. Other modes: ``mean``/``max`` (conv channels; for token outputs over the patch
tokens), ``cls``, ``patch_mean``, ``patch_max``, ``registers`` (see :func:`encoderscope.capture.unit_activations`).
Registers are never mixed into the other modes.

LWTA layers stay stochastic in ``eval()`` mode (as the released code); their noise is reseeded from ``(seed, chunk)``
before each chunk of the input pipeline (a generator on the encoder's device), so the same seed gives the same
activations on the same device, and a chunk read from the activation store equals one computed again.
The forward passes run where the encoder is; the pooled ``(N, U)`` values are returned on the CPU.

Example:
    >>> import timm, torch
    >>> from encoderscope.zoo import load_model
    >>> vit = timm.models.VisionTransformer(patch_size=32, embed_dim=16, depth=1, num_heads=2)
    >>> enc = load_model(vit)
    >>> from PIL import Image
    >>> acts = neuron_activations(enc, [Image.new("RGB", (32, 32))] * 2, "blocks.0.mlp.act", progress=False)
    >>> tuple(acts.values.shape), acts.pool
    ((2, 64), 'cls')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from encoderscope import devices
from encoderscope.errors import ParameterError


@dataclass
class NeuronActivations:
    """Per-unit activations of one layer over a probe set.

    Attributes:
        layer: the dotted layer name.
        values: ``(N, U)`` float32.
        items: the probe images that were read, in order (``ImageItem``-like, with ``.key``).
        pool: the pooling mode used.
        skipped: ``(key, reason)`` of unreadable probe images.
    """

    layer: str
    values: torch.Tensor
    items: list[Any]
    pool: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        """Image keys in row order."""
        return [str(getattr(item, "key", i)) for i, item in enumerate(self.items)]


def resolve_pool(output: Any, pool: str) -> str:
    """``auto`` -> ``cls`` for token outputs with a CLS token, ``mean`` otherwise."""
    if pool != "auto":
        return pool
    if output.vector is None and output.prefix is not None and "cls" in output.prefix_kinds:
        return "cls"
    return "mean"


def neuron_activations(
    encoder: Any,
    images: Any,
    layer: str,
    pool: str = "auto",
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
    autocast: bool = False,
    workers: int | None = None,
    cache: Any = False,
) -> NeuronActivations:
    """Unit activations of ``layer`` for every readable probe image (see the module docstring).

    Args:
        encoder: an :class:`~encoderscope.zoo.Encoder` (or anything ``load_model`` takes).
        images: an ``ImageSet`` or anything ``open_images`` takes.
        layer: one layer name (globs must resolve to one layer).
        pool: ``auto``, ``mean``, ``max``, ``cls``, ``patch_mean``, ``patch_max``, ``registers``.
        batch_size: images per forward pass.
        seed: seed of the LWTA noise.
        progress: show a progress bar.
        autocast: run the forward passes in mixed precision (:func:`~encoderscope.devices.autocast_dtype`).
        workers: processes decoding the probe images (the input pipeline, :mod:`encoderscope.capture.inputs`).
        cache: an activation store folder (``True``: the default one); the layer's outputs are stored per chunk
            and read back by the next run (:mod:`encoderscope.capture.store`).
    """
    from encoderscope.capture import forward_batch, resolve_layers, unit_activations
    from encoderscope.capture.extract import iter_model_batches
    from encoderscope.capture.inputs import as_image_set
    from encoderscope.capture.store import open_store
    from encoderscope.lwta.convert import lwta_layers
    from encoderscope.zoo import load_model

    encoder = load_model(encoder)
    names = resolve_layers(encoder, [layer])
    if len(names) != 1:
        raise ParameterError(f"dissection takes one layer at a time; {layer!r} matches {len(names)}")
    image_set = as_image_set(images)
    stochastic = bool(lwta_layers(encoder.module))
    # stochastic layers: the noise of a chunk depends only on (seed, chunk), so a stored chunk equals a computed one
    store = open_store(cache, encoder, names, autocast, extra={"lwta_seed": seed} if stochastic else None) if cache \
        else None

    def forward(pixels: torch.Tensor) -> dict[str, Any]:
        return forward_batch(encoder, pixels, names, autocast=autocast)

    rows: list[tuple[int, torch.Tensor, Any]] = []
    used = pool
    batches = iter_model_batches(
        encoder, image_set, forward, batch_size, store=store, workers=workers, progress=progress,
        before_chunk=partial(reseed_chunk, encoder, seed) if stochastic else None,
    )
    for batch in batches:
        output = batch.outputs[names[0]]
        used = resolve_pool(output, pool)
        values = unit_activations(output, used).float()
        rows.extend(zip(batch.indices, values, batch.items, strict=True))
    if not rows:
        raise ParameterError("no probe image could be read")
    rows.sort(key=lambda row: row[0])
    skipped = [(s.key, s.reason) for s in getattr(image_set, "skipped", [])]
    return NeuronActivations(
        layer=names[0],
        values=torch.stack([r[1] for r in rows]),
        items=[r[2] for r in rows],
        pool=used,
        skipped=skipped,
    )


def reseed_chunk(encoder: Any, seed: int, chunk: int) -> None:
    """Seed the LWTA noise of chunk ``chunk`` from ``(seed, chunk)`` (on the encoder's device)."""
    from encoderscope.lwta.convert import set_generator

    state = int(np.random.SeedSequence([seed, chunk]).generate_state(1, dtype=np.uint64)[0] >> 1)
    set_generator(encoder.module, devices.seeded_generator(state, encoder.device))


def activations_from_tensor(
    values: torch.Tensor, layer: str, keys: Sequence[str] | None = None, pool: str = "given"
) -> NeuronActivations:
    """Wrap a precomputed ``(N, U)`` matrix (for activations computed elsewhere)."""
    values = torch.as_tensor(values, dtype=torch.float32)
    if values.dim() != 2:
        raise ParameterError(f"activations must be (N, U), got shape {tuple(values.shape)}")
    keys = list(keys) if keys is not None else [str(i) for i in range(values.shape[0])]
    return NeuronActivations(layer=layer, values=values, items=[_Key(k) for k in keys], pool=pool)


@dataclass(frozen=True)
class _Key:
    key: str

    def load(self) -> Any:
        raise ParameterError(f"image {self.key} has no pixels (activations were given as a matrix)")
