"""Progress bars for long loops (rich), silent when disabled or when nobody watches.

Bars draw in a terminal and in Jupyter (rich detects the kernel and draws the bar as a widget; that needs
``ipywidgets``, which the ``docs`` extra installs); elsewhere (logs, pipes, CI) they stay silent.

Example:
    >>> with progress_bar("working", total=3, enabled=False) as advance:
    ...     for _ in range(3):
    ...         advance(1)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_console = Console(stderr=True)


def console() -> Console:
    """The shared stderr console for warnings and progress."""
    return _console


def warn(message: str) -> None:
    """Print a one-line warning to stderr."""
    _console.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` function that moves a rich progress bar (no-op when disabled, or neither a terminal
    nor a notebook)."""
    if not enabled or not (sys.stderr.isatty() or _console.is_jupyter):
        yield lambda n=1: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
