import threading
import time

import pytest
from PIL import Image

from encoderscope.capture.background import Gate, prefetched
from encoderscope.capture.inputs import iter_prepared
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


def test_a_closed_gate_holds_the_thread_and_a_waiting_consumer_opens_it():
    produced = []

    def source():
        for i in range(6):
            time.sleep(0.02)  # decoding takes a while (and lets the consumer run)
            produced.append(i)
            yield i

    gate = Gate()
    items = prefetched(source(), ahead=6, gate=gate)
    assert next(items) == 0  # the consumer waits, so the gate opens for it
    time.sleep(0.2)
    held = len(produced)
    time.sleep(0.2)
    assert len(produced) == held < 6  # the gate is closed: the thread does not run ahead
    with gate.opened():
        deadline = time.monotonic() + 5
        while len(produced) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(produced) == 6
    assert list(items) == [1, 2, 3, 4, 5]


def test_gate_openings_nest():
    gate = Gate()
    with gate.opened():
        with gate.opened():
            pass
        assert gate.wait(0)
    assert not gate.wait(0)


def test_gated_decoding_gives_what_decoding_here_gives(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    for i, size in enumerate([(40, 30), (30, 50), (64, 64)]):
        Image.new("RGB", size, (40 * i, 90, 200 - 30 * i)).save(tmp_path / f"im{i}.png")
    items = open_images(tmp_path).items
    transform = Preprocess(size=28, pad_multiple=14).dense
    here = list(iter_prepared(items, transform, workers=0, order=[3, 0, 2, 1]))
    gate = Gate()
    with gate.opened():
        behind = list(iter_prepared(items, transform, workers=0, order=[3, 0, 2, 1], gate=gate))
    assert [r.index for r in behind] == [3, 0, 2, 1]
    for a, b in zip(here, behind, strict=True):
        assert type(a) is type(b)
        if hasattr(a, "tensor"):
            assert a.tensor.equal(b.tensor) and a.geometry == b.geometry
        else:
            assert a.reason == b.reason and "cannot read image" in a.reason
