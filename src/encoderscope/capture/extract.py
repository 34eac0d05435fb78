"""Capturing activations: all requested layers in ONE forward pass per batch, fed by the one input pipeline.

Images come from :mod:`encoderscope.capture.inputs` (decoded and preprocessed in ``workers`` processes, in order,
unreadable ones skipped and recorded once), are cut into fixed chunks and grouped by padded size into batches
(:mod:`encoderscope.capture.chunks`), run under ``torch.inference_mode`` with hooks that are removed afterwards, and
returned as :class:`~encoderscope.capture.chunks.Batch` objects whose outputs are split into grids and prefix tokens
by the encoder's :class:`~encoderscope.capture.layout.TokenLayout`. With ``cache=`` the outputs also go to (and come
back from) the activation store (:mod:`encoderscope.capture.store`), one shard per chunk, written in a background
thread while the next batch runs.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from encoderscope import devices
from encoderscope._finite import all_finite
from encoderscope._progress import progress_bar
from encoderscope.capture.chunks import Batch, iter_chunk_batches
from encoderscope.capture.hooks import run_captured
from encoderscope.capture.inputs import ImageGeometry, InputSkip, as_image_set, resolve_transform
from encoderscope.capture.layers import LayerSpec, resolve_layers
from encoderscope.capture.outputs import LayerOutput, interpret_output
from encoderscope.capture.store import open_store
from encoderscope.errors import ActivationError, ParameterError

if TYPE_CHECKING:
    from encoderscope.zoo.encoder import Encoder

CacheSpec = bool | str | os.PathLike[str] | None
"""``cache=``: ``False``/``None`` (no store), ``True`` (the default store folder) or a store folder."""


@dataclass
class Activations:
    """Activations of several images, in input order; ``acts[layer]`` concatenates over all images.

    Attributes:
        layers: resolved layer names.
        items: image items in input order (unreadable ones excluded; see ``skipped``).
        prepared: geometry in input order (original, content and padded sizes).
        batches: the batches as computed.
        skipped: inputs that could not be read, as ``(key, reason)`` records.
    """

    layers: list[str]
    items: list[Any]
    prepared: list[ImageGeometry]
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


def _check_finite(name: str, output: LayerOutput) -> None:
    for tensor in (output.grid, output.prefix, output.vector, output.raw):
        if tensor is not None and not all_finite(tensor):
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
        raw = run_captured(encoder.module, pixels, layers, stop_early=stop_early, label=encoder.spec)
    input_hw = (int(pixels.shape[-2]), int(pixels.shape[-1]))
    outputs = {}
    for name in layers:
        tensor = raw[name].detach()
        output = interpret_output(tensor.cpu() if to_host else tensor, encoder.layout, input_hw)
        _check_finite(name, output)
        outputs[name] = output
    return outputs


def outputs_on_device(outputs: dict[str, LayerOutput], device: torch.device) -> dict[str, LayerOutput]:
    """Outputs read from the store (on the CPU) moved to ``device``."""
    if device.type == "cpu":
        return outputs
    return {name: output.to(device) for name, output in outputs.items()}


def iter_model_batches(
    encoder: Encoder,
    image_set: Any,
    forward: Callable[[torch.Tensor], dict[str, LayerOutput]],
    batch_size: int,
    *,
    store: Any = None,
    workers: int | None = None,
    mode: str = "dense",
    progress: bool = True,
    label: str = "capturing activations",
    before_chunk: Callable[[int], None] | None = None,
) -> Iterator[Batch]:
    """The batches of ``forward`` over an image set: the input pipeline, chunks, store, progress and skips.

    The one loop every model-running entry point shares (:func:`iter_batches`, dissection's activation pass):
    unreadable images are recorded in ``image_set.skipped`` (warned about once).
    """
    transform = resolve_transform(encoder.preprocess, mode)
    with progress_bar(label, total=len(image_set), enabled=progress) as advance:
        results = iter_chunk_batches(
            image_set.items, transform, forward, batch_size, store=store, workers=workers, device=encoder.device,
            before_chunk=before_chunk,
        )
        for result in results:
            if isinstance(result, InputSkip):
                image_set.skip(result.key, result.reason)
                advance(1)
                continue
            advance(len(result.indices))
            yield result


def iter_batches(
    encoder: Encoder,
    images: Any,
    layers: LayerSpec | None = None,
    batch_size: int = 16,
    progress: bool = True,
    stop_early: bool = True,
    autocast: bool = False,
    cache: CacheSpec = False,
    device: str | torch.device | None = None,
    to_host: bool = True,
    workers: int | None = None,
) -> Iterator[Batch]:
    """Stream batches of activations (see the module docstring).

    Args:
        encoder: the encoder.
        images: an :class:`~encoderscope.data.ImageSet` or anything :func:`~encoderscope.data.open_images` takes.
        layers: names, globs or depth indices; ``None`` = the last block or stage.
        batch_size: images per forward pass (chunks of ``4 * batch_size`` images are grouped by padded size).
        progress: show a progress bar.
        stop_early: stop the forward pass after the deepest requested layer.
        autocast: run under autocast (bfloat16 on the CPU and recent GPUs, float16 on older GPUs and Apple's mps;
            about 2x faster on CPU; activations are returned as float32).
        cache: the activation store (``True`` = the default folder, or a folder); a chunk found there is read
            without decoding its images, a computed chunk is written as one shard; see
            :mod:`encoderscope.capture.store`.
        device: move the encoder there first (default: where it is; see :func:`~encoderscope.devices.resolve_device`).
        to_host: move outputs to the CPU (``False``: keep them on the encoder's device, stored ones moved there).
        workers: decoding processes (``None``: :func:`~encoderscope.capture.inputs.default_workers`; ``0``: this
            process); the results do not depend on it.
    """
    if device is not None:
        encoder.to(device)
    if autocast:
        devices.autocast_dtype(encoder.device)  # an unsupported device fails here, before any image is read
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
    names = resolve_layers(encoder, layers)
    image_set = as_image_set(images)
    store = open_store(cache, encoder, names, autocast) if cache else None

    def forward(pixels: torch.Tensor) -> dict[str, LayerOutput]:
        return forward_batch(encoder, pixels, names, stop_early=stop_early, autocast=autocast, to_host=to_host)

    for batch in iter_model_batches(encoder, image_set, forward, batch_size, store=store, workers=workers,
                                    progress=progress):
        if not to_host:
            batch.outputs = outputs_on_device(batch.outputs, encoder.device)
        yield batch


def extract(
    encoder: Encoder,
    images: Any,
    layers: LayerSpec | None = None,
    batch_size: int = 16,
    progress: bool = True,
    stop_early: bool = True,
    autocast: bool = False,
    cache: CacheSpec = False,
    device: str | torch.device | None = None,
    workers: int | None = None,
) -> Activations:
    """All requested layers for all images, in input order (see :func:`iter_batches` for the arguments).

    ``acts[layer]`` stacks the images when they share one padded size; unreadable images are skipped and listed in
    ``acts.skipped``.
    """
    image_set = as_image_set(images)
    names = resolve_layers(encoder, layers)
    batches = list(
        iter_batches(
            encoder, image_set, names, batch_size, progress, stop_early=stop_early, autocast=autocast, cache=cache,
            device=device, workers=workers,
        )
    )
    order = sorted((index, b, j) for b, batch in enumerate(batches) for j, index in enumerate(batch.indices))
    items = [batches[b].items[j] for _, b, j in order]
    prepared = [batches[b].prepared[j] for _, b, j in order]
    return Activations(
        layers=names, items=items, prepared=prepared, batches=batches, skipped=list(image_set.skipped)
    )
