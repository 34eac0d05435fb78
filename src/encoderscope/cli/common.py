"""Options and helpers shared by the command modules (help texts come from the configuration fields)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from encoderscope._io import folder_blocked
from encoderscope.cli.options import field_option
from encoderscope.configs import RunOptions
from encoderscope.errors import ParameterError

DEVICE = field_option(RunOptions, "device")
TRUST_PICKLE = field_option(RunOptions, "trust_pickle")


def out_option(help: str = "Output folder.", default: Any = ..., folder: bool = True) -> Any:
    """The ``--out`` / ``-o`` option of every command that writes (required unless ``default`` is given).

    A folder output is checked before any work: a file standing where the folder goes is one line, not a
    computation lost at saving time.
    """
    return typer.Option(default, "--out", "-o", help=help, callback=_check_folder if folder else None)


def _check_folder(value: Path | None) -> Path | None:
    blocked = None if value is None else folder_blocked(value)
    if blocked:
        raise ParameterError(f"cannot write into {value}: {blocked}")
    return value


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"224"`` -> (224, 224); ``"224x320"`` -> (224, 320) (height x width)."""
    if text is None:
        return None
    parts = text.lower().replace("*", "x").split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError as err:
        raise ParameterError(f"size {text!r} is not H or HxW (e.g. 224 or 224x320)") from err
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise ParameterError(f"size {text!r} is not H or HxW with positive numbers")
    return values[0], values[1]


def split_list(text: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]
