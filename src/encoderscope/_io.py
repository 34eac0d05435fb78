"""Atomic file output (JSON, text, CSV, npz) and the cache directory.

Nothing is ever half-written: every writer goes to a temporary file in the destination folder and renames it into
place, so an interrupted run leaves either the old file or the new one. ``.npz`` files are written with fixed zip
timestamps, so the same arrays give the same bytes; :func:`write_csv` is the one CSV writer of the package.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_json(d / "run.json", {"seed": 0})
    >>> read_json(d / "run.json")["seed"]
    0
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope.errors import ParameterError

CACHE_ENV = "ENCODERSCOPE_CACHE"


def _file_mode() -> int:
    """Mode of a normally created file (0666 less the umask); mkstemp alone would leave 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def cache_dir(*parts: str) -> Path:
    """The encoderscope cache folder (``$ENCODERSCOPE_CACHE`` or ``~/.cache/encoderscope``), created on demand."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "encoderscope")
    return make_folder(root.joinpath(*parts))


def folder_blocked(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be or become a folder (a file stands there or above it), or None when it can.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
        >>> _ = f.write_text("x")
        >>> folder_blocked(f / "out") == f"{f} is a file, not a folder", folder_blocked(f.parent / "out")
        (True, None)
    """
    for candidate in (Path(path), *Path(path).parents):
        if candidate.exists():
            return None if candidate.is_dir() else f"{candidate} is a file, not a folder"
    return None


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (and its parents); one line when a file stands in the way or it is not writable."""
    folder = Path(path)
    blocked = folder_blocked(folder)
    if blocked:
        raise ParameterError(f"cannot write into {folder}: {blocked}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"cannot write into {folder}: {err.strerror or type(err).__name__}") from None
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block finishes without error."""
    final = Path(path)
    make_folder(final.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def json_default(obj: Any) -> Any:
    """JSON for numpy numbers and arrays, paths and dataclasses (``json.dumps(..., default=json_default)``)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    return str(obj)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (numpy scalars, arrays and paths are converted)."""
    write_text(path, json.dumps(obj, indent=2, default=json_default, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], compressed: bool = True) -> None:
    """Write named arrays to an ``.npz`` file atomically (never with pickled objects).

    The file is what ``np.savez_compressed`` writes (``np.load`` reads it), with a fixed timestamp on every member,
    so equal arrays give byte-identical files.
    """
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, mode="w", compression=method, allowZip64=True) as archive:
        for name, value in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            member.compress_type = method
            with archive.open(member, mode="w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asarray(value), allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read an ``.npz`` file written by :func:`write_npz` (``allow_pickle=False``)."""
    with np.load(Path(path), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def csv_text(
    header: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]], float_format: str | None = ".6g"
) -> str:
    """CSV text: a header line, then one line per row (a mapping keyed by the header, extra keys ignored, missing
    ones empty; or a sequence in header order). Floats (numpy's too) are written with ``float_format``; ``None``
    writes them as Python prints them.

    Example:
        >>> print(csv_text(["unit", "score"], [{"unit": 0, "score": 0.123456789}, [1, 2.0]]), end="")
        unit,score
        0,0.123457
        1,2
    """

    def cell(value: Any) -> Any:
        if float_format is not None and isinstance(value, float | np.floating):
            return format(value, float_format)
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        values = [row.get(column, "") for column in header] if isinstance(row, Mapping) else list(row)
        writer.writerow([cell(value) for value in values])
    return buffer.getvalue()


def write_csv(
    path: str | os.PathLike[str],
    header: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    float_format: str | None = ".6g",
) -> None:
    """Write :func:`csv_text` to ``path`` atomically: the one CSV writer of the package."""
    write_text(path, csv_text(header, rows, float_format))


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape results (for ``run.json`` records; looked up once).

    Example:
        >>> "python" in versions()
        True
    """
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    import importlib.metadata as metadata
    import platform

    found = {"python": platform.python_version()}
    for name in ("encoderscope", "torch", "torchvision", "timm", "numpy", "faiss-cpu", "scikit-learn", "scikit-image"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(found.items())
