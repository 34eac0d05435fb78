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
    engine: str = "local",
    ray_address: str | None = None,
    ray_actors: int | None = None,
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
        engine: ``"local"`` or ``"ray"`` (the forward passes and the pooling on a Ray cluster's actors; only the
            pooled ``(B, U)`` rows come back; :mod:`encoderscope.capture.engine`); the values do not depend on it.
        ray_address: the Ray cluster of ``engine="ray"`` (default ``RAY_ADDRESS``, else a local one).
        ray_actors: encoder actors of ``engine="ray"`` (default one per GPU, else half the cluster's CPUs).
    """
    from encoderscope.capture import resolve_layers
    from encoderscope.capture.engine import ModelPass, check_engine_options, map_batches, preflight
    from encoderscope.capture.inputs import as_image_set
    from encoderscope.lwta.convert import lwta_layers
    from encoderscope.zoo import load_model

    ray_address = check_engine_options(engine, ray_address, ray_actors)
    preflight(engine, ray_address)
    encoder = load_model(encoder)
    names = resolve_layers(encoder, [layer])
    if len(names) != 1:
        raise ParameterError(f"dissection takes one layer at a time; {layer!r} matches {len(names)}")
    image_set = as_image_set(images)
    stochastic = bool(lwta_layers(encoder.module))
    # stochastic layers: the noise of a chunk depends only on (seed, chunk), so a stored chunk equals a computed one
    model_pass = ModelPass(
        layers=tuple(names), batch_size=batch_size, autocast=autocast, cache=cache or None,
        cache_extra={"lwta_seed": seed} if stochastic else None, before_chunk=_Reseed(seed) if stochastic else None,
        workers=workers, engine=engine, ray_address=ray_address, ray_actors=ray_actors,
    )
    rows: list[tuple[int, torch.Tensor, Any]] = []
    used = pool
    for indices, values, mode in map_batches(encoder, image_set, _PoolJob(names[0], pool), model_pass, progress):
        used = mode
        rows.extend((index, row, image_set.items[index]) for index, row in zip(indices, values, strict=True))
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


@dataclass(frozen=True)
class _PoolJob:
    """Per-unit values of one batch (a batch job of :func:`~encoderscope.capture.engine.map_batches`)."""

    layer: str
    pool: str

    def __call__(self, encoder: Any, batch: Any) -> tuple[list[int], torch.Tensor, str]:
        from encoderscope.capture import unit_activations

        output = batch.outputs[self.layer]
        used = resolve_pool(output, self.pool)
        return list(batch.indices), unit_activations(output, used).float(), used


@dataclass(frozen=True)
class _Reseed:
    """``before_chunk`` of stochastic layers: :func:`reseed_chunk` with this seed, on whichever process runs."""

    seed: int

    def __call__(self, encoder: Any, chunk: int) -> None:
        reseed_chunk(encoder, self.seed, chunk)


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
