"""Engines: where the batches of a model pass are computed, ``"local"`` (this process) or ``"ray"`` (a Ray cluster).

A method that runs a model over an image set describes the work it does with one batch as a *batch job*: a
picklable callable ``job(encoder, batch) -> payload`` (cluster the batch's grids, pool its units, draw a sample...).
:func:`map_batches` runs the input pipeline, the chunks, the activation store and the forward passes of a
:class:`ModelPass`, applies the job to every batch and yields the payloads in input order. Both engines yield the
same payloads in the same order, because both cut the input into the same chunks
(:mod:`encoderscope.capture.chunks`) and so compose the same forward batches:

* ``"local"``: :func:`~encoderscope.capture.extract.iter_model_batches` in this process (decoding processes ahead of
  the model, shards written by a background thread);
* ``"ray"``: :func:`encoderscope.capture.ray_engine.run_ray`: every chunk is one Ray Data batch, run by an actor that
  holds a copy of the encoder (:func:`~encoderscope.capture.chunks.process_chunk`: decode, forward, store, then the
  job); only the payloads come back to this process, never the activations.

Unreadable images are recorded in the image set (``skipped``, one warning each) by both engines, in input order.

Example:
    >>> from PIL import Image
    >>> from encoderscope.zoo import load_model
    >>> enc = load_model("timm:vit_tiny_patch16_224", random_init=True)
    >>> job = lambda encoder, batch: (batch.indices, tuple(batch.outputs["blocks.0"].grid.shape))
    >>> model_pass = ModelPass(layers=("blocks.0",), batch_size=2, workers=0)
    >>> list(map_batches(enc, [Image.new("RGB", (32, 32))] * 3, job, model_pass, progress=False))
    [([0, 1], (2, 192, 14, 14)), ([2], (1, 192, 14, 14))]
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from encoderscope.errors import ParameterError

if TYPE_CHECKING:
    from encoderscope.capture.chunks import Batch, Forward
    from encoderscope.zoo.encoder import Encoder

ENGINES = ("local", "ray")

BatchJob = Callable[["Encoder", "Batch"], Any]
"""What a method does with one batch, on whichever process holds the encoder: ``job(encoder, batch) -> payload``.
For the Ray engine it must be picklable (a module-level function or class instance) and return small payloads."""


def check_engine(engine: str) -> str:
    """``engine`` if it is one of :data:`ENGINES`, else a one-line :class:`~encoderscope.errors.ParameterError`.

    Example:
        >>> check_engine("ray")
        'ray'
    """
    if engine not in ENGINES:
        raise ParameterError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def check_engine_options(engine: str, ray_address: str | None = None, ray_actors: int | None = None) -> str | None:
    """Check the engine options of a configuration; returns the Ray address normalised (blank: ``None``).

    Example:
        >>> check_engine_options("ray", " 10.0.0.5:6379 ", 2)
        '10.0.0.5:6379'
        >>> check_engine_options("ray", ray_actors=0)
        Traceback (most recent call last):
        ...
        encoderscope.errors.ParameterError: ray_actors must be a number >= 1, got 0
    """
    check_engine(engine)
    if ray_actors is not None and (isinstance(ray_actors, bool) or not isinstance(ray_actors, int) or ray_actors < 1):
        raise ParameterError(f"ray_actors must be a number >= 1, got {ray_actors!r}")
    if ray_address is None:
        return None
    if not isinstance(ray_address, str):
        raise ParameterError(f"ray_address must be a host:port text, got {ray_address!r}")
    return ray_address.strip() or None


@dataclass(frozen=True)
class ModelPass:
    """One pass of a model over an image set: what it computes and how it executes.

    Attributes:
        layers: exact layer names captured in one forward pass.
        batch_size: images per forward pass (chunks hold ``4 * batch_size`` images).
        mode: the preprocessing, ``"dense"`` or ``"classify"``.
        stop_early: stop the forward pass after the deepest captured layer.
        autocast: mixed-precision forward (:func:`~encoderscope.devices.autocast`).
        to_host: outputs on the CPU (``False``: on the encoder's device, for clustering there).
        before_chunk: ``before_chunk(encoder, chunk number)`` before a chunk's first forward pass (reseeding
            stochastic layers); picklable for the Ray engine.
        cache: the activation store (``None``/``False``: none; ``True`` or a folder).
        cache_extra: anything else that changes the activations, part of the store's model key.
        workers: decoding processes of the local engine (``None``: the default).
        engine: ``"local"`` or ``"ray"``.
        ray_address: the Ray cluster (``None``: ``RAY_ADDRESS``, else a local cluster; see
            :func:`~encoderscope.capture.ray_engine.ray_session`).
        ray_actors: encoder actors of the Ray engine (``None``: one per GPU, else half the cluster's CPUs).
    """

    layers: Sequence[str]
    batch_size: int = 16
    mode: str = "dense"
    stop_early: bool = True
    autocast: bool = False
    to_host: bool = True
    before_chunk: Callable[[Encoder, int], None] | None = None
    cache: Any = None
    cache_extra: Any = None
    workers: int | None = None
    engine: str = "local"
    ray_address: str | None = None
    ray_actors: int | None = None

    def forward(self, encoder: Encoder) -> Forward:
        """The forward pass of this model pass on ``encoder``."""
        from encoderscope.capture.extract import forward_batch

        return functools.partial(
            forward_batch, encoder, layers=list(self.layers), stop_early=self.stop_early, autocast=self.autocast,
            to_host=self.to_host,
        )

    def chunk_hook(self, encoder: Encoder) -> Callable[[int], None] | None:
        """:attr:`before_chunk` bound to ``encoder``."""
        return None if self.before_chunk is None else functools.partial(self.before_chunk, encoder)

    def place(self, encoder: Encoder, batch: Batch) -> Batch:
        """``batch`` with its outputs where the job expects them (stored outputs moved to the device when
        ``to_host`` is off)."""
        if not self.to_host:
            from encoderscope.capture.extract import outputs_on_device

            batch.outputs = outputs_on_device(batch.outputs, encoder.device)
        return batch

    def open_store(self, encoder: Encoder) -> Any:
        """The activation store of this pass, or ``None``."""
        if not self.cache:
            return None
        from encoderscope.capture.store import open_store

        return open_store(self.cache, encoder, list(self.layers), self.autocast, self.mode, self.cache_extra)


def engine_session(engine: str, address: str | None = None) -> contextlib.AbstractContextManager[Any]:
    """A context for several passes of one run: the Ray session (:func:`~encoderscope.capture.ray_engine.
    ray_session`, one cluster for all passes) for ``"ray"``, nothing for ``"local"``."""
    if check_engine(engine) == "ray":
        from encoderscope.capture.ray_engine import ray_session

        return ray_session(address)
    return contextlib.nullcontext()


def preflight(engine: str, address: str | None = None) -> None:
    """Check, before any model is loaded, that ``engine`` can run: for ``"ray"``, that Ray is installed and the
    cluster (``address``, else ``RAY_ADDRESS``) answers; one line otherwise."""
    if check_engine(engine) == "ray":
        from encoderscope.capture.ray_engine import preflight as ray_preflight

        ray_preflight(address)


def map_batches(
    encoder: Encoder,
    images: Any,
    job: BatchJob,
    model_pass: ModelPass,
    progress: bool = True,
    label: str = "capturing activations",
) -> Iterator[Any]:
    """``job(encoder, batch)`` of every batch of ``model_pass`` over ``images``, in input order (module docstring).

    Args:
        encoder: the encoder (the Ray engine ships a copy of it to every actor).
        images: an :class:`~encoderscope.data.ImageSet` (its ``skipped`` receives the unreadable images) or anything
            :func:`~encoderscope.data.open_images` takes.
        job: see :data:`BatchJob`.
        model_pass: the layers, batch size, store and engine.
        progress: show a progress bar (this process's, also for the Ray engine).
        label: the progress bar's text.
    """
    from encoderscope import devices
    from encoderscope.capture.inputs import as_image_set

    if model_pass.autocast:
        devices.autocast_dtype(encoder.device)  # an unsupported device fails here, before any image is read
    if model_pass.batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, got {model_pass.batch_size}")
    image_set = as_image_set(images)
    if check_engine(model_pass.engine) == "ray":
        from encoderscope.capture.ray_engine import run_ray

        yield from run_ray(encoder, image_set, job, model_pass, progress=progress, label=label)
        return
    from encoderscope.capture.extract import iter_model_batches

    batches = iter_model_batches(
        encoder, image_set, model_pass.forward(encoder), model_pass.batch_size, store=model_pass.open_store(encoder),
        workers=model_pass.workers, mode=model_pass.mode, progress=progress, label=label,
        before_chunk=model_pass.chunk_hook(encoder),
    )
    for batch in batches:
        yield job(encoder, model_pass.place(encoder, batch))
