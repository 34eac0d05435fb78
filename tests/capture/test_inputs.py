import pytest
import torch
from PIL import Image

from encoderscope.capture import inputs
from encoderscope.capture.inputs import (
    InputSkip,
    PreparedInput,
    SizeGrouper,
    check_workers,
    chunk_size_for,
    iter_input_batches,
    iter_prepared,
    prepare_item,
    resolve_transform,
)
from encoderscope.data import open_images
from encoderscope.data.images import ImageItem
from encoderscope.errors import ParameterError
from encoderscope.zoo.preprocess import Preprocess
from tests.images import make_image

PRE = Preprocess(size=28, pad_multiple=14)


@pytest.fixture
def folder(tmp_path):
    """Seven JPEGs of three sizes and one unreadable file (sorted position 3)."""
    sizes = [(30, 40), (40, 30), (30, 40), None, (30, 30), (30, 40), (40, 30), (30, 40)]
    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.jpg"
        if size is None:
            path.write_bytes(b"not a jpeg")
        else:
            make_image(*size, seed=i).save(path)
    return tmp_path


def _collect(results):
    found = {}
    for result in results:
        found[result.index] = result.reason if isinstance(result, InputSkip) else (result.tensor, result.geometry)
    return found


def test_workers_give_identical_results_in_order_and_skip_unreadable(folder):
    items = open_images(folder).items
    transform = resolve_transform(PRE, "dense")
    runs = {n: list(iter_prepared(items, transform, workers=n)) for n in (0, 1, 2)}
    for results in runs.values():
        assert [r.index for r in results] == list(range(8))
    reference = _collect(runs[0])
    assert "cannot read image" in reference[3] and "3.jpg" in reference[3]
    for n in (1, 2):
        other = _collect(runs[n])
        assert other[3] == reference[3]
        for i in set(reference) - {3}:
            assert torch.equal(other[i][0], reference[i][0]) and other[i][1] == reference[i][1]


def test_lazy_order_is_consumed_by_the_workers():
    items = open_images([make_image(20, 20, seed=i) for i in range(5)]).items
    order = (i for i in (4, 1, 3))
    results = list(iter_prepared(items, PRE.dense, workers=1, order=order))
    assert [r.index for r in results] == [4, 1, 3]


def test_geometry_of_dense_and_classify_modes():
    image = make_image(30, 40)
    dense = prepare_item(0, ImageItem("a", None, None, image), resolve_transform(PRE, "dense"))
    assert isinstance(dense, PreparedInput)
    # shorter side 30 -> 28, so 40 -> 37, padded to 42 (a multiple of 14)
    assert dense.geometry.original_hw == (30, 40)
    assert dense.geometry.content_hw == (28, 37)
    assert dense.geometry.padded_hw == (28, 42) == tuple(dense.tensor.shape[1:])
    crop = prepare_item(0, ImageItem("a", None, None, image), resolve_transform(PRE, "classify"))
    assert crop.geometry.original_hw == (30, 40) and crop.geometry.padded_hw == (28, 28)


def test_a_failing_loader_becomes_a_skip_record():
    def broken():
        raise RuntimeError("disk\nvanished")

    result = prepare_item(2, ImageItem("x", None, None, broken), PRE.dense)
    assert result == InputSkip(2, "x", "cannot read image x: disk vanished")


def test_batches_group_sizes_within_chunks_and_record_skips_once(folder):
    images = open_images(folder)
    batches = list(iter_input_batches(images, PRE, batch_size=2, workers=0))
    # one chunk of 8, sizes A B A - C A B A: a group is a batch once it holds 2, the rest goes at the chunk's end
    assert [b.indices for b in batches] == [[0, 2], [1, 6], [5, 7], [4]]
    assert [s.key for s in images.skipped] == ["3.jpg"]
    assert batches[0].pixels.shape == (2, 3, 28, 42)
    assert [g.original_hw for g in batches[1].geometry] == [(40, 30), (40, 30)]
    assert [item.key for item in batches[3].items] == ["4.jpg"]


def test_chunks_bound_the_grouping():
    # chunk size 8 for batch size 2: the two 40x30 images (1 and 8) are in different chunks, never in one batch
    sizes = [(30, 40), (40, 30), *[(30, 40)] * 6, (40, 30)]
    images = [make_image(*size, seed=i) for i, size in enumerate(sizes)]
    batches = list(iter_input_batches(images, PRE, batch_size=2, workers=0))
    assert [b.indices for b in batches] == [[0, 2], [3, 4], [5, 6], [1], [7], [8]]
    grouper = SizeGrouper(3)
    assert [grouper.add(i, (1, 1)) for i in range(3)] == [None, None, [0, 1, 2]]
    assert chunk_size_for(8) == 32


def test_default_workers_leave_one_core_and_none_beside_a_cpu_model_on_two_cores(monkeypatch):
    monkeypatch.setattr(inputs.os, "cpu_count", lambda: 2)
    assert inputs.default_workers() == 0  # the model on the CPU: its forward pass uses both cores
    assert inputs.default_workers("cpu") == 0
    assert inputs.default_workers("cuda:0") == 1  # a GPU model: decoding overlaps its forward pass
    assert check_workers(None, torch.device("cuda")) == 1
    monkeypatch.setattr(inputs.os, "cpu_count", lambda: 1)
    assert inputs.default_workers("cuda") == 0
    monkeypatch.setattr(inputs.os, "cpu_count", lambda: 32)
    assert inputs.default_workers() == 4
    assert check_workers(None) == 4


def test_the_default_on_a_two_core_cpu_decodes_in_this_process(monkeypatch):
    monkeypatch.setattr(inputs.os, "cpu_count", lambda: 2)

    def no_loader(*args, **kwargs):
        raise AssertionError("no worker processes expected")

    monkeypatch.setattr(inputs.torch.utils.data, "DataLoader", no_loader)
    items = open_images([Image.new("RGB", (8, 8))] * 2).items
    assert [p.index for p in iter_prepared(items, Preprocess(size=8).dense, device="cpu")] == [0, 1]


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_worker_counts_are_one_line_errors(bad):
    with pytest.raises(ParameterError, match="workers must be"):
        check_workers(bad)


def test_unknown_mode_and_plain_callables():
    with pytest.raises(ParameterError, match="unknown preprocessing mode"):
        resolve_transform(PRE, "crop")

    def to_tensor(image):
        return torch.zeros(3, 5, 5)

    assert resolve_transform(to_tensor) is to_tensor
    (batch,) = iter_input_batches([make_image(9, 9)], to_tensor, batch_size=4, workers=0)
    assert batch.pixels.shape == (1, 3, 5, 5) and batch.geometry[0].original_hw == (9, 9)
