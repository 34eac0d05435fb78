"""The Ray engine: the chunks of a model pass run by an actor pool of encoders with Ray Data (``engine="ray"``).

How a pass runs (:func:`run_ray`):

1. this process (the *driver*) cuts the image list into the chunks every engine uses
   (:func:`~encoderscope.capture.inputs.chunk_ranges` of ``4 * batch_size`` images) and makes a Ray dataset of them:
   one row per chunk, holding the chunk's number and the positions of its images (no pixels). One row is one Ray
   batch, so each Ray batch is exactly one chunk;
2. the encoder, the batch job and the image list (items: paths, or the in-memory images) are put once into Ray's
   object store; ``map_batches`` with an actor pool (:class:`ChunkActor`) gives every actor its copy: one actor per GPU
   (``num_gpus=1``) when the cluster has GPUs, else actors with a fractional CPU share (:func:`actor_plan`), so that
   Ray Data's own tasks are never starved of a whole CPU;
3. an actor runs :func:`~encoderscope.capture.chunks.process_chunk` on its chunk (decode, forward, read or write the
   chunk's store shard: the composition and the shard are those of the local engine) and then the job on each batch;
   only the job's payloads and the skip records go back to the driver;
4. the driver yields the payloads chunk by chunk in input order, records unreadable images in the image set exactly
   as the local engine does and moves its own progress bar (Ray's bars and logs are turned off).

The cluster (:func:`ray_session`): ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local cluster started
with ``num_cpus`` = this machine's cores and shut down on exit (also on an error or Ctrl-C). A cluster this code did
not start is only disconnected from, never stopped. When Ray is already initialised in this process (a notebook that
called ``ray.init``), that session is used as it is.

Workers import encoderscope from their own environment: a local cluster inherits this process's (``PYTHONPATH``
included); on a remote cluster encoderscope must be installed on every node (no ``working_dir`` is uploaded). An
unreachable address, a missing Ray and a failing worker are one-line errors (:class:`~encoderscope.errors.
EngineError`, :class:`~encoderscope.errors.MissingExtraError`, or the worker's own encoderscope error).

Example:
    >>> actor_plan({"CPU": 2.0}, actors=2)
    ActorPlan(size=2, num_cpus=0.75, num_gpus=0.0, threads=1)
    >>> actor_plan({"CPU": 32.0, "GPU": 4.0})
    ActorPlan(size=4, num_cpus=1.0, num_gpus=1.0, threads=8)
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import pickle
import re
import signal
import socket
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope import errors
from encoderscope._optional import require
from encoderscope._progress import progress_bar
from encoderscope.errors import EncoderscopeError, EngineError

if TYPE_CHECKING:
    from encoderscope.capture.chunks import StoreView
    from encoderscope.capture.engine import BatchJob, ModelPass
    from encoderscope.zoo.encoder import Encoder

_QUIET_LOGGERS = ("ray", "ray.data")
_ADVICE = "start one with `ray start --head`, or leave --ray-address and RAY_ADDRESS unset to run a local cluster"


def _ray() -> ModuleType:
    """``ray`` with Ray Data, or the one-line error naming the ``ray`` extra."""
    ray = require("ray", "ray")
    require("ray.data", "ray")
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """The GCS ``(host, port)`` of an address (``host:port``, ``ray://host:port``), ``None`` for ``auto``/``local``."""
    text = address.split("://", 1)[-1].rstrip("/")
    if text in ("auto", "local") or ":" not in text:
        return None
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise EngineError(f"Ray address {address!r} is not host:port (e.g. 10.0.0.5:6379)")
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A one-line :class:`~encoderscope.errors.EngineError` unless something listens at ``address`` (Ray itself
    retries an unreachable address for minutes).

    Example:
        >>> check_reachable("127.0.0.1:1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        encoderscope.errors.EngineError: cannot reach the Ray cluster at 127.0.0.1:1 (connection refused); start ...
    """
    where = _host_port(address)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout):
            return
    except ConnectionRefusedError:
        reason = "connection refused"
    except socket.gaierror:
        reason = f"unknown host {where[0]!r}"
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except OSError as err:
        reason = err.strerror or type(err).__name__
    raise EngineError(f"cannot reach the Ray cluster at {address} ({reason}); {_ADVICE}")


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:300]


def cluster_address(address: str | None = None) -> str | None:
    """The cluster a session joins: ``address``, else ``RAY_ADDRESS``, else ``None`` (a local cluster)."""
    return (address or os.environ.get("RAY_ADDRESS") or "").strip() or None


def preflight(address: str | None = None) -> None:
    """Fail early, in one line, when Ray is missing or the cluster cannot be reached (before a model is loaded)."""
    ray = _ray()
    where = cluster_address(address)
    if where is not None and not ray.is_initialized():
        check_reachable(where)


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[ModuleType]:
    """Ray, initialised for the block (see the module docstring for which cluster); yields the ``ray`` module.

    Only a cluster started here is shut down at the end; a cluster reached by address is disconnected from; a
    session that existed before is left as it is.
    """
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    address = cluster_address(address)
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        failure = "cannot start a local Ray cluster"
        options = {"address": "local", "num_cpus": os.cpu_count() or 1, "include_dashboard": False, **quiet}
    else:
        check_reachable(address)
        failure = f"cannot connect to the Ray cluster at {address}"
        options = {"address": address, **quiet}
    before = _ray_descendants() if address is None else set()
    try:
        with _interrupt_after():  # Ctrl-C half-way through ray.init would leave the processes it started running
            ray.init(**options)
    except BaseException as err:
        _shutdown(ray, before if address is None else None)
        if isinstance(err, Exception) and not isinstance(err, EncoderscopeError):
            raise EngineError(f"{failure}: {_one_line(err)}") from None
        raise
    try:
        yield ray
    finally:
        _shutdown(ray, before if address is None else None)


def _ray_descendants() -> set[Any]:
    """Ray's processes among this process's descendants (raylet, GCS server, agents, workers)."""
    psutil = require("psutil", "ray")
    found = set()
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "ray" in " ".join([process.name(), *process.cmdline()[:3]]).lower():
                found.add(process)
    return found


def _shutdown(ray: ModuleType, before: set[Any] | None, timeout: float = 5.0) -> None:
    """``ray.shutdown()``; for a cluster started here (``before``: Ray's processes that existed before it started),
    also wait for the processes it started to exit and kill (by pid) those still running after ``timeout`` s: a
    worker busy importing when its raylet stops can outlive it for many seconds."""
    started = _ray_descendants() - before if before is not None else set()
    with contextlib.suppress(Exception):
        ray.shutdown()
    if not started:
        return
    psutil = require("psutil", "ray")
    _, alive = psutil.wait_procs(list(started), timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout)


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) during the block and raise it as ``KeyboardInterrupt`` at its end (main thread
    only; elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@dataclass(frozen=True)
class ActorPlan:
    """The encoder actors of one pass: how many, the CPU and GPU share each asks Ray for, torch threads each."""

    size: int
    num_cpus: float
    num_gpus: float
    threads: int


def actor_plan(resources: Mapping[str, float], actors: int | None = None, chunks: int | None = None) -> ActorPlan:
    """Actors for a cluster's ``resources`` (``ray.cluster_resources()``).

    ``actors`` (default one per GPU, else half the CPUs, at least 1; never more than ``chunks``). Each actor asks
    for at most one CPU and for no more than the cluster has minus half a CPU in all, so Ray Data's own tasks always
    find room (a pool asking for whole CPUs deadlocks on a 2-core machine); its torch threads are its share of the
    cores. With GPUs each actor takes one (or an equal share when there are more actors than GPUs).
    """
    cpus = float(resources.get("CPU", 1.0))
    gpus = float(resources.get("GPU", 0.0))
    size = actors or (int(gpus) if gpus >= 1 else max(1, int(cpus) // 2))
    if chunks is not None:
        size = max(1, min(size, chunks))
    num_cpus = max(0.01, math.floor(100 * min(1.0, (cpus - 0.5) / size)) / 100)
    num_gpus = min(1.0, gpus / size) if gpus >= 1 else 0.0
    return ActorPlan(size, num_cpus, num_gpus, max(1, int(cpus // size)))


@dataclass
class ChunkTask:
    """What every actor of a pass needs, shipped once (one object, so that modules the job refers to stay parts of
    the shipped encoder)."""

    encoder: Encoder
    job: BatchJob
    model_pass: ModelPass
    store: tuple[str, str] | None
    view: StoreView | None


class ChunkActor:
    """The Ray Data actor: holds the encoder, runs whole chunks (:func:`~encoderscope.capture.chunks.process_chunk`
    and the job), returns the pickled payloads and skip records of each chunk."""

    def __init__(self, refs: Sequence[Any], threads: int) -> None:
        import torch

        from encoderscope import devices
        from encoderscope.capture.inputs import resolve_transform
        from encoderscope.capture.store import ActivationStore

        ray = _ray()
        task, items = ray.get(list(refs))
        torch.set_num_threads(threads)
        if ray.get_gpu_ids():
            task.encoder.to(devices.resolve_device("cuda"))
        self.task: ChunkTask = task
        self.items: Sequence[Any] = items
        self.transform = resolve_transform(task.encoder.preprocess, task.model_pass.mode)
        self.forward = task.model_pass.forward(task.encoder)
        self.store = ActivationStore(*task.store) if task.store is not None else None

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from encoderscope.capture.chunks import process_chunk

        task, encoder = self.task, self.task.encoder
        number, start, stop = (int(rows[name][0]) for name in ("chunk", "start", "stop"))
        try:
            batches, skips = process_chunk(
                self.items, range(start, stop), number, self.transform, self.forward, task.model_pass.batch_size,
                store=self.store, before_chunk=task.model_pass.chunk_hook(encoder), device=encoder.device,
                view=task.view,
            )
            payloads = [task.job(encoder, task.model_pass.place(encoder, batch)) for batch in batches]
            result: Any = (payloads, skips)
        except Exception as err:  # sent back as data: Ray would wrap it in its own traceback text
            result = WorkerFailure.of(err)
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        return {"chunk": np.array([number]), "result": np.array([data], dtype=object)}


@dataclass(frozen=True)
class WorkerFailure:
    """An exception of a chunk on an actor, as the driver raises it: the encoderscope error class (``None`` for any
    other exception) and one line."""

    kind: type[EncoderscopeError] | None
    text: str

    @classmethod
    def of(cls, err: BaseException) -> WorkerFailure:
        if isinstance(err, EncoderscopeError):
            return cls(type(err), _one_line(err))
        return cls(None, f"{type(err).__name__}: {_one_line(err)}")

    def error(self) -> EncoderscopeError:
        """The one-line error to raise on the driver."""
        if self.kind is not None:
            return self.kind(self.text)
        return EngineError(f"a Ray worker failed: {self.text}")


def _shippable(encoder: Encoder) -> Encoder:
    """The encoder as actors receive it: on the CPU (each actor moves it to its own GPU)."""
    if encoder.device.type == "cpu":
        return encoder
    return copy.deepcopy(encoder).to("cpu")


_RAISED = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


def worker_error(err: BaseException) -> EncoderscopeError:
    """The one-line error of a Ray failure outside a chunk (an actor that could not start or died): the worker's own
    encoderscope error when it raised one, else an :class:`~encoderscope.errors.EngineError` naming the cause (the
    last ``Error: message`` line of Ray's remote traceback, else its first line)."""
    current: BaseException = err
    for _ in range(32):  # Ray wraps the worker's exception (RayTaskError.cause, UserCodeException.__cause__)
        inner = getattr(current, "cause", None) or current.__cause__
        if not isinstance(inner, BaseException) or inner is current:
            break
        current = inner
    if isinstance(current, EncoderscopeError) and not type(current).__module__.startswith("ray"):
        return type(current)(_one_line(current))
    raised = [m for line in str(current).splitlines() if (m := _RAISED.match(line.strip()))]
    raised = [m for m in raised if not m.group(1).startswith("ray.")]
    if not raised:
        return EngineError(f"a Ray worker failed: {type(current).__name__}: {_one_line(current)}")
    name, text = raised[-1].group(1), raised[-1].group(2).strip()[:300]
    ours = getattr(errors, name.rsplit(".", 1)[-1], None) if name.startswith("encoderscope.errors.") else None
    if isinstance(ours, type) and issubclass(ours, EncoderscopeError):
        return ours(text)
    return EngineError(f"a Ray worker failed: {name.rsplit('.', 1)[-1]}: {text}")


@contextlib.contextmanager
def _quiet_data(ray: ModuleType) -> Iterator[Any]:
    """Ray Data without its progress bars and execution logs for the block (encoderscope shows its own)."""
    context = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": False, "print_on_execution_start": False, "enable_auto_log_stats": False}
    before = {name: getattr(context, name) for name in settings if hasattr(context, name)}
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    for name in before:
        setattr(context, name, settings[name])
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield context
    finally:
        for name, value in before.items():
            setattr(context, name, value)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _rows(dataset: Any) -> Iterator[dict[str, Any]]:
    """The output rows of a Ray dataset, a failure turned into one line."""
    rows = iter(dataset.iter_rows())
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except EncoderscopeError:
            raise
        except Exception as err:
            raise worker_error(err) from None
        yield row


def run_ray(
    encoder: Encoder,
    image_set: Any,
    job: BatchJob,
    model_pass: ModelPass,
    progress: bool,
    label: str,
) -> Iterator[Any]:
    """The payloads of ``job`` over every batch, in input order, computed by Ray actors (see the module docstring).

    Unreadable images go to ``image_set.skip`` chunk by chunk, as :func:`~encoderscope.capture.extract.
    iter_model_batches` records them.
    """
    from encoderscope.capture.chunks import StoreView
    from encoderscope.capture.inputs import chunk_ranges, chunk_size_for

    items = list(image_set.items)
    chunks = chunk_ranges(len(items), chunk_size_for(model_pass.batch_size))
    if not chunks:
        return
    with ray_session(model_pass.ray_address) as ray, _quiet_data(ray):
        store = model_pass.open_store(encoder)
        view = StoreView.of(store) if store is not None else None
        where = None if store is None else (str(store.root), store.model_key)
        task = ChunkTask(_shippable(encoder), job, model_pass, where, view)
        refs = [ray.put(task), ray.put(items)]
        plan = actor_plan(ray.cluster_resources(), model_pass.ray_actors, len(chunks))
        rows = [{"chunk": n, "start": r.start, "stop": r.stop} for n, r in enumerate(chunks)]
        with warnings.catch_warnings():
            # max_restarts=0 (a remote argument Ray marks deprecated, with no named replacement yet): a dead actor
            # fails the pass in one line; Ray Data's default restarts it and retries its chunk forever
            warnings.simplefilter("ignore")
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                ChunkActor,
                batch_size=1,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=plan.size),
                num_cpus=plan.num_cpus,
                num_gpus=plan.num_gpus or None,
                fn_constructor_kwargs={"refs": refs, "threads": plan.threads},
                max_restarts=0,
            )
        pending: dict[int, tuple[list[Any], list[Any]]] = {}
        following = 0
        with progress_bar(label, total=len(items), enabled=progress) as advance:
            for row in _rows(dataset):
                number = int(row["chunk"])
                pending[number] = pickle.loads(row["result"])
                if isinstance(pending[number], WorkerFailure):
                    raise pending[number].error()
                advance(len(chunks[number]))
                while following in pending:  # chunks may finish out of order: yield them in input order
                    payloads, skips = pending.pop(following)
                    for skip in skips:
                        image_set.skip(skip.key, skip.reason)
                    yield from payloads
                    following += 1
