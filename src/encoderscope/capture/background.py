"""Decoding in a thread of this process while the forward pass runs.

On a machine with few cores, decoding processes cost more than they save next to a CPU model: they take turns with
the forward pass and add start-up and copies. Yet the forward pass leaves gaps in which other work fits (its
threads wait for each other between operations), and PIL's decoding and resizing release the GIL. So
:func:`prefetched` runs an iterator (the input pipeline's decoding when ``workers=0``) in a background thread, up to
``ahead`` items in front of its consumer, and keeps the order.

A :class:`Gate` says when the thread may work: while it is open (the chunk runner opens it around each forward pass)
and while the consumer waits for an item. The rest of the time (clustering, maps, writing), the thread waits: work
that is mostly small torch operations runs slower, not faster, with a thread decoding beside it (measured here:
the pipeline without the encoder at 121 instead of 218 images/s with an ungated thread). Without a gate the thread
runs freely.

The same code runs on the same items in the same order, only at another time, so nothing in a result changes. An
exception is raised in the consumer at the position where it happened, and closing the consumer stops the thread.

Example:
    >>> list(prefetched(iter(range(5)), ahead=2))
    [0, 1, 2, 3, 4]
    >>> gate = Gate()
    >>> items = prefetched(iter("abc"), ahead=2, gate=gate)
    >>> with gate.opened():
    ...     first = next(items)
    >>> first + "".join(items)
    'abc'
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1


class _End:
    """The producer's last message: ``error`` is the exception it stopped with, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class Gate:
    """When a background thread may work: open inside :meth:`opened` (nested openings count)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._depth = 0

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        """Open the gate while the block runs."""
        with self._lock:
            self._depth += 1
            self._event.set()
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._event.clear()

    def wait(self, timeout: float) -> bool:
        """Whether the gate is open, waiting up to ``timeout`` seconds for it."""
        return self._event.wait(timeout)


class _AlwaysOpen(Gate):
    """The gate of :func:`prefetched` without one."""

    def wait(self, timeout: float) -> bool:
        return True


def prefetched(
    source: Iterator[T], ahead: int, gate: Gate | None = None, name: str = "encoderscope-prefetch"
) -> Iterator[T]:
    """The items of ``source``, produced by a background thread up to ``ahead`` items ahead, while ``gate`` is open
    (module docstring)."""
    results: queue.Queue[Any] = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()
    gate = gate or _AlwaysOpen()

    def put(message: Any) -> bool:
        while not stop.is_set():
            try:
                results.put(message, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def allowed() -> bool:
        while not gate.wait(_POLL_SECONDS):
            if stop.is_set():
                return False
        return not stop.is_set()

    def produce() -> None:
        try:
            while allowed():
                try:
                    item = next(source)
                except StopIteration:
                    break
                if not put(item):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            put(_End(err))
            return
        put(_End())

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            try:
                message = results.get_nowait()
            except queue.Empty:
                with gate.opened():  # the consumer waits: the thread may work
                    message = results.get()
            if isinstance(message, _End):
                if message.error is not None:
                    raise message.error
                return
            yield message
    finally:
        stop.set()
        thread.join()
