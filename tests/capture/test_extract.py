import pytest
import torch

from encoderscope.capture.extract import extract, iter_batches
from encoderscope.capture.pooling import unit_activations
from encoderscope.errors import ActivationError, ParameterError
from encoderscope.zoo import load_model


@pytest.fixture(scope="module")
def vit():
    return load_model("timm:vit_small_patch14_reg4_dinov2", random_init=True, img_size=224)


def test_one_pass_all_layers_with_registers(vit, small_images):
    acts = extract(vit, small_images, layers=["blocks.0", "blocks.11"], progress=False)
    out = acts["blocks.11"]
    # 64x96 -> shorter side 224 -> 224x336 -> 16x24 patches of 14 px
    assert out.grid.shape == (3, 384, 16, 24)
    assert out.prefix.shape == (3, 5, 384)
    assert out.prefix_kinds == ("cls", "reg", "reg", "reg", "reg")
    # the grid is exactly the patch tokens of a plain forward pass (registers excluded)
    pixels = torch.stack([vit.preprocess.dense(im).tensor for im in small_images])
    with torch.inference_mode():
        tokens = vit.module.forward_features(pixels)
    tokens_pre_norm = None
    with torch.inference_mode():
        x = vit.module.patch_embed(pixels)
        x = vit.module._pos_embed(x)
        x = vit.module.norm_pre(x)
        for block in vit.module.blocks:
            x = block(x)
        tokens_pre_norm = x
    assert tokens.shape[1] == 5 + 16 * 24
    assert torch.allclose(out.grid.flatten(2).transpose(1, 2), tokens_pre_norm[:, 5:], atol=1e-5)
    assert torch.allclose(unit_activations(out, "cls"), tokens_pre_norm[:, 0], atol=1e-5)
    assert torch.allclose(unit_activations(out, "registers"), tokens_pre_norm[:, 1:5].mean(1), atol=1e-5)


def test_mixed_sizes_are_grouped_and_kept_in_order(make_image, vit):
    images = [make_image(64, 96), make_image(80, 80), make_image(64, 96, seed=3)]
    batches = list(iter_batches(vit, images, layers=-1, batch_size=8, progress=False))
    assert sorted(i for b in batches for i in b.indices) == [0, 1, 2]
    assert {b.input_hw for b in batches} == {(224, 336), (224, 224)}
    acts = extract(vit, images, layers=-1, progress=False)
    assert [p.original_hw for p in acts.prepared] == [(64, 96), (80, 80), (64, 96)]
    with pytest.raises(ParameterError, match="different padded sizes"):
        acts["blocks.11"]


def test_model_unchanged_and_deterministic(vit, small_images):
    before = {k: v.clone() for k, v in vit.module.state_dict().items()}
    first = extract(vit, small_images[:1], layers="blocks.3", progress=False)["blocks.3"].grid
    second = extract(vit, small_images[:1], layers="blocks.3", progress=False)["blocks.3"].grid
    assert torch.equal(first, second)
    assert all(torch.equal(before[k], v) for k, v in vit.module.state_dict().items())
    assert sum(len(m._forward_hooks) for m in vit.module.modules()) == 0


def test_nan_activations_are_reported(small_images):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with torch.no_grad():
        net[0].bias.fill_(float("nan"))
    enc = load_model(net)
    with pytest.raises(ActivationError, match="NaN"):
        extract(enc, small_images[:1], layers="0", progress=False)


def test_cnn_pooling_modes(small_images):
    enc = load_model("timm:resnet18", random_init=True)
    out = extract(enc, small_images, layers="layer4", progress=False)["layer4"]
    assert unit_activations(out, "mean").shape == (3, 512)
    assert torch.all(unit_activations(out, "max") >= unit_activations(out, "mean"))
    with pytest.raises(ParameterError, match="CLS"):
        unit_activations(out, "cls")


def test_outputs_stay_on_the_encoders_device_on_request(vit, small_images, monkeypatch):
    from tests.fake_cuda import fake_cuda

    with fake_cuda(monkeypatch) as gpu:
        vit.to("cuda")
        kept = list(iter_batches(vit, small_images[:2], layers="blocks.1", progress=False, to_host=False))
        moved = list(iter_batches(vit, small_images[:2], layers="blocks.1", progress=False))
        assert gpu.on_gpu(kept[0].outputs["blocks.1"].grid)  # to_host=False: left where the encoder is
        assert not gpu.on_gpu(moved[0].outputs["blocks.1"].grid)  # the default brings outputs to the host
        vit.to("cpu")
    assert torch.equal(kept[0].outputs["blocks.1"].grid.cpu(), moved[0].outputs["blocks.1"].grid)


def _tiny_conv():
    torch.manual_seed(0)
    return load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU()))


def test_a_store_hit_reads_without_the_model_or_the_image(make_image, tmp_path, monkeypatch):
    enc = _tiny_conv()
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        make_image(40, 48, seed=i).save(folder / f"{i}.png")
    first = extract(enc, folder, layers="1", progress=False, cache=tmp_path / "store", workers=0)["1"].grid
    assert len(list((tmp_path / "store").rglob("*.safetensors"))) == 1  # one chunk, one shard
    enc.module[0].weight.data.fill_(float("nan"))  # a hit must not call the model ...
    from encoderscope.data.images import ImageItem

    def no_decoding(self):  # ... nor decode the images (their keys hash the files' bytes)
        raise AssertionError(f"{self.key} was decoded")

    monkeypatch.setattr(ImageItem, "load", no_decoding)
    second = extract(enc, folder, layers="1", progress=False, cache=tmp_path / "store", workers=0)["1"].grid
    assert torch.equal(first, second)


def test_workers_do_not_change_activations(make_image, tmp_path):
    enc = _tiny_conv()
    images = [make_image(40 + 8 * (i % 2), 48, seed=i) for i in range(5)]
    runs = [list(iter_batches(enc, images, "1", batch_size=2, progress=False, workers=n)) for n in (0, 2)]
    assert [b.indices for b in runs[0]] == [b.indices for b in runs[1]]
    assert all(torch.equal(a.outputs["1"].grid, b.outputs["1"].grid) for a, b in zip(*runs, strict=True))
