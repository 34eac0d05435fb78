import pytest
import torch

from encoderscope.capture.chunks import Batch, iter_chunk_batches, plan_chunk, process_chunk
from encoderscope.capture.extract import forward_batch
from encoderscope.capture.inputs import InputSkip, chunk_ranges, resolve_transform
from encoderscope.capture.store import ActivationStore
from encoderscope.data import open_images
from encoderscope.zoo import load_model
from encoderscope.zoo.preprocess import Preprocess
from tests.images import make_image

BATCH = 2  # chunks of 8 images


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    enc = load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU()))
    enc.preprocess = Preprocess(size=32, pad_multiple=8)
    return enc


@pytest.fixture
def items(tmp_path):
    """11 image files of two sizes (two chunks) and one unreadable file at position 5."""
    for i in range(12):
        path = tmp_path / f"{i:02d}.png"
        if i == 5:
            path.write_bytes(b"broken")
        else:
            make_image(32 + 8 * (i % 2), 40, seed=i).save(path)
    return open_images(tmp_path).items


class Counting:
    """The encoder's forward pass, counting the images it sees."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.images = 0

    def __call__(self, pixels):
        self.images += pixels.shape[0]
        return forward_batch(self.encoder, pixels, ["1"])


def _run(encoder, items, store=None, workers=0, forward=None):
    forward = forward or Counting(encoder)
    transform = resolve_transform(encoder.preprocess)
    results = list(iter_chunk_batches(items, transform, forward, BATCH, store=store, workers=workers))
    return results, forward


def _grids(results):
    grids = {}
    for result in results:
        if isinstance(result, Batch):
            for j, index in enumerate(result.indices):
                grids[index] = result.outputs["1"].grid[j]
    return grids


def _compositions(results):
    return [r.indices for r in results if isinstance(r, Batch)]


def test_workers_do_not_change_batches_or_bits(encoder, items):
    reference, _ = _run(encoder, items, workers=0)
    skips = [r for r in reference if isinstance(r, InputSkip)]
    assert [s.index for s in skips] == [5]
    for workers in (1, 2):
        results, _ = _run(encoder, items, workers=workers)
        assert _compositions(results) == _compositions(reference)
        assert all(torch.equal(a, b) for a, b in zip(_grids(results).values(), _grids(reference).values(), strict=True))


def test_a_warm_store_gives_the_same_batches_without_the_model(encoder, items, tmp_path):
    store_dir = tmp_path / "store"
    cold, counted = _run(encoder, items, ActivationStore(store_dir, "m"), workers=1)
    assert counted.images == 11

    def fail(pixels):
        raise AssertionError("a stored chunk must not run the model")

    warm, _ = _run(encoder, items, ActivationStore(store_dir, "m"), forward=fail)
    assert _compositions(warm) == _compositions(cold)
    assert all(r.stored for r in warm if isinstance(r, Batch))
    assert [r.index for r in warm if isinstance(r, InputSkip)] == [5]  # still reported
    cold_grids, warm_grids = _grids(cold), _grids(warm)
    assert all(torch.equal(cold_grids[i], warm_grids[i]) for i in cold_grids)
    assert [p.padded_hw for r in warm if isinstance(r, Batch) for p in r.prepared][:2] == [(32, 40), (32, 40)]


def test_a_partly_stored_chunk_is_computed_whole(encoder, items, tmp_path):
    store = ActivationStore(tmp_path / "store", "m")
    _run(encoder, items[:3], store)  # images 0-2 stored in a chunk of their own
    store = ActivationStore(tmp_path / "store", "m")
    results, counted = _run(encoder, items, store)
    assert counted.images == 11  # chunk 0 (0-7) is not fully stored: computed in its own composition
    reference, _ = _run(encoder, items)
    assert _compositions(results) == _compositions(reference)


def test_stored_images_are_reused_across_batch_sizes(encoder, items, tmp_path):
    store_dir = tmp_path / "store"
    _run(encoder, items, ActivationStore(store_dir, "m"))
    transform = resolve_transform(encoder.preprocess)
    counted = Counting(encoder)
    results = list(iter_chunk_batches(items, transform, counted, 3, store=ActivationStore(store_dir, "m")))
    assert counted.images == 0 and len(_grids(results)) == 11


def test_a_damaged_chunk_shard_is_recomputed_in_the_same_composition(encoder, items, tmp_path, capsys):
    store_dir = tmp_path / "store"
    cold, _ = _run(encoder, items, ActivationStore(store_dir, "m"))
    shards = sorted((store_dir / "m" / "shards").glob("chunk-*.safetensors"))
    assert len(shards) == 2
    data = bytearray(shards[0].read_bytes())
    data[-5] ^= 0x55
    shards[0].write_bytes(bytes(data))
    again, counted = _run(encoder, items, ActivationStore(store_dir, "m"))
    assert "damaged shard" in capsys.readouterr().err
    assert 0 < counted.images < 11
    assert _compositions(again) == _compositions(cold)
    assert all(torch.equal(a, b) for a, b in zip(_grids(again).values(), _grids(cold).values(), strict=True))
    # rewritten under the chunk's name: a third run needs no model
    _, counted = _run(encoder, items, ActivationStore(store_dir, "m"))
    assert counted.images == 0


def test_stopping_early_keeps_the_finished_chunks(encoder, items, tmp_path):
    store_dir = tmp_path / "store"
    transform = resolve_transform(encoder.preprocess)
    stream = iter_chunk_batches(items, transform, Counting(encoder), BATCH, store=ActivationStore(store_dir, "m"))
    for result in stream:
        if isinstance(result, Batch) and 8 in result.indices:  # the second chunk has started
            break
    stream.close()
    store = ActivationStore(store_dir, "m")
    assert len(store) == 7  # chunk 0 without the unreadable image; chunk 1 was in flight


def test_process_chunk_is_the_same_code_for_one_chunk(encoder, items, tmp_path):
    """What a parallel engine's worker runs: equal batches, skips and stored shard to the local engine's."""
    transform = resolve_transform(encoder.preprocess)
    local, _ = _run(encoder, items)
    store = ActivationStore(tmp_path / "store", "m")
    remote = []
    for number, indices in enumerate(chunk_ranges(len(items), 4 * BATCH)):
        batches, skips = process_chunk(items, indices, number, transform, Counting(encoder), BATCH, store)
        remote += skips + batches
    assert _compositions(remote) == _compositions(local)
    assert all(torch.equal(a, b) for a, b in zip(_grids(remote).values(), _grids(local).values(), strict=True))
    plans = [
        plan_chunk(n, r, items, BATCH, ActivationStore(tmp_path / "store", "m"))
        for n, r in enumerate(chunk_ranges(len(items), 4 * BATCH))
    ]
    assert all(plan.stored is not None and plan.decode == ([5] if plan.number == 0 else []) for plan in plans)


def test_before_chunk_runs_once_per_computed_chunk(encoder, items, tmp_path):
    calls = []
    transform = resolve_transform(encoder.preprocess)
    store_dir = tmp_path / "store"
    for _ in range(2):
        list(
            iter_chunk_batches(
                items,
                transform,
                Counting(encoder),
                BATCH,
                store=ActivationStore(store_dir, "m"),
                before_chunk=calls.append,
            )
        )
    assert calls == [0, 1]  # the second run computes nothing


WRITER = """
import sys, torch
from encoderscope.capture.chunks import iter_chunk_batches
from encoderscope.capture.extract import forward_batch
from encoderscope.capture.inputs import resolve_transform
from encoderscope.capture.store import ActivationStore
from encoderscope.data import open_images
from encoderscope.zoo import load_model
from encoderscope.zoo.preprocess import Preprocess
torch.manual_seed(0)
enc = load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU()))
enc.preprocess = Preprocess(size=32, pad_multiple=8)
items = open_images(sys.argv[1]).items
if sys.argv[3] == "reversed":
    items = items[::-1]
for _ in iter_chunk_batches(items, resolve_transform(enc.preprocess), lambda p: forward_batch(enc, p, ["1"]), 1,
                            store=ActivationStore(sys.argv[2], "m"), workers=0):
    pass
"""


@pytest.mark.slow
def test_two_processes_writing_one_store_do_not_corrupt_it(encoder, items, tmp_path):
    import os
    import subprocess
    import sys

    store_dir = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    folder = str(items[0].path.parent)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, folder, str(store_dir), order], env=env)
        for order in ("forward", "reversed")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = ActivationStore(store_dir, "m")
    shards = sorted((store_dir / "m" / "shards").iterdir())
    assert all(not p.name.startswith(".") for p in shards)  # no temporary file left behind
    assert len(store.read(list(store.index))) == 11 == len(store)  # every shard parses and matches its checksum
    # both processes computed with batch size 1 in their own order: the forward order's chunks are all there
    transform = resolve_transform(encoder.preprocess)
    counted = Counting(encoder)
    list(iter_chunk_batches(items, transform, counted, 1, store=ActivationStore(store_dir, "m")))
    assert counted.images == 0
