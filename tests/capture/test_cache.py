import torch

from encoderscope.capture.cache import ActivationCache, model_key
from encoderscope.capture.extract import extract
from encoderscope.zoo import load_model


def _tiny():
    torch.manual_seed(0)
    return load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU()))


def test_cache_hit_returns_identical_activations(make_image, tmp_path):
    enc = _tiny()
    images = [make_image(40, 48, seed=i) for i in range(3)]
    first = extract(enc, images, layers="1", progress=False, cache=tmp_path)["1"].grid
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 3
    # poison the model: a cache hit must not call it
    enc.module[0].weight.data.fill_(float("nan"))
    second = extract(enc, images, layers="1", progress=False, cache=tmp_path)["1"].grid
    assert torch.equal(first, second)


def test_key_changes_with_weights_layers_and_preprocessing():
    enc = _tiny()
    base = model_key(enc, ["1"], autocast=False)
    assert model_key(enc, ["0"], autocast=False) != base
    assert model_key(enc, ["1"], autocast=True) != base
    enc.fingerprint = "other-weights"
    assert model_key(enc, ["1"], autocast=False) != base


def test_damaged_entry_is_recomputed(make_image, tmp_path):
    enc = _tiny()
    image = make_image(40, 48)
    extract(enc, [image], layers="1", progress=False, cache=tmp_path)
    (entry,) = list(tmp_path.rglob("*.npz"))
    entry.write_bytes(b"truncated")
    again = extract(enc, [image], layers="1", progress=False, cache=tmp_path)["1"].grid
    assert again.shape[0] == 1 and torch.isfinite(again).all()


def test_image_key_depends_on_pixels_only(make_image):
    a = make_image(20, 20, seed=1)
    assert ActivationCache.image_key(a) == ActivationCache.image_key(a.copy())
    assert ActivationCache.image_key(a) != ActivationCache.image_key(make_image(20, 20, seed=2))
