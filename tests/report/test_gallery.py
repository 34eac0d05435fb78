"""Concept and neuron galleries."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.report.gallery import (
    GalleryRow,
    concept_gallery,
    concept_presence,
    gallery_figure,
    highlight_concept,
    neuron_gallery,
    top_images,
)
from encoderscope.report.palette import concept_palette


class RecordingImages:
    """A lazily 'loading' image sequence that records which images were read."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.read: list[int] = []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        self.read.append(i)
        return np.full((24, 32, 3), 40 * i % 255, np.uint8)


def test_concept_presence_hand_computed() -> None:
    maps = [np.array([[0, 0, 1, -1]]), np.array([[2, 2, 2, 2]]), np.full((1, 3), -1)]
    presence = concept_presence(maps, 3)
    assert np.allclose(presence, [[2 / 3, 1 / 3, 0], [0, 0, 1], [0, 0, 0]])
    with pytest.raises(ParameterError, match="beyond k"):
        concept_presence(maps, 2)
    with pytest.raises(ParameterError):
        concept_presence(maps, 0)


def test_top_images_orders_and_skips_absent() -> None:
    presence = np.array([[0.2, 0.0], [0.7, 0.0], [0.2, 1.0]])
    assert top_images(presence, 5) == [[1, 0, 2], [2]]
    assert top_images(presence, 1) == [[1], [2]]


def test_highlight_keeps_region_fades_rest_and_outlines() -> None:
    photo = np.full((20, 20, 3), 100, np.uint8)
    labels = np.zeros((20, 20), int)
    labels[5:15, 5:15] = 1
    out = highlight_concept(photo, labels, 1, color=(1, 2, 3), fade=0.5, outline_width=1)
    assert out[10, 10].tolist() == [100, 100, 100]  # inside: untouched
    assert out[0, 0].tolist() == [178, 178, 178]  # outside: halfway to white
    assert out[4, 10].tolist() == [1, 2, 3]  # one pixel outside the region: the outline
    default = highlight_concept(photo, labels, 1)
    assert default[4, 10].tolist() == concept_palette(2)[1].tolist()


def test_highlight_crop_shows_the_largest_region() -> None:
    labels = np.zeros((40, 40), int)
    labels[0:2, 0:2] = 1  # small blob
    labels[20:30, 10:30] = 1  # large blob: the crop follows it
    out = highlight_concept(np.zeros((40, 40, 3), np.uint8), labels, 1, crop=True)
    assert out.shape[:2] == (10 + 2 * 2, 20 + 2 * 5)


def test_concept_gallery_reads_only_shown_images() -> None:
    images = RecordingImages(6)
    maps = [np.full((6, 8), i % 3) for i in range(6)]
    maps[0][:3] = 1
    fig = concept_gallery(images, maps, n=1, keys=[f"img{i}" for i in range(6)], thumb=32)
    assert fig.dtype == np.uint8 and fig.ndim == 3
    assert sorted(set(images.read)) == [1, 2, 3]  # the top image of each of the 3 concepts (ties: first)


def test_concept_gallery_is_deterministic_and_checks_inputs() -> None:
    imgs = [np.full((16, 16, 3), 90, np.uint8)] * 2
    maps = [np.eye(16, dtype=int), np.zeros((16, 16), int)]
    assert np.array_equal(concept_gallery(imgs, maps, thumb=24), concept_gallery(imgs, maps, thumb=24))
    with_absent = concept_gallery(imgs, maps, k=3, thumb=24)  # concept 2 is in no image: still a row
    assert with_absent.shape[0] > concept_gallery(imgs, maps, thumb=24).shape[0]
    with pytest.raises(ParameterError, match="label maps"):
        concept_gallery(imgs, maps[:1])
    with pytest.raises(ParameterError, match="palette"):
        concept_gallery(imgs, maps, palette=concept_palette(1))


def test_neuron_gallery_and_checks() -> None:
    pic = np.zeros((20, 20, 3), np.uint8)
    fig = neuron_gallery([3, "blocks.2/7"], [[pic, pic], [pic]], ["stripes", "dog"], [[1.5, 1.0], [0.2]], thumb=40)
    assert fig.shape[1] >= 2 * 40
    with pytest.raises(ParameterError, match="descriptions"):
        neuron_gallery([1], [[pic]], ["a", "b"])
    with pytest.raises(ParameterError, match="activation"):
        neuron_gallery([1], [[pic]], activations=[[1.0], [2.0]])


def test_gallery_figure_grows_with_rows() -> None:
    pic = np.zeros((10, 10, 3), np.uint8)
    one = gallery_figure([GalleryRow("a", [pic])], thumb=30)
    two = gallery_figure([GalleryRow("a", [pic]), GalleryRow("b", [pic], ["cap"], color=(255, 0, 0))], thumb=30)
    assert two.shape[0] > one.shape[0] + 30 and two.shape[1] == one.shape[1]
    with pytest.raises(ParameterError):
        gallery_figure([])
