"""The input pipeline: image items -> decoded -> preprocessed -> batched pixel tensors on the device, in input order.

Every method that feeds images to a model goes through this module; nothing else opens images for a forward pass.

* **Transform.** ``"dense"`` (concept maps, capture: :meth:`~encoderscope.zoo.preprocess.Preprocess.dense`, aspect
  kept, zero padding) or ``"classify"`` (the evaluation crop, :meth:`~encoderscope.zoo.preprocess.Preprocess.classify`),
  or any picklable callable ``PIL image -> tensor`` (a scorer's own transform). :func:`prepare_item` turns one
  :class:`~encoderscope.data.ImageItem` into a :class:`PreparedInput` (tensor + :class:`ImageGeometry`) or an
  :class:`InputSkip` with the one-line reason: an unreadable image never raises.
* **Workers.** :func:`iter_prepared` runs :func:`prepare_item` in ``workers`` processes
  (``torch.utils.data.DataLoader`` over a map-style dataset of the items, one item per call, results in order, one
  torch thread per worker); ``workers=0`` decodes in a background thread of the calling process, a few images
  ahead, paused while clustering runs on every core (:mod:`~encoderscope._background`). Batches bound for a CUDA
  device are stacked into page-locked memory (:func:`~encoderscope.devices.stack_batch`) so that the copy is
  asynchronous; pinning each image in the DataLoader as well would only add a copy, as stacking copies the images
  again.
  The default, :func:`default_workers`, is ``min(4, cpu_count - 1)``, and 0 for a model on the CPU of a machine
  with at most 2 cores.
  Results do not depend on the number of workers: every worker runs the same deterministic code on one item.
* **Chunks and batches.** The input order is cut into fixed chunks of consecutive indices
  (:func:`chunk_size_for`: ``4 * batch_size``, independent of workers and caches). Inside a chunk, images are grouped
  by padded size (:class:`SizeGrouper`): a group becomes a forward batch when it holds ``batch_size`` images, the
  remaining groups are flushed at the end of the chunk. The composition of every batch is therefore a pure function of
  the image sizes and ``batch_size``; a chunk is also the unit of the activation store
  (:mod:`encoderscope.capture.chunks`).

Example:
    >>> from PIL import Image
    >>> from encoderscope.data import open_images
    >>> from encoderscope.zoo.preprocess import Preprocess
    >>> images = open_images([Image.new("RGB", (40, 30)), Image.new("RGB", (30, 30)), Image.new("RGB", (40, 30))])
    >>> pre = Preprocess(size=28, pad_multiple=14)
    >>> [(b.indices, tuple(b.pixels.shape)) for b in iter_input_batches(images, pre, batch_size=2, workers=0)]
    [([0, 2], (2, 3, 28, 42)), ([1], (1, 3, 28, 28))]
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from encoderscope import devices
from encoderscope._background import prefetched
from encoderscope.errors import ImageError, ParameterError

MODES = ("dense", "classify")
CHUNK_BATCHES = 4
"""A chunk holds this many forward batches' worth of consecutive images."""

Transform = Callable[[Image.Image], Any]


def default_workers(device: torch.device | str | None = None) -> int:
    """Decoding processes used when ``workers`` is not given, for a model on ``device`` (default: the CPU).

    ``min(4, cpu_count - 1)``: one core is left to the main process (the forward pass), and more than four rarely
    helps a single encoder. On a machine of at most 2 cores with the model on the CPU it is 0: the forward pass
    already uses every core, so a decoding process only takes turns with it and adds its start-up and copies
    (measured here on 2 cores: NAVE on 32 photos 1.30x the bare forward pass with 0 workers, 1.52x with 1; the
    pipeline without the encoder 224 against 177 images/s). With a GPU, decoding overlaps the forward pass.

    Example:
        >>> 0 <= default_workers() <= 4
        True
    """
    cores = os.cpu_count() or 1
    if cores <= 2 and torch.device(device if device is not None else "cpu").type == "cpu":
        return 0
    return min(4, max(0, cores - 1))


def check_workers(workers: int | None, device: torch.device | str | None = None) -> int:
    """``workers`` as a number (``None`` = :func:`default_workers` for ``device``); negative values are a
    ``ParameterError``."""
    if workers is None:
        return default_workers(device)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ParameterError(f"workers must be a number >= 0 (0 = decode in a thread of this process), got {workers!r}")
    return workers


def chunk_size_for(batch_size: int) -> int:
    """Images per chunk for a batch size (``4 * batch_size``): the unit of batch composition and of store shards."""
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
    return CHUNK_BATCHES * batch_size


def chunk_ranges(n_items: int, chunk_size: int) -> list[range]:
    """Consecutive index ranges of ``chunk_size`` (the last one shorter).

    Example:
        >>> chunk_ranges(5, 2)
        [range(0, 2), range(2, 4), range(4, 5)]
    """
    return [range(start, min(start + chunk_size, n_items)) for start in range(0, n_items, chunk_size)]


@dataclass(frozen=True)
class ImageGeometry:
    """Where an image's pixels went: size as loaded, after resizing, and of the padded tensor (all ``(H, W)``)."""

    original_hw: tuple[int, int]
    content_hw: tuple[int, int]
    padded_hw: tuple[int, int]

    def to_list(self) -> list[list[int]]:
        """``[[H, W], [H, W], [H, W]]`` for JSON."""
        return [list(self.original_hw), list(self.content_hw), list(self.padded_hw)]

    @classmethod
    def from_list(cls, values: Sequence[Sequence[int]]) -> ImageGeometry:
        """The inverse of :meth:`to_list`."""
        original, content, padded = (tuple(int(v) for v in pair) for pair in values)
        return cls(original, content, padded)  # type: ignore[arg-type]


@dataclass
class PreparedInput:
    """One preprocessed image: its position in the input, the ``(3, H, W)`` tensor and its geometry."""

    index: int
    tensor: torch.Tensor
    geometry: ImageGeometry


@dataclass(frozen=True)
class InputSkip:
    """An input that could not be read, with the one-line reason."""

    index: int
    key: str
    reason: str


def resolve_transform(preprocess: Any, mode: str = "dense") -> Transform:
    """The callable applied to each decoded image: ``preprocess.dense`` / ``preprocess.classify``, or ``preprocess``
    itself when it is a plain callable (``mode`` is then ignored)."""
    if mode not in MODES:
        raise ParameterError(f"unknown preprocessing mode {mode!r}; choose one of {', '.join(MODES)}")
    method = getattr(preprocess, mode, None)
    if callable(method):
        return method
    if callable(preprocess):
        return preprocess
    raise ParameterError(f"cannot preprocess images with {type(preprocess).__name__}")


def _as_prepared(index: int, image: Image.Image, result: Any) -> PreparedInput:
    original = (image.height, image.width)
    if isinstance(result, torch.Tensor):
        hw = (int(result.shape[-2]), int(result.shape[-1]))
        return PreparedInput(index, result, ImageGeometry(original, hw, hw))
    # a PreparedImage of Preprocess.dense: tensor plus its geometry
    geometry = ImageGeometry(tuple(result.original_hw), tuple(result.content_hw), tuple(result.padded_hw))
    return PreparedInput(index, result.tensor, geometry)


def prepare_item(index: int, item: Any, transform: Transform) -> PreparedInput | InputSkip:
    """Decode and preprocess one item; an unreadable item gives an :class:`InputSkip` instead of an exception.

    Example:
        >>> from encoderscope.data.images import ImageItem
        >>> from pathlib import Path
        >>> prepare_item(0, ImageItem("gone", None, Path("/no/such.png")), lambda im: im).reason
        'cannot read image /no/such.png: no such file'
    """
    try:
        image = item.load()
    except ImageError as err:
        return InputSkip(index, item.key, str(err))
    except Exception as err:  # a user-supplied loader failing in any way: still one line, never a traceback
        text = " ".join(str(err).split())[:200] or type(err).__name__
        return InputSkip(index, item.key, f"cannot read image {item.key}: {text}")
    return _as_prepared(index, image, transform(image))


class ItemDataset(torch.utils.data.Dataset):
    """Map-style dataset over image items: ``dataset[i]`` is :func:`prepare_item` of item ``i``."""

    def __init__(self, items: Sequence[Any], transform: Transform) -> None:
        self.items = items
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> PreparedInput | InputSkip:
        return prepare_item(index, self.items[index], self.transform)


def _one_thread(_: int) -> None:
    """DataLoader worker init: one torch thread per worker (the workers together must not oversubscribe)."""
    torch.set_num_threads(1)


def _identity(sample: Any) -> Any:
    return sample


def iter_prepared(
    items: Sequence[Any],
    transform: Transform,
    workers: int | None = None,
    order: Iterable[int] | None = None,
    ahead: int = 8,
    device: torch.device | str | None = None,
) -> Iterator[PreparedInput | InputSkip]:
    """Prepare ``items`` (in the order of ``order``, default all) in ``workers`` processes, results in that order.

    Args:
        items: image items (``.key``, ``.load()``).
        transform: from :func:`resolve_transform`.
        workers: decoding processes (``0`` = a background thread of this process; ``None`` =
            :func:`default_workers`).
        order: item indices to prepare; may be a lazy iterable (it is consumed as the workers need work).
        ahead: about how many items are prepared ahead of the consumer in total.
        device: where the model runs (only for the default number of workers).

    Example:
        >>> from PIL import Image
        >>> from encoderscope.data import open_images
        >>> from encoderscope.zoo.preprocess import Preprocess
        >>> items = open_images([Image.new("RGB", (8, 8))] * 3).items
        >>> [p.index for p in iter_prepared(items, Preprocess(size=8).dense, workers=0, order=[2, 0])]
        [2, 0]
    """
    n_workers = check_workers(workers, device)
    indices = range(len(items)) if order is None else order
    if n_workers == 0:
        yield from prefetched((prepare_item(index, items[index], transform) for index in indices), ahead,
                              name="encoderscope-decode")
        return
    loader = torch.utils.data.DataLoader(
        ItemDataset(items, transform),
        batch_size=None,
        sampler=indices,
        num_workers=n_workers,
        collate_fn=_identity,
        worker_init_fn=_one_thread,
        prefetch_factor=max(2, math.ceil(ahead / n_workers)),
        in_order=True,
    )
    iterator = iter(loader)
    try:
        yield from iterator
    finally:
        del iterator  # shuts the worker processes down now, also when the consumer stops early


class SizeGrouper:
    """Groups entries by padded size into batches of ``batch_size`` (see the module docstring).

    Example:
        >>> grouper = SizeGrouper(2)
        >>> [grouper.add(i, hw) for i, hw in enumerate([(2, 2), (3, 3), (2, 2)])]
        [None, None, [0, 2]]
        >>> grouper.flush()
        [[1]]
    """

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.groups: dict[tuple[int, int], list[Any]] = {}

    def add(self, entry: Any, padded_hw: tuple[int, int]) -> list[Any] | None:
        """Add one entry; returns a full batch when this entry completes one."""
        group = self.groups.setdefault(padded_hw, [])
        group.append(entry)
        if len(group) < self.batch_size:
            return None
        return self.groups.pop(padded_hw)

    def flush(self) -> list[list[Any]]:
        """The incomplete groups, oldest first (call at the end of a chunk)."""
        batches = list(self.groups.values())
        self.groups.clear()
        return batches


@dataclass
class InputBatch:
    """Preprocessed images of one padded size, ready for a forward pass.

    Attributes:
        indices: positions of the images in the input.
        items: the image items.
        geometry: per image, see :class:`ImageGeometry`.
        pixels: ``(B, 3, H, W)`` on the target device.
    """

    indices: list[int]
    items: list[Any]
    geometry: list[ImageGeometry]
    pixels: torch.Tensor


def stack_inputs(
    prepared: Sequence[PreparedInput], items: Sequence[Any], device: torch.device | str | None = None
) -> InputBatch:
    """One :class:`InputBatch` from prepared inputs of one padded size (``items`` indexed by input position)."""
    target = torch.device("cpu" if device is None else device)
    pixels = devices.to_device(devices.stack_batch([p.tensor for p in prepared], target), target)
    indices = [p.index for p in prepared]
    return InputBatch(indices, [items[i] for i in indices], [p.geometry for p in prepared], pixels)


def iter_input_batches(
    images: Any,
    preprocess: Any,
    batch_size: int = 16,
    mode: str = "dense",
    workers: int | None = None,
    device: torch.device | str | None = None,
    warn_skipped: bool = True,
) -> Iterator[InputBatch]:
    """Batches of preprocessed images in chunk order (see the module docstring); skips are recorded once.

    Args:
        images: an :class:`~encoderscope.data.ImageSet` or anything :func:`~encoderscope.data.open_images` takes;
            unreadable images are left out, warned about once and listed in its ``skipped``.
        preprocess: a :class:`~encoderscope.zoo.preprocess.Preprocess` (with ``mode``) or a callable PIL -> tensor.
        batch_size: images per batch.
        mode: ``"dense"`` or ``"classify"``.
        workers: decoding processes (``None``: :func:`default_workers`).
        device: where the pixel tensors go (pinned, non-blocking copies for CUDA).
    """
    image_set = as_image_set(images)
    transform = resolve_transform(preprocess, mode)
    size = chunk_size_for(batch_size)
    prepared = iter_prepared(image_set.items, transform, workers, ahead=2 * batch_size, device=device)
    with contextlib.closing(prepared):
        for chunk in chunk_ranges(len(image_set), size):
            grouper = SizeGrouper(batch_size)
            for _ in chunk:
                entry = next(prepared)
                if isinstance(entry, InputSkip):
                    image_set.skip(entry.key, entry.reason, warn_skipped)
                    continue
                full = grouper.add(entry, entry.geometry.padded_hw)
                if full is not None:
                    yield stack_inputs(full, image_set.items, device)
            for rest in grouper.flush():
                yield stack_inputs(rest, image_set.items, device)


def iter_fixed_batches(
    items: Sequence[Any],
    transform: Transform,
    batch_size: int,
    workers: int | None = None,
    device: torch.device | str | None = None,
) -> Iterator[torch.Tensor]:
    """Pixel batches of ``batch_size`` consecutive items, in order, for a transform of one output size (a
    classifier crop, a CLIP transform), decoded by ``workers`` processes.

    For items already read once (a scorer's pass over the probe images that the activation pass kept): the rows
    must stay aligned, so an unreadable item raises :class:`~encoderscope.errors.ImageError` instead of being
    skipped.

    Example:
        >>> from PIL import Image
        >>> from encoderscope.data import open_images
        >>> from encoderscope.zoo.preprocess import Preprocess
        >>> items = open_images([Image.new("RGB", (40, 30))] * 3).items
        >>> [tuple(b.shape) for b in iter_fixed_batches(items, Preprocess(size=16).classify, 2, workers=0)]
        [(2, 3, 16, 16), (1, 3, 16, 16)]
    """
    target = torch.device("cpu" if device is None else device)
    prepared = iter_prepared(items, resolve_transform(transform), workers, ahead=2 * batch_size, device=target)
    with contextlib.closing(prepared):
        pending: list[torch.Tensor] = []
        for entry in prepared:
            if isinstance(entry, InputSkip):
                raise ImageError(entry.reason)
            pending.append(entry.tensor)
            if len(pending) == batch_size:
                yield devices.to_device(devices.stack_batch(pending, target), target)
                pending = []
        if pending:
            yield devices.to_device(devices.stack_batch(pending, target), target)


def as_image_set(images: Any) -> Any:
    """``images`` as an :class:`~encoderscope.data.ImageSet` (opened with ``open_images`` unless it is one)."""
    from encoderscope.data.images import ImageSet, open_images

    return images if isinstance(images, ImageSet) else open_images(images)
