"""Capturing activations: all requested layers in ONE forward pass per batch.

Images of different sizes are grouped by their padded size (bounded buffering), batched, run under
``torch.inference_mode`` with hooks that are removed afterwards, and returned as :class:`Batch` objects whose outputs
are split into grids and prefix tokens by the encoder's :class:`~encoderscope.capture.layout.TokenLayout`.

Example:
    >>> import timm, torch
    >>> from PIL import Image
    >>> from encoderscope.zoo import load_model
    >>> enc = load_model("timm:vit_tiny_patch16_224", random_init=True)
    >>> acts = extract(enc, [Image.new("RGB", (64, 48))], layers=["blocks.0", "blocks.11"], progress=False)
    >>> tuple(acts["blocks.11"].grid.shape), tuple(acts["blocks.11"].prefix.shape)
    ((1, 192, 14, 19), (1, 1, 192))
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from encoderscope import devices
from encoderscope._progress import progress_bar
from encoderscope.capture.cache import ActivationCache, model_key
from encoderscope.capture.hooks import run_captured
from encoderscope.capture.layers import LayerSpec, resolve_layers
from encoderscope.capture.outputs import LayerOutput, interpret_output
from encoderscope.errors import ActivationError, ParameterError
from encoderscope.zoo.preprocess import PreparedImage

if TYPE_CHECKING:
    from encoderscope.zoo.encoder import Encoder


@dataclass
class Batch:
    """One forward pass worth of images (all of one padded size).

    Attributes:
        indices: positions of these images in the input image set.
        items: the image items (``key``, ``label``, ``path``).
        prepared: preprocessing geometry per image (original, content and padded sizes).
        outputs: layer name -> :class:`LayerOutput` for this batch.
    """

    indices: list[int]
    items: list[Any]
    prepared: list[PreparedImage]
    outputs: dict[str, LayerOutput]

    @property
    def input_hw(self) -> tuple[int, int]:
        """Padded input size of the batch."""
        return self.prepared[0].padded_hw


@dataclass
class Activations:
    """Activations of several images, in input order; ``acts[layer]`` concatenates over all images.

    Attributes:
        layers: resolved layer names.
        items: image items in input order (unreadable ones excluded; see ``skipped``).
        prepared: preprocessing geometry in input order.
        batches: the batches as computed.
        skipped: inputs that could not be read, as ``(key, reason)`` records.
    """

    layers: list[str]
    items: list[Any]
    prepared: list[PreparedImage]
    batches: list[Batch]
    skipped: list[Any] = field(default_factory=list)

    def __getitem__(self, layer: str) -> LayerOutput:
        if layer not in self.layers:
            raise KeyError(layer)
        order = sorted(
            ((index, b, j) for b, batch in enumerate(self.batches) for j, index in enumerate(batch.indices)),
        )
        shapes = {batch.input_hw for batch in self.batches}
        if len(shapes) > 1:
            raise ParameterError(
                f"images have {len(shapes)} different padded sizes {sorted(shapes)}; use iter_batches() or a "
                "fixed preprocessing size to stack them"
            )
        parts = [self.batches[b].outputs[layer].select([j]) for _, b, j in order]
        return LayerOutput.concat(parts)

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __contains__(self, layer: object) -> bool:
        return layer in self.layers

    def keys(self) -> list[str]:
        """The layer names."""
        return list(self.layers)


def _as_image_set(images: Any) -> Any:
    from encoderscope.data.images import ImageSet, open_images

    return images if isinstance(images, ImageSet) else open_images(images)


def _prepared_batches(
    encoder: Encoder, image_set: Any, batch_size: int, max_buffered: int, with_keys: bool
) -> Iterator[list[_Entry]]:
    """Group prepared images by padded size; flush full buckets, and the largest one when too many are held."""
    buckets: dict[tuple[int, int], list[_Entry]] = {}
    held = 0
    for index, item, image in image_set.iter_loaded():
        prepared = encoder.preprocess.dense(image)
        key = ActivationCache.image_key(image) if with_keys else None
        bucket = buckets.setdefault(prepared.padded_hw, [])
        bucket.append(_Entry(index, item, prepared, key))
        held += 1
        if len(bucket) >= batch_size:
            held -= len(bucket)
            yield buckets.pop(prepared.padded_hw)
        elif held >= max_buffered:
            largest = max(buckets, key=lambda size: len(buckets[size]))
            held -= len(buckets[largest])
            yield buckets.pop(largest)
    for size in list(buckets):
        yield buckets.pop(size)


@dataclass
class _Entry:
    index: int
    item: Any
    prepared: PreparedImage
    cache_key: str | None


def _check_finite(name: str, output: LayerOutput) -> None:
    for tensor in (output.grid, output.prefix, output.vector, output.raw):
        if tensor is not None and not torch.isfinite(tensor).all():
            raise ActivationError(f"layer {name!r} produced NaN or Inf activations")


def forward_batch(
    encoder: Encoder,
    pixels: torch.Tensor,
    layers: Sequence[str],
    stop_early: bool = True,
    autocast: bool = False,
    to_host: bool = True,
) -> dict[str, LayerOutput]:
    """Run one preprocessed batch ``(B, 3, H, W)`` and return the interpreted outputs of exact layer names.

    The pixels go to the encoder's device (asynchronously from pinned memory on CUDA); the outputs come back to the
    CPU as float32 (``to_host=False`` leaves them on the encoder's device, e.g. for clustering there). ``autocast``
    runs the forward in :func:`~encoderscope.devices.autocast_dtype` of that device.
    """
    device = encoder.device
    pixels = devices.to_device(pixels, device)
    with torch.inference_mode(), devices.autocast(device, enabled=autocast):
        raw = run_captured(encoder.module, pixels, layers, stop_early=stop_early)
    input_hw = (int(pixels.shape[-2]), int(pixels.shape[-1]))
    outputs = {}
    for name in layers:
        tensor = raw[name].detach()
        output = interpret_output(tensor.cpu() if to_host else tensor, encoder.layout, input_hw)
        _check_finite(name, output)
        outputs[name] = output
    return outputs


def iter_batches(
    encoder: Encoder,
    images: Any,
    layers: LayerSpec | None = None,
    batch_size: int = 16,
    progress: bool = True,
    stop_early: bool = True,
    autocast: bool = False,
    max_buffered: int | None = None,
    cache: bool | str | os.PathLike[str] = False,
    device: str | torch.device | None = None,
    to_host: bool = True,
) -> Iterator[Batch]:
    """Stream batches of activations (see the module docstring).

    Args:
        encoder: the encoder.
        images: an :class:`~encoderscope.data.ImageSet` or anything :func:`~encoderscope.data.open_images` takes.
        layers: names, globs or depth indices; ``None`` = the last block or stage.
        batch_size: images per forward pass.
        progress: show a progress bar.
        stop_early: stop the forward pass after the deepest requested layer.
        autocast: run under autocast (bfloat16 on the CPU and recent GPUs, float16 on older GPUs and Apple's mps;
            about 2x faster on CPU; activations are returned as float32).
        max_buffered: images held while grouping sizes (default ``4 * batch_size``).
        cache: reuse activations from the content-hashed cache (``True`` = the default cache folder, or a folder);
            see :mod:`encoderscope.capture.cache`.
        device: move the encoder there first (default: where it is; see :func:`~encoderscope.devices.resolve_device`).
        to_host: move computed outputs to the CPU (``False``: keep them on the encoder's device; outputs read from
            the cache are on the CPU).
    """
    if device is not None:
        encoder.to(device)
    if autocast:
        devices.autocast_dtype(encoder.device)  # an unsupported device fails here, before any image is read
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
    names = resolve_layers(encoder, layers)
    image_set = _as_image_set(images)
    limit = max_buffered or 4 * batch_size
    store = None
    if cache:
        root = None if cache is True else cache
        store = ActivationCache(root, model_key(encoder, names, autocast))  # type: ignore[arg-type]
    with progress_bar("capturing activations", total=len(image_set), enabled=progress) as advance:
        for entries in _prepared_batches(encoder, image_set, batch_size, limit, with_keys=store is not None):
            outputs = _cached_outputs(store, entries, names) if store is not None else None
            if outputs is None:
                pixels = devices.stack_batch([entry.prepared.tensor for entry in entries], encoder.device)
                outputs = forward_batch(
                    encoder, pixels, names, stop_early=stop_early, autocast=autocast, to_host=to_host
                )
                if store is not None:
                    for j, entry in enumerate(entries):
                        store.put(entry.cache_key, {n: o.select([j]) for n, o in outputs.items()})  # type: ignore[arg-type]
            advance(len(entries))
            yield Batch(
                indices=[e.index for e in entries],
                items=[e.item for e in entries],
                prepared=[e.prepared for e in entries],
                outputs=outputs,
            )


def _cached_outputs(store: ActivationCache, entries: list[_Entry], names: list[str]) -> dict[str, LayerOutput] | None:
    """The batch's outputs from the cache when every image is there, else ``None`` (the batch is recomputed)."""
    found = []
    for entry in entries:
        outputs = store.get(entry.cache_key, names)  # type: ignore[arg-type]
        if outputs is None:
            return None
        found.append(outputs)
    return {name: LayerOutput.concat([f[name] for f in found]) for name in names}


def extract(
    encoder: Encoder,
    images: Any,
    layers: LayerSpec | None = None,
    batch_size: int = 16,
    progress: bool = True,
    stop_early: bool = True,
    autocast: bool = False,
    cache: bool | str | os.PathLike[str] = False,
    device: str | torch.device | None = None,
) -> Activations:
    """All requested layers for all images, in input order (see :func:`iter_batches` for the arguments).

    ``acts[layer]`` stacks the images when they share one padded size; unreadable images are skipped and listed in
    ``acts.skipped``.
    """
    image_set = _as_image_set(images)
    names = resolve_layers(encoder, layers)
    batches = list(
        iter_batches(
            encoder,
            image_set,
            names,
            batch_size,
            progress,
            stop_early=stop_early,
            autocast=autocast,
            cache=cache,
            device=device,
        )
    )
    order = sorted((index, b, j) for b, batch in enumerate(batches) for j, index in enumerate(batch.indices))
    items = [batches[b].items[j] for _, b, j in order]
    prepared = [batches[b].prepared[j] for _, b, j in order]
    return Activations(
        layers=names, items=items, prepared=prepared, batches=batches, skipped=list(image_set.skipped)
    )
