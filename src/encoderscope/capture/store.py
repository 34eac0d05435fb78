"""The activation store: layer outputs in safetensors shards, one shard per input chunk, safe to kill and resume.

Layout of a store folder::

    DIR/encoderscope-store.json        marks the folder as a store (format number)
    DIR/<model key>/model.json         what the key stands for (model, weights, layers, preprocessing, ...)
    DIR/<model key>/manifest.json      index: shard -> image keys (rebuilt from the shard headers when stale)
    DIR/<model key>/shards/<uuid>.safetensors

* **Keys.** An image's key is the SHA-256 of its file's bytes for items read from files (a hit needs no decoding),
  or of its decoded RGB pixels for in-memory images (:func:`image_key`). The model key (:func:`model_key`) hashes the
  weights fingerprint, architecture, layers, preprocessing, token layout, autocast, preprocessing mode and the store
  format; anything that changes the activations changes a key, so a hit is never stale.
* **Shards** are self-describing: the safetensors header metadata holds the image keys, their geometry (original,
  content and padded size), each output's kind and prefix kinds, and a SHA-256 checksum of the tensors. A shard is
  written to a temporary file and renamed into place, so a shard either exists complete or not at all: a run killed
  at any moment loses at most the shard it was writing. A shard that fails to parse or to match its checksum is
  reported once, deleted, and its images are computed again.
* **Manifest.** An index for fast opening, written atomically from time to time and when a run ends; on opening,
  shards the manifest does not list (written by a killed run or by another process) are added from their headers and
  listed shards that are gone are dropped. Two processes can write one store: shard names are unique, and each
  rewrites the manifest from its own index merged with the folder's current shards.

Example:
    >>> import tempfile, torch
    >>> from encoderscope.capture.inputs import ImageGeometry
    >>> from encoderscope.capture.outputs import LayerOutput
    >>> store = ActivationStore(tempfile.mkdtemp(), "demo")
    >>> geometry = ImageGeometry((4, 4), (4, 4), (4, 4))
    >>> _ = store.write([StoredImage("k1", geometry, {"0": LayerOutput(grid=torch.ones(1, 2, 3, 3), kind="grid")})])
    >>> store.read(["k1"])["k1"].outputs["0"].grid.shape
    torch.Size([1, 2, 3, 3])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as save_safetensors

from encoderscope._io import cache_dir, file_sha256, make_folder, read_json, write_bytes, write_json
from encoderscope._progress import warn
from encoderscope.capture.inputs import ImageGeometry
from encoderscope.capture.outputs import LayerOutput
from encoderscope.errors import ParameterError

if TYPE_CHECKING:
    from encoderscope.zoo.encoder import Encoder

STORE_FORMAT = 1
MARKER = "encoderscope-store.json"
MANIFEST = "manifest.json"
MODEL_INFO = "model.json"
SHARDS = "shards"
SHARD_SUFFIX = ".safetensors"
MANIFEST_EVERY = 32
"""Shards written between two manifest updates (the manifest is also written when a run ends)."""


def model_settings(
    encoder: Encoder, layers: Sequence[str], autocast: Any = False, mode: str = "dense", extra: Any = None
) -> dict[str, Any]:
    """Everything but the image that determines the stored activations (hashed by :func:`model_key`)."""
    return {
        "format": STORE_FORMAT,
        "architecture": encoder.architecture,
        "fingerprint": encoder.fingerprint,
        "layers": list(layers),
        "preprocess": dataclasses.asdict(encoder.preprocess),
        "layout": dataclasses.asdict(encoder.layout),
        "autocast": autocast,
        "mode": mode,
        "extra": extra,
    }


def model_key(
    encoder: Encoder, layers: Sequence[str], autocast: Any = False, mode: str = "dense", extra: Any = None
) -> str:
    """Hash of :func:`model_settings` (24 hex digits): the folder name of one model inside a store."""
    settings = model_settings(encoder, layers, autocast, mode, extra)
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:24]


def pixels_key(image: Any) -> str:
    """Hash of decoded RGB pixels and their size."""
    digest = hashlib.sha256(f"pixels:{image.mode}{image.size}".encode())
    digest.update(np.asarray(image).tobytes())
    return digest.hexdigest()[:32]


def image_key(item: Any) -> str | None:
    """The content key of one image item: its file's bytes, or its pixels when it lives in memory.

    ``None`` when the item cannot be read (the input pipeline then reports why and skips it).

    Example:
        >>> from PIL import Image
        >>> from encoderscope.data.images import ImageItem
        >>> a = ImageItem("a", None, None, Image.new("RGB", (2, 2)))
        >>> image_key(a) == image_key(ImageItem("b", None, None, Image.new("RGB", (2, 2))))
        True
    """
    path = getattr(item, "path", None)
    if getattr(item, "source", None) is None and path is not None:
        try:
            return file_sha256(path)[:32]
        except OSError:
            return None
    try:
        return pixels_key(item.load())
    except Exception:  # unreadable: no key, the pipeline reports the reason
        return None


@dataclass
class StoredImage:
    """One image's entry: content key, geometry and layer outputs (each with a batch axis of size 1)."""

    key: str
    geometry: ImageGeometry
    outputs: dict[str, LayerOutput]


# -- shard encoding ---------------------------------------------------------------------------------------------

_OUTPUT_FIELDS = [f.name for f in dataclasses.fields(LayerOutput)]


def _encode_output(output: LayerOutput) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensor fields of a LayerOutput, and its other fields as JSON values."""
    tensors, info = {}, {}
    for name in _OUTPUT_FIELDS:
        value = getattr(output, name)
        if isinstance(value, torch.Tensor):
            tensors[name] = value.detach().to("cpu").contiguous().clone()
        elif value is not None:
            info[name] = list(value) if isinstance(value, tuple) else value
    return tensors, info


def _decode_output(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> LayerOutput:
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in info.items()}
    return LayerOutput(**values, **tensors)


def tensors_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``tensors`` (in name order)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy() if tensor.numel() else b"")
    return digest.hexdigest()


def encode_shard(images: Sequence[StoredImage], model_key: str, unreadable: Sequence[str] = ()) -> bytes:
    """The safetensors bytes of one shard (tensors ``"<image>/<layer>/<field>"`` plus self-describing metadata).

    ``unreadable``: keys of files of the same chunk that could not be decoded (so a rerun knows them).
    """
    if not images:
        raise ParameterError("a shard needs at least one image")
    layers = list(images[0].outputs)
    tensors: dict[str, torch.Tensor] = {}
    infos = []
    for i, image in enumerate(images):
        per_layer = []
        for j, layer in enumerate(layers):
            parts, info = _encode_output(image.outputs[layer])
            tensors.update({f"{i}/{j}/{name}": tensor for name, tensor in parts.items()})
            per_layer.append(info)
        infos.append(per_layer)
    metadata = {
        "encoderscope": str(STORE_FORMAT),
        "model_key": model_key,
        "keys": json.dumps([image.key for image in images]),
        "unreadable": json.dumps(list(unreadable)),
        "geometry": json.dumps([image.geometry.to_list() for image in images]),
        "layers": json.dumps(layers),
        "outputs": json.dumps(infos),
        "checksum": tensors_checksum(tensors),
    }
    return save_safetensors(tensors, metadata=metadata)


def _check_header(metadata: dict[str, str] | None, model_key: str) -> dict[str, str]:
    if not metadata or metadata.get("encoderscope") != str(STORE_FORMAT):
        raise ValueError("not an encoderscope shard of this format")
    if metadata.get("model_key") != model_key:
        raise ValueError("shard of another model")
    return metadata


def read_shard_keys(path: Path, model_key: str) -> tuple[list[str], list[str]]:
    """The image keys in a shard's header, and the keys of its chunk's unreadable files (tensors are not read)."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = _check_header(handle.metadata(), model_key)
    return list(json.loads(metadata["keys"])), list(json.loads(metadata.get("unreadable", "[]")))


def decode_shard(path: Path, model_key: str) -> list[StoredImage]:
    """Every image of one shard; ``ValueError`` (or a safetensors error) when it is damaged."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = _check_header(handle.metadata(), model_key)
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (not a dict)
    if tensors_checksum(tensors) != metadata["checksum"]:
        raise ValueError("checksum mismatch")
    keys = json.loads(metadata["keys"])
    geometry = json.loads(metadata["geometry"])
    layers = json.loads(metadata["layers"])
    infos = json.loads(metadata["outputs"])
    images = []
    for i, key in enumerate(keys):
        outputs = {}
        for j, layer in enumerate(layers):
            prefix = f"{i}/{j}/"
            parts = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
            outputs[layer] = _decode_output(parts, infos[i][j])
        images.append(StoredImage(key, ImageGeometry.from_list(geometry[i]), outputs))
    return images


# -- the store --------------------------------------------------------------------------------------------------


def store_root(cache: bool | str | os.PathLike[str]) -> Path:
    """The folder of ``cache=``: ``True`` = ``<encoderscope cache>/activation-store``, else the given folder."""
    return cache_dir("activation-store") if cache is True else Path(cache)  # type: ignore[arg-type]


def cache_setting(cache: Any) -> str | None:
    """``cache=`` as a configuration records it: ``None`` for no store (``False``, ``None``, ``""``), else the folder
    (``True``: the default one).

    Example:
        >>> cache_setting(False), cache_setting("acts")
        (None, 'acts')
    """
    if cache is None or cache is False or cache == "":
        return None
    return str(store_root(cache))


def _mark(root: Path) -> None:
    marker = root / MARKER
    if marker.exists():
        return
    # another process may be writing the marker right now: its temporary file (.<name>.*.tmp) does not count
    others = [p for p in root.iterdir() if p.name != MARKER and not p.name.startswith(f".{MARKER}.")]
    if others and not marker.exists() and not _looks_like_store(root):
        raise ParameterError(f"{root} is not empty and not an encoderscope activation store; choose another folder")
    write_json(marker, {"encoderscope_store": STORE_FORMAT})


def _looks_like_store(root: Path) -> bool:
    return any((child / MODEL_INFO).is_file() for child in root.iterdir() if child.is_dir())


class ActivationStore:
    """The shards of one model key inside a store folder (see the module docstring).

    Args:
        root: the store folder (created on demand).
        model_key: from :func:`model_key`.
        settings: what the key stands for, written once to ``model.json`` (for ``encoderscope cache info``).
    """

    def __init__(self, root: str | os.PathLike[str], model_key: str, settings: dict[str, Any] | None = None) -> None:
        self.root = make_folder(root)
        _mark(self.root)
        self.model_key = model_key
        self.folder = self.root / model_key
        self.shard_folder = self.folder / SHARDS
        self.shard_folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / MODEL_INFO).exists():
            write_json(self.folder / MODEL_INFO, {"model_key": model_key, **(settings or {})})
        self.shards: dict[str, list[str]] = {}
        self.index: dict[str, str] = {}
        self.unreadable: dict[str, list[str]] = {}  # shard name -> keys of its chunk's undecodable files
        self._lock = threading.RLock()  # the background shard writer and the reader share the index
        self.hits = 0
        self.misses = 0
        self.damaged: list[str] = []
        self._unsaved = 0
        self._key_memo: dict[tuple[str, int, int], str] = {}
        self._load_manifest()
        if self.reconcile():
            self.save_manifest()

    # index --------------------------------------------------------------------------------------------------

    def _load_manifest(self) -> None:
        try:
            manifest = read_json(self.folder / MANIFEST)
            shards = manifest["shards"] if manifest.get("format") == STORE_FORMAT else {}
        except (OSError, ValueError, KeyError, TypeError):
            shards = {}
        for name, entry in shards.items():
            self._add(name, list(entry["keys"]), list(entry.get("unreadable", [])))

    def _add(self, name: str, keys: list[str], unreadable: list[str] | None = None) -> None:
        with self._lock:
            self.shards[name] = keys
            if unreadable:
                self.unreadable[name] = unreadable
            for key in keys:
                # an image in several shards is read from the first by name: the same choice in every run
                if key not in self.index or name < self.index[key]:
                    self.index[key] = name

    def _drop(self, name: str) -> None:
        with self._lock:
            dropped = self.shards.pop(name, [])
            self.unreadable.pop(name, None)
            for key in dropped:
                if self.index.get(key) == name:
                    del self.index[key]
                    others = [other for other, keys in self.shards.items() if key in keys]
                    if others:
                        self.index[key] = min(others)

    def _shard_files(self) -> set[str]:
        return {p.name for p in self.shard_folder.glob(f"*{SHARD_SUFFIX}") if not p.name.startswith(".")}

    def reconcile(self) -> bool:
        """Add shards on disk that the index lacks (from their headers), drop listed shards that are gone.

        Returns whether the index changed.
        """
        on_disk = self._shard_files()
        with self._lock:
            return self._reconcile(on_disk)

    def _reconcile(self, on_disk: set[str]) -> bool:
        changed = False
        for name in sorted(set(self.shards) - on_disk):
            self._drop(name)
            changed = True
        for name in sorted(on_disk - set(self.shards)):
            path = self.shard_folder / name
            try:
                keys, unreadable = read_shard_keys(path, self.model_key)
            except Exception as err:  # damaged header: the shard is useless
                self._discard(path, err)
                continue
            self._add(name, keys, unreadable)
            changed = True
        return changed

    def save_manifest(self) -> None:
        """Write the index atomically, merged with shards other processes wrote meanwhile."""
        with self._lock:
            self.reconcile()
            listed = [(name, keys, self.unreadable.get(name, [])) for name, keys in sorted(self.shards.items())]
        shards = {name: {"keys": keys, "unreadable": bad, "bytes": self._size(name)} for name, keys, bad in listed}
        write_json(self.folder / MANIFEST, {"format": STORE_FORMAT, "model_key": self.model_key, "shards": shards})
        self._unsaved = 0

    def _size(self, name: str) -> int:
        try:
            return (self.shard_folder / name).stat().st_size
        except OSError:
            return 0

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def __len__(self) -> int:
        return len(self.index)

    # keys ---------------------------------------------------------------------------------------------------

    def key_of(self, item: Any) -> str | None:
        """:func:`image_key`, remembered per (file, size, mtime) for this store's lifetime."""
        path = getattr(item, "path", None)
        if getattr(item, "source", None) is not None or path is None:
            return image_key(item)
        try:
            stat = os.stat(path)
        except OSError:
            return None
        memo = (os.fspath(path), stat.st_size, stat.st_mtime_ns)
        if memo not in self._key_memo:
            key = image_key(item)
            if key is None:
                return None
            self._key_memo[memo] = key
        return self._key_memo[memo]

    # reading and writing ------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, str]:
        """A copy of the index (image key -> shard name), for reads that must not see shards written later."""
        with self._lock:
            return dict(self.index)

    def unreadable_keys(self) -> set[str]:
        """Keys of files that could not be decoded when their chunk was computed."""
        with self._lock:
            return {key for keys in self.unreadable.values() for key in keys}

    def shard_keys(self, name: str) -> tuple[list[str], list[str]] | None:
        """The image keys and unreadable keys of one listed shard, or ``None``."""
        with self._lock:
            if name not in self.shards:
                return None
            return list(self.shards[name]), list(self.unreadable.get(name, []))

    def read(self, keys: Iterable[str], index: dict[str, str] | None = None) -> dict[str, StoredImage]:
        """Stored images by key; keys that are missing or whose shard is damaged are left out (and counted).

        ``index`` (key -> shard name, e.g. a :meth:`snapshot`) says where to read; default the current index.
        """
        wanted = list(dict.fromkeys(keys))
        where = self.snapshot() if index is None else index
        by_shard: dict[str, list[str]] = {}
        for key in wanted:
            if key in where:
                by_shard.setdefault(where[key], []).append(key)
        found: dict[str, StoredImage] = {}
        for name, shard_keys in by_shard.items():
            path = self.shard_folder / name
            try:
                images = {image.key: image for image in decode_shard(path, self.model_key)}
            except Exception as err:  # truncated, corrupt, or removed meanwhile
                self._discard(path, err)
                continue
            found.update({key: images[key] for key in shard_keys if key in images})
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def _discard(self, path: Path, err: BaseException) -> None:
        reason = " ".join(str(err).split())[:160] or type(err).__name__
        n = len(self.shards.get(path.name, []))
        warn(
            f"activation store: damaged shard {path.name} ({reason}); its {n or 'unknown number of'} image(s) "
            "will be computed again"
        )
        self.damaged.append(path.name)
        self._drop(path.name)
        path.unlink(missing_ok=True)

    def has_shard(self, name: str) -> bool:
        """Whether the index lists a shard of that file name."""
        return name in self.shards

    def write(self, images: Sequence[StoredImage], name: str | None = None, unreadable: Sequence[str] = ()) -> Path:
        """Write one shard atomically and add it to the index; returns its path.

        ``name``: the shard's file name without suffix (a chunk's deterministic name, so that a rerun finds the
        chunk and two processes computing the same chunk write the same file); default a random unique name.
        """
        name = f"{name or uuid.uuid4().hex}{SHARD_SUFFIX}"
        path = self.shard_folder / name
        write_bytes(path, encode_shard(images, self.model_key, unreadable))
        self._add(name, [image.key for image in images], list(unreadable))
        self._unsaved += 1
        if self._unsaved >= MANIFEST_EVERY:
            self.save_manifest()
        return path

    def close(self) -> None:
        """Write the manifest if shards were added since it was last written."""
        if self._unsaved:
            self.save_manifest()


def open_store(
    cache: bool | str | os.PathLike[str],
    encoder: Encoder,
    layers: Sequence[str],
    autocast: Any = False,
    mode: str = "dense",
    extra: Any = None,
) -> ActivationStore:
    """The store of ``cache=`` (``True``: the default folder) for one encoder, its layers and settings.

    ``extra``: anything else that changes the activations (e.g. the seed of stochastic layers), part of the key.
    """
    settings = model_settings(encoder, layers, autocast, mode, extra)
    key = model_key(encoder, layers, autocast, mode, extra)
    return ActivationStore(store_root(cache), key, {"model": getattr(encoder, "spec", None), **settings})


# -- inspecting and clearing store folders -------------------------------------------------------------------


@dataclass
class ModelEntry:
    """One model key of a store folder: what it stands for and what it holds."""

    key: str
    settings: dict[str, Any]
    shards: int
    images: int
    bytes: int
    temporary: int = 0

    def layers(self) -> str:
        """The layer names, the first four and a count of the others."""
        names = list(self.settings.get("layers") or [])
        return ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")


@dataclass
class StoreSummary:
    """The models of a store folder."""

    root: Path
    models: list[ModelEntry] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Bytes of all shards."""
        return sum(m.bytes for m in self.models)


def _require_store(root: Path) -> None:
    if not (root / MARKER).is_file():
        raise ParameterError(f"{root} is not an encoderscope activation store (no {MARKER})")


def store_summary(root: str | os.PathLike[str]) -> StoreSummary:
    """Models, shards, images and bytes of a store folder (the index is brought up to date first)."""
    folder = Path(root)
    _require_store(folder)
    summary = StoreSummary(folder)
    for child in sorted(p for p in folder.iterdir() if (p / MODEL_INFO).is_file()):
        settings = read_json(child / MODEL_INFO)
        store = ActivationStore(folder, child.name)
        sizes = sum(store._size(name) for name in store.shards)
        temporary = sum(1 for p in store.shard_folder.iterdir() if p.name.startswith("."))
        summary.models.append(ModelEntry(child.name, settings, len(store.shards), len(store), sizes, temporary))
    return summary


def clear_store(root: str | os.PathLike[str], model: str | None = None) -> list[str]:
    """Delete every model of a store folder, or only ``model`` (a model key or its unique prefix).

    Returns the model keys removed. Only folders that are models of the store are touched.
    """
    folder = Path(root)
    _require_store(folder)
    keys = sorted(p.name for p in folder.iterdir() if (p / MODEL_INFO).is_file())
    if model is not None:
        matches = [key for key in keys if key.startswith(model)]
        if len(matches) != 1:
            found = "no model" if not matches else f"{len(matches)} models"
            raise ParameterError(f"{found} with key {model!r} in {folder}; `encoderscope cache info` lists them")
        keys = matches
    for key in keys:
        shutil.rmtree(folder / key)
    return keys
