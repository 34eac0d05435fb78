"""Reading images: any file mode to RGB, image sets from files, folders, lists and the zoo.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "cats").mkdir()
    >>> Image.new("L", (8, 6)).save(root / "cats" / "a.png")
    >>> images = open_images(root)
    >>> [(item.key, item.label) for item in images]
    [('cats/a.png', 'cats')]
    >>> images[0].load().mode, image_size(root / "cats" / "a.png")
    ('RGB', (8, 6))
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
from PIL import Image, ImageOps

from encoderscope._progress import warn
from encoderscope.errors import ImageError, ParameterError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
"""File extensions (lower case) that folder sources pick up; matching is case-insensitive."""

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_EXIF_ORIENTATION = 0x0112
_SWAPPED_ORIENTATIONS = frozenset({5, 6, 7, 8})

ImageSource = str | os.PathLike[str] | Image.Image | np.ndarray


def to_rgb_image(image: Image.Image) -> Image.Image:
    """Convert a decoded PIL image of any mode to 8-bit RGB.

    Alpha is composited on white; palette transparency is honoured; 16-bit integer images are scaled by the
    16-bit range (65535 -> 255, not clipped); 32-bit integer images outside 0..65535 and float images outside
    [0, 1] are min-max scaled; float images in [0, 1] are multiplied by 255.

    Example:
        >>> to_rgb_image(Image.new("I;16", (2, 2), 65535)).getpixel((0, 0))
        (255, 255, 255)
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        palette_alpha = image.palette is not None and image.palette.mode == "RGBA"
        has_alpha = "transparency" in image.info or palette_alpha
        return to_rgb_image(image.convert("RGBA")) if has_alpha else image.convert("RGB")
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in _SIXTEEN_BIT_MODES or mode == "I" or mode == "F":
        return _gray_to_rgb(_scale_to_uint8(np.asarray(image), mode))
    return image.convert("RGB")


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map integer or float samples of a single-channel image to uint8."""
    data = values.astype(np.float64)
    finite = np.isfinite(data)
    data[~finite] = 0.0
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode in _SIXTEEN_BIT_MODES or (mode == "I" and lo >= 0 and hi <= 65535):
        scaled = data / 257.0
    elif mode == "F" and lo >= 0 and hi <= 1:
        scaled = data * 255.0
    else:
        scaled = (data - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(data)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(gray)).convert("RGB")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode an image file into an RGB PIL image with its EXIF orientation applied.

    Raises ``ImageError("cannot read image <path>: <reason>")`` for missing, truncated, corrupt or non-image
    files.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.png"
        >>> Image.new("LA", (3, 2), (0, 0)).save(p)
        >>> load_image(p).getpixel((0, 0))
        (255, 255, 255)
    """
    path = Path(path)
    with _reading(path), Image.open(path) as handle:
        handle.load()
        image = ImageOps.exif_transpose(handle) or handle
        image.load()
        return to_rgb_image(image).copy()


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn any failure to open or decode ``path`` into ``ImageError("cannot read image <path>: <reason>")``."""
    try:
        yield
    except FileNotFoundError:
        raise ImageError(f"cannot read image {path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"cannot read image {path}: it is a folder") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"cannot read image {path}: not an image file PIL can identify") from None
    except ImageError:
        raise
    except Exception as err:  # any decoder failure (truncated data, bad headers, decompression bombs)
        raise ImageError(f"cannot read image {path}: {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:200]


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image file as :func:`load_image` returns it, read from the header only.

    EXIF orientations 5-8 (rotated by 90 degrees) swap width and height.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jpg"
        >>> Image.new("RGB", (40, 30)).save(p)
        >>> image_size(p)
        (40, 30)
    """
    path = Path(path)
    with _reading(path), Image.open(path) as handle:
        width, height = handle.size
        orientation = handle.getexif().get(_EXIF_ORIENTATION, 1)
    return (height, width) if orientation in _SWAPPED_ORIENTATIONS else (width, height)


@dataclass(frozen=True)
class SkippedInput:
    """An input left out of a run, with the one-line reason."""

    key: str
    reason: str


@dataclass(frozen=True)
class ImageItem:
    """One image of a set: a stable ``key``, an optional class ``label``, and a file ``path``.

    ``path`` is None for in-memory or generated images, which carry their pixels or a loader in ``source``.

    Example:
        >>> ImageItem("x", None, None, Image.new("L", (4, 4))).load().size
        (4, 4)
    """

    key: str
    label: str | None
    path: Path | None
    source: Image.Image | Callable[[], Image.Image | np.ndarray] | None = field(default=None, repr=False, compare=False)

    def load(self) -> Image.Image:
        """The image in RGB (``ImageError`` when it cannot be read)."""
        if self.source is None:
            if self.path is None:
                raise ImageError(f"cannot read image {self.key}: the item has neither a path nor pixels")
            return load_image(self.path)
        image = self.source if isinstance(self.source, Image.Image) else self.source()
        if isinstance(image, np.ndarray):
            image = array_to_image(image, self.key)
        return to_rgb_image(image)

    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the loaded image; read from the file header when the item is a file."""
        if self.source is None and self.path is not None:
            return image_size(self.path)
        if isinstance(self.source, Image.Image):
            return self.source.size
        return self.load().size


def array_to_image(array: np.ndarray, key: str = "array") -> Image.Image:
    """An RGB image from an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array (uint8, or float in [0, 1]).

    Example:
        >>> array_to_image(np.zeros((2, 3), dtype=np.uint8)).size
        (3, 2)
    """
    data = np.asarray(array)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] not in (3, 4)) or 0 in data.shape:
        raise ImageError(f"cannot read image {key}: array of shape {data.shape} is not (H, W[, 1|3|4])")
    if data.dtype == np.bool_:
        data = data.astype(np.uint8) * 255
    elif data.dtype != np.uint8:
        floats = data.astype(np.float64)
        if np.issubdtype(data.dtype, np.floating) and np.nanmin(floats) >= 0 and np.nanmax(floats) <= 1:
            floats = floats * 255.0
        data = np.clip(np.rint(np.nan_to_num(floats)), 0, 255).astype(np.uint8)
    return to_rgb_image(Image.fromarray(np.ascontiguousarray(data)))


@dataclass
class ImageSet:
    """An ordered list of :class:`ImageItem` plus the inputs skipped while loading them.

    Example:
        >>> s = ImageSet([ImageItem("a", None, Path("/missing.png"))])
        >>> [i for i, _, _ in s.iter_loaded(warn_skipped=False)], s.skipped[0].key
        ([], 'a')
    """

    items: list[ImageItem]
    skipped: list[SkippedInput] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ImageItem]:
        return iter(self.items)

    @overload
    def __getitem__(self, index: int) -> ImageItem: ...

    @overload
    def __getitem__(self, index: slice) -> ImageSet: ...

    def __getitem__(self, index: int | slice) -> ImageItem | ImageSet:
        if isinstance(index, slice):
            return ImageSet(self.items[index], list(self.skipped), list(self.sources))
        return self.items[index]

    @property
    def keys(self) -> list[str]:
        """The item keys in order."""
        return [item.key for item in self.items]

    @property
    def labels(self) -> list[str | None]:
        """The item labels in order (None where an item has no label)."""
        return [item.label for item in self.items]

    def skip(self, key: str, reason: str, warn_skipped: bool = True) -> None:
        """Record an input as skipped (once per key) and print a one-line warning."""
        if any(s.key == key for s in self.skipped):
            return
        self.skipped.append(SkippedInput(key, reason))
        if warn_skipped:
            warn(f"skipped {reason}")

    def iter_loaded(self, warn_skipped: bool = True) -> Iterator[tuple[int, ImageItem, Image.Image]]:
        """Yield ``(index, item, rgb_image)``; unreadable items are skipped with a warning and kept in
        ``.skipped``."""
        return self.load_each(((index, item, item.load) for index, item in enumerate(self.items)), warn_skipped)

    def load_each(
        self, loaders: Iterable[tuple[int, ImageItem, Callable[[], Image.Image]]], warn_skipped: bool = True
    ) -> Iterator[tuple[int, ImageItem, Image.Image]]:
        """Call each ``(index, item, load)``'s ``load`` and yield ``(index, item, rgb_image)``; an item whose load
        raises :class:`~encoderscope.errors.ImageError` is skipped with a warning and kept in ``.skipped``."""
        for index, item, load in loaders:
            try:
                image = load()
            except ImageError as err:
                self.skip(item.key, str(err), warn_skipped)
                continue
            yield index, item, image

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary for run records: sources, counts and skipped inputs."""
        return {
            "sources": list(self.sources),
            "n_images": len(self.items),
            "skipped": [{"key": s.key, "reason": s.reason} for s in self.skipped],
        }


def open_images(
    sources: ImageSource | ImageSet | Sequence[ImageSource] | ImageSet, limit: int | None = None
) -> ImageSet:
    """Collect images from files, folders, ``.txt`` lists, zoo sources, PIL images, arrays, or lists of these.

    - a folder: every image below it (recursive, sorted, hidden entries ignored); images inside sub-folders
      get the top-level sub-folder name as label; keys are paths relative to the folder (``"cats/a.jpg"``);
    - a ``.txt`` file: one path per line, relative to the list's folder (``#`` starts a comment; an optional
      tab separates a label); keys are the paths as written;
    - an image file: key is its file name;
    - ``zoo:photos``, ``zoo:photos/<name>``, ``zoo:textures``, ``zoo:fashion-mnist[/t10k|/train]``,
      ``zoo:mnist5k`` (see :mod:`encoderscope.data.zoo_images`);
    - PIL images or arrays: keys ``image-000``, ``image-001`` ...

    Keys that collide across sources get a ``~2``, ``~3`` suffix. ``limit`` keeps the first N items. A missing
    path or a source without images raises :class:`ImageError`.

    Example:
        >>> len(open_images([Image.new("RGB", (4, 4)), Image.new("L", (4, 4))]))
        2
    """
    if isinstance(sources, ImageSet):
        result = ImageSet(list(sources.items), list(sources.skipped), list(sources.sources))
        return _apply_limit(result, limit)
    listed: Sequence[Any]
    listed = [sources] if isinstance(sources, str | os.PathLike | Image.Image | np.ndarray) else list(sources)
    if not listed:
        raise ImageError("no image sources given")
    items: list[ImageItem] = []
    described: list[str] = []
    skipped: list[SkippedInput] = []
    in_memory = 0
    for source in listed:
        if isinstance(source, ImageSet):
            items.extend(source.items)
            skipped.extend(source.skipped)
            described.extend(source.sources)
            continue
        if isinstance(source, Image.Image | np.ndarray):
            items.append(ImageItem(f"image-{in_memory:03d}", None, None, _memory_source(source)))
            in_memory += 1
            described.append("<in-memory image>")
            continue
        items.extend(_expand(source))
        described.append(str(source))
    result = ImageSet(_unique_keys(items), skipped, described)
    return _apply_limit(result, limit)


def recorded_sources(sources: Any) -> tuple[str, ...] | None:
    """Image sources as a run records them for a replay: paths made absolute (so ``--config run.json`` finds them
    from any working directory), ``zoo:`` sources as given; None when they are not paths (in-memory images).

    Example:
        >>> recorded_sources("zoo:photos"), recorded_sources([Image.new("L", (2, 2))])
        (('zoo:photos',), None)
    """
    listed = [sources] if isinstance(sources, str | os.PathLike) else sources
    if not isinstance(listed, list | tuple) or not all(isinstance(s, str | os.PathLike) for s in listed):
        return None
    texts = [os.fspath(s) for s in listed]
    return tuple(t if t.startswith("zoo:") else str(Path(t).expanduser().absolute()) for t in texts)


def _memory_source(source: Image.Image | np.ndarray) -> Image.Image | Callable[[], np.ndarray]:
    if isinstance(source, Image.Image):
        return source
    array = np.asarray(source)
    return lambda: array


def _apply_limit(images: ImageSet, limit: int | None) -> ImageSet:
    if limit is None:
        return images
    if limit < 1:
        raise ParameterError(f"limit must be at least 1, got {limit}")
    images.items = images.items[:limit]
    return images


def _unique_keys(items: Iterable[ImageItem]) -> list[ImageItem]:
    seen: dict[str, int] = {}
    unique: list[ImageItem] = []
    for item in items:
        count = seen.get(item.key, 0) + 1
        seen[item.key] = count
        if count > 1:
            item = ImageItem(f"{item.key}~{count}", item.label, item.path, item.source)
        unique.append(item)
    return unique


def _expand(source: str | os.PathLike[str]) -> list[ImageItem]:
    """The items of one path or zoo source."""
    text = os.fspath(source)
    if isinstance(text, str) and text.startswith("zoo:"):
        from encoderscope.data.zoo_images import open_zoo

        return [ImageItem(*image) for image in open_zoo(text)]
    path = Path(text).expanduser()
    if not path.exists():
        raise ImageError(f"cannot open image source {path}: no such file or folder")
    path = path.absolute()  # results and caches find the files again from any working directory
    if path.is_dir():
        items = _folder_items(path)
    elif path.suffix.lower() == ".txt":
        items = _list_items(path)
    else:
        items = [ImageItem(path.name, None, path)]
    if not items:
        kind = "folder" if path.is_dir() else "list"
        extensions = " ".join(sorted(IMAGE_EXTENSIONS))
        raise ImageError(f"no images found in {kind} {path} (looked for {extensions})")
    return items


def _folder_items(root: Path) -> list[ImageItem]:
    found: list[tuple[str, Path]] = []
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = [s for s in subfolders if not s.startswith(".")]
        for name in files:
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            full = Path(folder) / name
            found.append((full.relative_to(root).as_posix(), full))
    found.sort(key=lambda pair: pair[0])
    items = []
    for key, full in found:
        parts = key.split("/")
        items.append(ImageItem(key, parts[0] if len(parts) > 1 else None, full))
    return items


def _list_items(list_path: Path) -> list[ImageItem]:
    try:
        lines = list_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ImageError(f"cannot read image list {list_path}: {_reason(err)}") from None
    items = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry, _, label = line.partition("\t")
        entry = entry.strip()
        full = Path(entry).expanduser()
        if not full.is_absolute():
            full = list_path.parent / full
        items.append(ImageItem(entry, label.strip() or None, full))
    return items
