"""Decoding in a background thread of this process, paused while clustering needs every core.

On a machine with few cores, decoding processes cost more than they save next to a CPU model: they take turns with
the forward pass and add start-up and copies. Yet a thread of this process fits into the gaps of the forward pass
(its threads wait for each other between operations) and beside single-threaded work, and PIL's decoding and
resizing release the GIL. So :func:`prefetched` runs an iterator (the input pipeline's decoding when ``workers=0``)
in a background thread, up to ``ahead`` items in front of its consumer, and keeps the order.

One process-wide :class:`Pause`, :data:`CLUSTERING`, holds such threads while clustering runs on every core
(:func:`encoderscope.cluster._threads.limit_threads` when the work is large enough for all threads): that work is
many small torch operations, and a decoding thread beside it slows it down more than it saves (measured here: the
pipeline without the encoder at 121 instead of 218 images/s, with 4 k-means restarts on two threads and a decoding
thread that never paused). A consumer that waits for an item lifts the pause while it waits.

The same code runs on the same items in the same order, only at another time, so nothing in a result changes. An
exception is raised in the consumer at the position where it happened, and closing the consumer stops the thread.

Example:
    >>> list(prefetched(iter(range(5)), ahead=2))
    [0, 1, 2, 3, 4]
    >>> pause = Pause()
    >>> items = prefetched(iter("abc"), ahead=2, pause=pause)
    >>> with pause.held():
    ...     first = next(items)  # the consumer waits, so the thread runs for it
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


class Pause:
    """Holds background threads while :meth:`held` blocks run (in any thread; nested blocks count)."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._holds = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold background threads while the block runs."""
        self._change(+1)
        try:
            yield
        finally:
            self._change(-1)

    @contextlib.contextmanager
    def lifted(self) -> Iterator[None]:
        """Let background threads run while the block runs, also inside :meth:`held`."""
        self._change(-1)
        try:
            yield
        finally:
            self._change(+1)

    def _change(self, step: int) -> None:
        with self._lock:
            self._holds += step
            if self._holds > 0:
                self._running.clear()
            else:
                self._running.set()

    def wait(self, timeout: float) -> bool:
        """Whether background threads may run, waiting up to ``timeout`` seconds for it."""
        return self._running.wait(timeout)


CLUSTERING = Pause()
"""Held while clustering runs on every core (see the module docstring)."""


class _End:
    """The producer's last message: ``error`` is the exception it stopped with, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def prefetched(
    source: Iterator[T], ahead: int, pause: Pause = CLUSTERING, name: str = "encoderscope-prefetch"
) -> Iterator[T]:
    """The items of ``source``, produced by a background thread up to ``ahead`` items ahead, except while ``pause``
    is held (module docstring)."""
    results: queue.Queue[Any] = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()

    def put(message: Any) -> bool:
        while not stop.is_set():
            try:
                results.put(message, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def allowed() -> bool:
        while not pause.wait(_POLL_SECONDS):
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
                with pause.lifted():  # the consumer waits: the thread works for it
                    message = results.get()
            if isinstance(message, _End):
                if message.error is not None:
                    raise message.error
                return
            yield message
    finally:
        stop.set()
        thread.join()
