"""State dicts that encoderscope derives once (the DINOv2 port, the eye-colour CNN) and caches as safetensors.

A cache file carries its identity in the safetensors metadata (a format number, what it was derived from, how) and
a SHA-256 of its tensors. :func:`read_state` accepts a file only if it parses, has exactly that identity, exactly
the expected keys and shapes, and the right content hash; :func:`cached_state` otherwise builds the state dict again
(one warning line) and writes it atomically, so an interrupted build leaves nothing behind. A read-only cache only
costs a rebuild next time.

Example:
    >>> import tempfile, pathlib, torch
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.safetensors"
    >>> shapes = {"w": torch.Size([2])}
    >>> state, meta = cached_state(path, {"source": "x"}, shapes, lambda: ({"w": torch.ones(2)}, {"note": "n"}), "demo")
    >>> again, meta = cached_state(path, {"source": "x"}, shapes, lambda: 1 / 0, "demo")   # read, not built
    >>> again["w"].tolist(), meta["note"]
    ([1.0, 1.0], 'n')
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from encoderscope._io import atomic_path
from encoderscope._progress import warn
from encoderscope.errors import first_line

State = dict[str, torch.Tensor]


def content_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the keys, shapes, dtypes and bytes of a state dict (in key order)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def read_state(
    path: Path, identity: Mapping[str, str], expected: Mapping[str, torch.Size]
) -> tuple[State, dict[str, str]]:
    """Read and verify a cached state dict; returns it with its metadata.

    Raises:
        ValueError: the file is partial, corrupt, stale or for another identity; the message says why.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        state = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for truncated or garbled files
        raise ValueError(f"unreadable ({first_line(err)})") from err
    if any(metadata.get(key) != value for key, value in identity.items()):
        raise ValueError("written by another encoderscope version or for another source")
    if {k: v.shape for k, v in state.items()} != dict(expected):
        raise ValueError("its tensors do not match the architecture")
    if metadata.get("content_sha256") != content_sha256(state):
        raise ValueError("its content hash does not match (corrupt bytes)")
    return state, metadata


def cached_state(
    path: Path,
    identity: Mapping[str, str],
    expected: Mapping[str, torch.Size],
    build: Callable[[], tuple[State, Mapping[str, str]]],
    what: str,
) -> tuple[State, dict[str, str]]:
    """The state dict at ``path`` when a valid copy is there, else ``build()`` (state, extra metadata), cached.

    ``identity``: metadata the file must carry (format, source hash...); ``expected``: every key and its shape;
    ``what``: how warnings name it (``"DINOv2 port"``).
    """
    from safetensors.torch import save_file

    if path.exists():
        try:
            return read_state(path, identity, expected)
        except ValueError as err:
            warn(f"cached {what} {path} is {err}; building it again")
    state, extra = build()
    metadata = {**extra, **identity, "content_sha256": content_sha256(state)}
    try:
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata=metadata)
    except OSError as err:
        warn(f"cannot write the {what} cache {path} ({err}); it will be built again next time")
    return state, metadata
