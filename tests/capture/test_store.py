import json

import pytest
import torch

from encoderscope.capture.inputs import ImageGeometry
from encoderscope.capture.outputs import LayerOutput
from encoderscope.capture.store import (
    MANIFEST,
    ActivationStore,
    StoredImage,
    clear_store,
    image_key,
    model_key,
    store_summary,
)
from encoderscope.data import open_images
from encoderscope.errors import ParameterError
from encoderscope.zoo import load_model
from tests.images import make_image

GEOMETRY = ImageGeometry((30, 40), (28, 37), (28, 42))


def _image(key: str, seed: int = 0) -> StoredImage:
    g = torch.Generator().manual_seed(seed)
    tokens = LayerOutput(
        grid=torch.randn(1, 6, 2, 3, generator=g),
        prefix=torch.randn(1, 2, 6, generator=g),
        prefix_kinds=("cls", "reg"),
        kind="tokens",
    )
    pooled = LayerOutput(vector=torch.randn(1, 6, generator=g), kind="vector")
    return StoredImage(key, GEOMETRY, {"blocks.0": tokens, "head": pooled})


def _same(a: StoredImage, b: StoredImage) -> bool:
    if a.key != b.key or a.geometry != b.geometry or list(a.outputs) != list(b.outputs):
        return False
    for name, out in a.outputs.items():
        other = b.outputs[name]
        if (out.kind, out.prefix_kinds) != (other.kind, other.prefix_kinds):
            return False
        for part in ("grid", "prefix", "vector", "raw"):
            x, y = getattr(out, part), getattr(other, part)
            if (x is None) != (y is None) or (x is not None and not torch.equal(x, y)):
                return False
    return True


def test_round_trip_keeps_every_part_and_the_geometry(tmp_path):
    store = ActivationStore(tmp_path, "model-a")
    written = [_image("k1", 1), _image("k2", 2)]
    store.write(written)
    found = ActivationStore(tmp_path, "model-a").read(["k2", "k1", "missing"])
    assert set(found) == {"k1", "k2"}
    assert _same(found["k1"], written[0]) and _same(found["k2"], written[1])


def test_manifest_is_rebuilt_from_the_shard_headers(tmp_path):
    store = ActivationStore(tmp_path, "m")
    store.write([_image("a")])
    store.write([_image("b")], name="chunk-x")
    store.close()
    manifest = tmp_path / "m" / MANIFEST
    assert set(json.loads(manifest.read_text())["shards"]) >= {"chunk-x.safetensors"}
    manifest.unlink()
    reopened = ActivationStore(tmp_path, "m")
    assert len(reopened) == 2 and reopened.has_shard("chunk-x.safetensors")
    # a shard written by another process after the manifest: found on opening
    ActivationStore(tmp_path, "m").write([_image("c")])  # no close(): the manifest does not list it
    assert "c" in ActivationStore(tmp_path, "m")


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_damaged_shards_are_detected_and_removed(tmp_path, damage, capsys):
    store = ActivationStore(tmp_path, "m")
    path = store.write([_image("a"), _image("b", 3)])
    store.close()
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-10] ^= 0xFF  # inside the tensor bytes: parses, but the checksum differs
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"\x00" * 64)
    path.write_bytes(bytes(data))
    reopened = ActivationStore(tmp_path, "m")
    assert reopened.read(["a", "b"]) == {}
    assert not path.exists() and "a" not in reopened
    assert "damaged shard" in capsys.readouterr().err


def test_an_image_in_two_shards_is_read_from_the_same_one_every_time(tmp_path):
    store = ActivationStore(tmp_path, "m")
    store.write([_image("a", 1)], name="chunk-b")
    store.write([_image("a", 2)], name="chunk-a")
    for _ in range(2):
        got = ActivationStore(tmp_path, "m").read(["a"])["a"]
        assert _same(got, _image("a", 2))


def test_image_keys_hash_file_bytes_or_pixels(tmp_path):
    picture = make_image(20, 30, seed=1)
    picture.save(tmp_path / "a.png")
    (tmp_path / "copy.png").write_bytes((tmp_path / "a.png").read_bytes())
    picture.save(tmp_path / "b.jpg", quality=90)
    items = {item.key: item for item in open_images(tmp_path).items}
    assert image_key(items["a.png"]) == image_key(items["copy.png"])  # same bytes, other name
    assert image_key(items["a.png"]) != image_key(items["b.jpg"])  # same picture, other bytes
    memory = open_images([picture, picture.copy(), make_image(20, 30, seed=2)]).items
    assert image_key(memory[0]) == image_key(memory[1]) != image_key(memory[2])
    (tmp_path / "a.png").unlink()
    assert image_key(items["a.png"]) is None


def test_model_key_covers_everything_that_changes_activations():
    enc = load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()))
    base = model_key(enc, ["1"])
    assert model_key(enc, ["1"]) == base
    assert model_key(enc, ["0"]) != base
    assert model_key(enc, ["1"], autocast=True) != base
    assert model_key(enc, ["1"], mode="classify") != base
    assert model_key(enc, ["1"], extra={"seed": 1}) != base
    enc.preprocess = type(enc.preprocess)(size=100)
    assert model_key(enc, ["1"]) != base
    enc.fingerprint = "other-weights"
    assert model_key(enc, ["1"]) != base


def test_summary_and_clear(tmp_path):
    ActivationStore(tmp_path, "aaa111", {"model": "zoo:x", "layers": ["blocks.1"]}).write([_image("a")])
    ActivationStore(tmp_path, "bbb222").write([_image("a"), _image("b")])
    summary = store_summary(tmp_path)
    assert [(m.key, m.shards, m.images) for m in summary.models] == [("aaa111", 1, 1), ("bbb222", 1, 2)]
    assert summary.models[0].layers() == "blocks.1" and summary.bytes > 0
    with pytest.raises(ParameterError, match="no model"):
        clear_store(tmp_path, "ccc")
    assert clear_store(tmp_path, "aaa") == ["aaa111"]
    assert [m.key for m in store_summary(tmp_path).models] == ["bbb222"]
    assert clear_store(tmp_path) == ["bbb222"]
    assert store_summary(tmp_path).models == []


def test_folders_that_are_not_stores_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not an encoderscope activation store"):
        ActivationStore(tmp_path, "m")
    with pytest.raises(ParameterError, match="not an encoderscope activation store"):
        clear_store(tmp_path)
    assert (tmp_path / "notes.txt").exists()


def test_cache_settings_of_configurations(tmp_path):
    from encoderscope.capture.store import cache_setting, store_root
    from encoderscope.nave.config import NaveConfig

    assert [cache_setting(value) for value in (None, False, "")] == [None, None, None]
    assert cache_setting(True) == str(store_root(True)) and cache_setting(tmp_path) == str(tmp_path)
    assert NaveConfig(cache=False).cache is None  # never a folder named "False"
