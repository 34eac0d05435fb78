"""The papers' experiments as runnable studies: ``encoderscope study NAME --out DIR [--quick]``.

Registry contract (other studies add themselves here): :data:`STUDIES` maps a study name to a callable
``(out_dir: Path, quick: bool) -> None`` that writes its outputs (run.json, CSV/JSON numbers, PNG figures) into
``out_dir``. ``quick=True`` must finish within about a minute on 2 CPU cores (the test suite runs it); the default
run should stay within about 20 minutes. Entries are imported lazily, so a study's dependencies load only when it
runs. Add one line per study: ``"name": "encoderscope.studies.module:function"``.

Example:
    >>> "lwta" in STUDIES
    True
    >>> callable(get_study("lwta"))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from encoderscope.errors import ParameterError
from encoderscope.lazy import import_object

StudyFunction = Callable[[Path, bool], None]

#: name -> "module:function" of a callable (out_dir: Path, quick: bool) -> None.
STUDIES: dict[str, str] = {
    "lwta": "encoderscope.studies.lwta:study",
    "supervision": "encoderscope.studies.supervision:run",
    "registers": "encoderscope.studies.registers:run",
    "clever-hans": "encoderscope.studies.clever_hans:run",
    "baselines": "encoderscope.studies.baselines:run",
    "linking": "encoderscope.studies.linking:run",
}


def get_study(name: str) -> StudyFunction:
    """The study function registered under ``name``."""
    if name not in STUDIES:
        raise ParameterError(f"unknown study {name!r}; available: {', '.join(sorted(STUDIES))}")
    return import_object(STUDIES[name])
