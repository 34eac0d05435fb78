import threading
import time

import pytest
from PIL import Image

from encoderscope._background import CLUSTERING, Pause, prefetched
from encoderscope.capture.inputs import iter_prepared, prepare_item
from encoderscope.data import open_images
from encoderscope.zoo.preprocess import Preprocess


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("encoderscope-")}


def test_items_come_in_order_and_the_thread_ends():
    assert list(prefetched(iter(range(50)), ahead=3)) == list(range(50))
    assert not _threads()


def test_an_error_is_raised_at_its_position_in_the_consumer():
    def source():
        yield 1
        yield 2
        raise ValueError("bad item 3")

    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for item in prefetched(source(), ahead=2):
            seen.append(item)
    assert seen == [1, 2]
    assert not _threads()


def test_closing_the_consumer_stops_the_thread():
    produced = []

    def source():
        for i in range(10_000):
            produced.append(i)
            yield i

    items = prefetched(source(), ahead=4)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert not _threads()
    assert len(produced) < 100  # it ran at most ahead of the consumer, not to the end


def test_a_held_pause_stops_the_thread_and_a_waiting_consumer_lifts_it():
    produced = []

    def source():
        for i in range(6):
            time.sleep(0.02)  # decoding takes a while (and lets the consumer run)
            produced.append(i)
            yield i

    pause = Pause()
    with pause.held():
        items = prefetched(source(), ahead=6, pause=pause)
        assert next(items) == 0  # the consumer waits, so the pause is lifted for it
        time.sleep(0.2)
        held = len(produced)
        time.sleep(0.2)
        assert len(produced) == held < 6  # held again: the thread does not run ahead
    deadline = time.monotonic() + 5
    while len(produced) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(produced) == 6
    assert list(items) == [1, 2, 3, 4, 5]


def test_pauses_nest():
    pause = Pause()
    with pause.held():
        with pause.held():
            pass
        assert not pause.wait(0)
        with pause.lifted():
            assert pause.wait(0)
        assert not pause.wait(0)
    assert pause.wait(0)


def test_clustering_on_every_core_holds_decoding_and_small_clustering_does_not():
    from encoderscope.cluster._threads import SMALL_WORK, limit_threads

    with limit_threads(int(SMALL_WORK), 2, 1):
        assert not CLUSTERING.wait(0)
    with limit_threads(10, 2, 1):
        assert CLUSTERING.wait(0)
    assert CLUSTERING.wait(0)


def test_decoding_behind_gives_what_decoding_in_turn_gives(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    for i, size in enumerate([(40, 30), (30, 50), (64, 64)]):
        Image.new("RGB", size, (40 * i, 90, 200 - 30 * i)).save(tmp_path / f"im{i}.png")
    items = open_images(tmp_path).items
    transform = Preprocess(size=28, pad_multiple=14).dense
    here = [prepare_item(i, items[i], transform) for i in [3, 0, 2, 1]]
    behind = list(iter_prepared(items, transform, workers=0, order=iter([3, 0, 2, 1])))
    assert [r.index for r in behind] == [3, 0, 2, 1]
    for a, b in zip(here, behind, strict=True):
        assert type(a) is type(b)
        if hasattr(a, "tensor"):
            assert a.tensor.equal(b.tensor) and a.geometry == b.geometry
        else:
            assert a.reason == b.reason and "cannot read image" in a.reason
