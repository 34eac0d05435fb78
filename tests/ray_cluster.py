"""Finding the processes of a Ray cluster a test started (a helper module for the Ray engine's tests).

Every process of a local Ray cluster inherits the environment of the driver that started it, including the agents
whose command line Ray rewrites (``ray::DashboardAgent``). A test puts a unique marker into the driver's
environment and looks for live processes carrying it.
"""

from __future__ import annotations

import uuid

import psutil

MARK = "ENCODERSCOPE_TEST_RAY_MARK"


def new_mark() -> str:
    """A marker value unique to one test."""
    return uuid.uuid4().hex


def marked_processes(mark: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose environment holds ``MARK=mark``, this process excluded."""
    me = psutil.Process().pid
    found = []
    for process in psutil.process_iter(["status"]):
        if process.pid == me or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if process.environ().get(MARK) == mark:
                found.append(process)
        except psutil.Error:
            continue
    return found


def left_behind(mark: str, timeout: float = 10.0) -> list[str]:
    """Names of the marked processes still alive after waiting up to ``timeout`` seconds for them to exit."""
    alive = marked_processes(mark)
    psutil.wait_procs(alive, timeout=timeout)
    names = []
    for process in alive:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                names.append(process.name())
        except psutil.Error:
            continue
    return names
