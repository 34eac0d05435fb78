"""Chunks: the unit of forward-batch composition and of the activation store, shared by every engine.

The input order is cut into chunks of consecutive images (:func:`~encoderscope.capture.inputs.chunk_size_for`). For
each chunk a :class:`ChunkPlan` decides, before anything is decoded, where its activations come from:

1. **its own shard**: the store holds a shard named after this chunk (:func:`chunk_shard_name`: a hash of the model
   key, the batch size and the chunk's image keys in order). That shard was computed with exactly this chunk's batch
   composition, so reading it gives the same bits as computing it: this is how a killed run resumes bit-identically;
2. **the store's index**: every image of the chunk is in shards that existed when the run started (written by runs
   with other chunks or batch sizes; the activations are the same up to float rounding of the batch composition);
3. **the model**: otherwise the whole chunk is decoded and computed, in the same composition as any other run, and
   written as one shard under the chunk's name (in a background thread, so the next forward pass is not blocked).

Images of the chunk are grouped by padded size into forward batches (:class:`~encoderscope.capture.inputs.SizeGrouper`)
in both cases, so stored and computed chunks are yielded as the same batches in the same order.

:func:`process_chunk` does all of this for one chunk in the calling process (decoding included): the function a
parallel engine's worker (e.g. a Ray Data ``map_batches`` actor holding an encoder) runs on its chunks.
:func:`iter_chunk_batches` is the local engine: the same per-chunk code, fed by the input pipeline's decoding
workers, which run ahead of the forward passes.

Example:
    >>> import torch
    >>> from PIL import Image
    >>> from encoderscope.capture.inputs import resolve_transform
    >>> from encoderscope.capture.outputs import LayerOutput
    >>> from encoderscope.data import open_images
    >>> from encoderscope.zoo.preprocess import Preprocess
    >>> items = open_images([Image.new("RGB", (8, 8))] * 3).items
    >>> forward = lambda pixels: {"mean": LayerOutput(vector=pixels.mean((2, 3)), kind="vector")}
    >>> runs = iter_chunk_batches(items, resolve_transform(Preprocess(size=8)), forward, batch_size=2, workers=0)
    >>> [batch.indices for batch in runs]
    [[0, 1], [2]]
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from encoderscope import devices
from encoderscope._progress import warn
from encoderscope.capture.inputs import (
    ImageGeometry,
    InputSkip,
    PreparedInput,
    SizeGrouper,
    Transform,
    chunk_ranges,
    chunk_size_for,
    iter_prepared,
    prepare_item,
)
from encoderscope.capture.outputs import LayerOutput
from encoderscope.capture.store import SHARD_SUFFIX, ActivationStore, StoredImage

Forward = Callable[[torch.Tensor], dict[str, LayerOutput]]
"""A forward pass: pixels ``(B, 3, H, W)`` -> layer name -> :class:`LayerOutput` (batch axis B)."""


@dataclass
class Batch:
    """One forward pass worth of images (all of one padded size).

    Attributes:
        indices: positions of these images in the input image set.
        items: the image items (``key``, ``label``, ``path``).
        prepared: geometry per image (original, content and padded sizes; see
            :class:`~encoderscope.capture.inputs.ImageGeometry`).
        outputs: layer name -> :class:`LayerOutput` for this batch.
        stored: whether the outputs were read from the activation store rather than computed.
    """

    indices: list[int]
    items: list[Any]
    prepared: list[ImageGeometry]
    outputs: dict[str, LayerOutput]
    stored: bool = False

    @property
    def input_hw(self) -> tuple[int, int]:
        """Padded input size of the batch."""
        return self.prepared[0].padded_hw


def chunk_shard_name(model_key: str, batch_size: int, keys: Sequence[str | None]) -> str:
    """The deterministic shard name of one chunk (unreadable images, without a key, count as ``-``).

    Example:
        >>> chunk_shard_name("m", 8, ["a", None]) == chunk_shard_name("m", 8, ["a", None])
        True
    """
    text = "\n".join([model_key, str(batch_size), *(key or "-" for key in keys)])
    return "chunk-" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class ChunkPlan:
    """Where one chunk's activations come from (see the module docstring).

    Attributes:
        number: chunk number (0, 1, ...).
        indices: the input positions of the chunk.
        keys: content key per image (``None``: unreadable, or no store).
        shard: the chunk's own shard name (``None`` without a store).
        stored: key -> shard to read from when the chunk is served from the store, else ``None``.
    """

    number: int
    indices: list[int]
    keys: list[str | None]
    shard: str | None = None
    stored: dict[str, str] | None = None

    @property
    def decode(self) -> list[int]:
        """Positions that must be decoded: all of a computed chunk, the unreadable ones of a stored chunk."""
        if self.stored is None:
            return list(self.indices)
        return [i for i, key in zip(self.indices, self.keys, strict=True) if key not in self.stored]


@dataclass(frozen=True)
class StoreView:
    """What the store held when a run started: key -> shard, and the keys known to be undecodable."""

    index: dict[str, str]
    unreadable: frozenset[str]

    @classmethod
    def of(cls, store: ActivationStore) -> StoreView:
        """A snapshot of ``store``."""
        return cls(store.snapshot(), frozenset(store.unreadable_keys()))


def plan_chunk(
    number: int,
    indices: Sequence[int],
    items: Sequence[Any],
    batch_size: int,
    store: ActivationStore | None,
    view: StoreView | None = None,
) -> ChunkPlan:
    """The :class:`ChunkPlan` of one chunk; ``view`` is the store at the start of the run (for rule 2)."""
    indices = list(indices)
    if store is None:
        return ChunkPlan(number, indices, [None] * len(indices))
    keys = [store.key_of(items[i]) for i in indices]
    shard = chunk_shard_name(store.model_key, batch_size, keys)
    own = store.shard_keys(shard + SHARD_SUFFIX)
    stored = None
    if own is not None:
        stored = dict.fromkeys(own[0], shard + SHARD_SUFFIX)
    elif view is not None and all(key is None or key in view.index or key in view.unreadable for key in keys):
        stored = {key: view.index[key] for key in keys if key in view.index}
    return ChunkPlan(number, indices, keys, shard, stored or None)


class _ShardWriter:
    """Writes shards in one background thread, at most two pending; a failing store is reported once."""

    def __init__(self, store: ActivationStore) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoderscope-store")
        self.pending: deque[Future[Any]] = deque()
        self.failed = threading.Event()

    def _write(self, shard: PendingShard) -> None:
        if self.failed.is_set():
            return
        try:
            self.store.write(shard.images, shard.name, shard.unreadable)
        except OSError as err:
            self.failed.set()
            warn(f"activation store: cannot write to {self.store.folder} ({err}); continuing without storing")

    def submit(self, shard: PendingShard) -> None:
        while len(self.pending) >= 2:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._write, shard))

    def close(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True)
            with contextlib.suppress(OSError):
                self.store.close()


@dataclass
class PendingShard:
    """A computed chunk waiting to be stored: its images, the shard name (``None``: random) and unreadable keys."""

    images: list[StoredImage]
    name: str | None
    unreadable: list[str]


@dataclass
class _Entry:
    index: int
    geometry: ImageGeometry
    key: str | None
    prepared: PreparedInput | None = None
    stored: StoredImage | None = None


@dataclass
class ChunkRunner:
    """Runs chunk plans: reads stored chunks, computes the others batch by batch, collects what to store.

    Attributes:
        items: the image items (indexed by input position).
        transform: decoded image -> tensor (:func:`~encoderscope.capture.inputs.resolve_transform`).
        forward: the forward pass (:data:`Forward`).
        batch_size: images per forward pass.
        store: the activation store, or ``None``.
        before_chunk: called with the chunk number before the chunk's first forward pass (e.g. to reseed
            stochastic layers per chunk, so that a recomputed chunk sees the same noise).
        device: where pixel batches go before the forward pass.
    """

    items: Sequence[Any]
    transform: Transform
    forward: Forward
    batch_size: int
    store: ActivationStore | None = None
    before_chunk: Callable[[int], None] | None = None
    device: torch.device | str | None = None
    to_store: list[PendingShard] = field(default_factory=list)
    _computed: list[StoredImage] = field(default_factory=list, repr=False)
    _chunk: int | None = field(default=None, repr=False)

    def run(self, plan: ChunkPlan, prepared: Callable[[int], PreparedInput | InputSkip]) -> Iterator[Batch | InputSkip]:
        """Batches of one chunk (and a skip record per unreadable image); ``prepared(i)`` decodes position ``i``.

        After the chunk, the computed images wait in :attr:`to_store` as one shard (named after the chunk when the
        whole chunk was computed).
        """
        stored = self.store.read(plan.stored, index=plan.stored) if self.store and plan.stored else {}
        keys = dict(zip(plan.indices, plan.keys, strict=True))
        decode = set(plan.decode)
        grouper = SizeGrouper(self.batch_size)
        self._computed: list[StoredImage] = []
        self._chunk: int | None = plan.number
        any_stored = False
        unreadable = []
        for index in plan.indices:
            key = keys[index]
            if key is not None and key in stored:
                entry = _Entry(index, stored[key].geometry, key, stored=stored[key])
                any_stored = True
            else:
                # a damaged stored shard falls back to decoding here, in the same chunk composition
                result = prepared(index) if index in decode else prepare_item(index, self.items[index], self.transform)
                if isinstance(result, InputSkip):
                    if key is not None:
                        unreadable.append(key)
                    yield result
                    continue
                entry = _Entry(index, result.geometry, key, prepared=result)
            full = grouper.add(entry, entry.geometry.padded_hw)
            if full is not None:
                yield self._batch(full)
        for rest in grouper.flush():
            yield self._batch(rest)
        if self.store is not None and self._computed:
            # named after the chunk only when the whole chunk was computed in its own composition
            self.to_store.append(PendingShard(self._computed, None if any_stored else plan.shard, unreadable))

    def _batch(self, entries: list[_Entry]) -> Batch:
        fresh = [e for e in entries if e.prepared is not None]
        outputs: dict[str, LayerOutput] = {}
        if fresh:
            if self._chunk is not None and self.before_chunk is not None:
                self.before_chunk(self._chunk)
            self._chunk = None  # called once per chunk, before its first forward pass
            target = torch.device("cpu" if self.device is None else self.device)
            tensors = [e.prepared.tensor for e in fresh]  # type: ignore[union-attr]
            pixels = devices.to_device(devices.stack_batch(tensors, target), target)
            outputs = self.forward(pixels)
            if self.store is not None:
                for j, e in enumerate(fresh):
                    if e.key is not None:
                        self._computed.append(
                            StoredImage(e.key, e.geometry, {n: o.select([j]) for n, o in outputs.items()})
                        )
        if len(fresh) < len(entries):
            outputs = _merge(entries, fresh, outputs)
        return Batch(
            indices=[e.index for e in entries],
            items=[self.items[e.index] for e in entries],
            prepared=[e.geometry for e in entries],
            outputs=outputs,
            stored=not fresh,
        )


def _merge(entries: list[_Entry], fresh: list[_Entry], computed: dict[str, LayerOutput]) -> dict[str, LayerOutput]:
    """Outputs of a batch mixing stored and computed images, in the batch's order."""
    position = {id(e): j for j, e in enumerate(fresh)}
    names = list(computed) if computed else list(entries[0].stored.outputs)  # type: ignore[union-attr]
    merged = {}
    for name in names:
        parts = []
        device = _device_of(computed[name]) if computed else None
        for e in entries:
            if e.stored is not None:
                stored = e.stored.outputs[name]
                parts.append(stored if device is None else stored.to(device))
            else:
                parts.append(computed[name].select([position[id(e)]]))
        merged[name] = LayerOutput.concat(parts)
    return merged


def _device_of(output: LayerOutput) -> torch.device | None:
    """Where a computed output lives (stored parts are moved there before concatenating)."""
    for tensor in (output.grid, output.prefix, output.vector, output.raw):
        if tensor is not None:
            return tensor.device
    return None


class _Planner:
    """Plans chunks lazily for two readers: the decoding order (consumed ahead by the workers) and the main loop."""

    def __init__(self, make_plan: Callable[[int, range], ChunkPlan], chunks: list[range]) -> None:
        self.make_plan = make_plan
        self.chunks = iter(enumerate(chunks))
        self.for_main: deque[ChunkPlan] = deque()
        self.for_decoding: deque[ChunkPlan] = deque()
        self._lock = threading.Lock()  # the decoding order may be read by a decoding thread

    def _next(self, mine: deque[ChunkPlan]) -> ChunkPlan | None:
        """The next plan of one reader, planning a new chunk for both readers when this one has none left."""
        with self._lock:
            if not mine:
                try:
                    number, indices = next(self.chunks)
                except StopIteration:
                    return None
                plan = self.make_plan(number, indices)
                self.for_main.append(plan)
                self.for_decoding.append(plan)
            return mine.popleft()

    def plans(self) -> Iterator[ChunkPlan]:
        while (plan := self._next(self.for_main)) is not None:
            yield plan

    def decode_order(self) -> Iterator[int]:
        while (plan := self._next(self.for_decoding)) is not None:
            yield from plan.decode


def iter_chunk_batches(
    items: Sequence[Any],
    transform: Transform,
    forward: Forward,
    batch_size: int,
    store: ActivationStore | None = None,
    workers: int | None = None,
    device: torch.device | str | None = None,
    before_chunk: Callable[[int], None] | None = None,
) -> Iterator[Batch | InputSkip]:
    """The local engine: every chunk in order, decoded ahead by ``workers`` processes (see the module docstring).

    Yields :class:`Batch` objects and one :class:`~encoderscope.capture.inputs.InputSkip` per unreadable image.
    Shards are written in a background thread; when the consumer stops early, the shards of finished chunks are
    still written.
    """
    size = chunk_size_for(batch_size)
    view = StoreView.of(store) if store is not None else None
    planner = _Planner(
        lambda number, indices: plan_chunk(number, indices, items, batch_size, store, view),
        chunk_ranges(len(items), size),
    )
    decoded = iter_prepared(items, transform, workers, order=planner.decode_order(), ahead=2 * batch_size,
                            device=device)
    runner = ChunkRunner(items, transform, forward, batch_size, store, before_chunk, device)
    writer = _ShardWriter(store) if store is not None else None

    def take(index: int) -> PreparedInput | InputSkip:
        result = next(decoded)
        assert result.index == index, f"input pipeline out of order: {result.index} != {index}"
        return result

    try:
        for plan in planner.plans():
            yield from runner.run(plan, take)
            if writer is not None:
                while runner.to_store:
                    writer.submit(runner.to_store.pop(0))
    finally:
        decoded.close()
        if writer is not None:
            writer.close()


def process_chunk(
    items: Sequence[Any],
    indices: Sequence[int],
    number: int,
    transform: Transform,
    forward: Forward,
    batch_size: int,
    store: ActivationStore | None = None,
    before_chunk: Callable[[int], None] | None = None,
    device: torch.device | str | None = None,
    view: StoreView | None = None,
) -> tuple[list[Batch], list[InputSkip]]:
    """One chunk in the calling process: plan, read or decode and compute, write its shard (synchronously).

    ``items`` is indexed by input position (``indices`` are positions of chunk ``number`` as
    :func:`~encoderscope.capture.inputs.chunk_ranges` cuts them). Returns the chunk's batches and skip records,
    exactly what :func:`iter_chunk_batches` yields for that chunk. ``view``: the store as the run found it when it
    started (:meth:`StoreView.of`, taken once by the engine, so that every worker plans against the same store, as
    the local engine does); default the store as it is now.
    """
    if view is None and store is not None:
        view = StoreView.of(store)
    plan = plan_chunk(number, indices, items, batch_size, store, view)
    runner = ChunkRunner(items, transform, forward, batch_size, store, before_chunk, device)
    batches: list[Batch] = []
    skips: list[InputSkip] = []
    for result in runner.run(plan, lambda i: prepare_item(i, items[i], transform)):
        (skips if isinstance(result, InputSkip) else batches).append(result)  # type: ignore[arg-type]
    if store is not None:
        for shard in runner.to_store:
            store.write(shard.images, shard.name, shard.unreadable)
        store.close()
    return batches, skips
