import pytest
import torch

from encoderscope.errors import SourceError, WeightsUnavailableError
from encoderscope.zoo import load_model
from encoderscope.zoo.sources import read_state_dict


def test_spec_errors_are_one_line():
    for spec, pattern in [
        ("resnet50", "no source prefix"),
        ("foo:bar", "unknown model source"),
        ("timm:", "names no model"),
        ("timm:not_a_model_xyz", "unknown timm model"),
        ("tv:not_a_model_xyz", "unknown torchvision model"),
        ("tv:resnet18:NOPE", "has no weights"),
    ]:
        with pytest.raises(SourceError, match=pattern) as info:
            load_model(spec)
        assert "\n" not in str(info.value)


def test_unreachable_weights_say_what_works_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-encoderscope-test")
    with pytest.raises(WeightsUnavailableError, match="work offline"):
        load_model("tv:resnet18")


def test_random_init_is_seeded():
    a = load_model("timm:resnet18", random_init=True, seed=1).module.conv1.weight
    b = load_model("timm:resnet18", random_init=True, seed=1).module.conv1.weight
    c = load_model("timm:resnet18", random_init=True, seed=2).module.conv1.weight
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_file_checkpoint_round_trip(tmp_path):
    source = load_model("timm:resnet18", random_init=True, seed=3)
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.module.state_dict().items()}}, path)
    loaded = load_model(f"file:{path}", arch="timm:resnet18")
    assert torch.equal(loaded.module.conv1.weight, source.module.conv1.weight)
    assert loaded.spec == f"file:{path}" and len(loaded.fingerprint) == 16
    assert not any(p.requires_grad for p in loaded.module.parameters())


def test_file_checkpoint_errors(tmp_path):
    with pytest.raises(SourceError, match="needs its architecture"):
        load_model(f"file:{tmp_path / 'x.pt'}")
    with pytest.raises(SourceError, match="not found"):
        load_model(f"file:{tmp_path / 'x.pt'}", arch="timm:resnet18")
    wrong = tmp_path / "wrong.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(SourceError, match="does not fit"):
        load_model(f"file:{wrong}", arch="timm:resnet18")


class _Pickled:
    pass


def test_pickled_objects_refused_without_trust(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save({"weights": torch.zeros(1), "extra": _Pickled()}, path)
    with pytest.raises(SourceError, match="trust_pickle"):
        read_state_dict(path)


def test_pickled_module_loads_only_when_trusted(tmp_path):
    path = tmp_path / "full.pt"
    torch.save(torch.nn.Linear(2, 1), path)
    with pytest.raises(SourceError, match=r"pickled torch\.nn\.modules\.linear\.Linear.*--trust-pickle") as info:
        read_state_dict(path)
    assert "\n" not in str(info.value)
    assert sorted(read_state_dict(path, trust_pickle=True)) == ["bias", "weight"]


def test_training_script_checkpoints_load_weights_only(tmp_path):
    """What training scripts save beside the weights (their argparse arguments, numpy metrics) needs no trust."""
    import argparse
    import io
    import zipfile

    import numpy as np

    weights = torch.nn.Linear(2, 1).state_dict()
    path = tmp_path / "best.pth"
    torch.save({"model": weights, "args": argparse.Namespace(lr=0.1, arch="r18"), "best_acc": np.float64(0.9),
                "epoch": np.int64(7), "history": np.zeros(3, np.float32)}, path, pickle_protocol=2)
    assert torch.equal(read_state_dict(path)["weight"], weights["weight"])
    # the same file as numpy 1 writes it (numpy.core instead of numpy._core)
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, data.replace(b"numpy._core", b"numpy.core") if info.filename.endswith(".pkl")
                            else data)
    old = tmp_path / "numpy1.pth"
    old.write_bytes(buffer.getvalue())
    assert b"numpy.core.multiarray" in zipfile.ZipFile(old).read("best/data.pkl")
    assert torch.equal(read_state_dict(old)["weight"], weights["weight"])


@pytest.mark.parametrize("name, content, reason", [
    ("empty.pth", b"", "the file is empty"),
    ("junk.pth", bytes(range(256)) * 20, "not a torch checkpoint"),
    ("junk.safetensors", b"\xff" * 5000, "not a safetensors file"),
])
def test_unreadable_checkpoints_are_one_line(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=reason) as info:
        read_state_dict(path)
    assert "\n" not in str(info.value) and "trust" not in str(info.value)


def test_safetensors_checkpoint(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"weight": torch.ones(2, 3)}, str(path))
    assert torch.equal(read_state_dict(path)["weight"], torch.ones(2, 3))


def test_plain_module_gets_layout_and_blocks():
    import timm

    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, reg_tokens=2, num_classes=0)
    enc = load_model(vit)
    assert enc.layout.prefix_kinds == ("cls", "reg", "reg")
    assert enc.depth_layers[-1] == "blocks.11"
    assert enc.spec == "module:VisionTransformer"


def test_plain_module_is_probed_like_a_spec():
    """A module passed in gets the same input policy and preprocessing as the spec that builds it."""
    import timm

    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # without dynamic_img_size: 224 only
    enc, spec = load_model(vit), load_model("timm:vit_tiny_patch16_224", random_init=True)
    assert enc.preprocess.fixed_hw == (224, 224) and "fixed input 224x224" in enc.preprocess.input_policy
    assert (enc.preprocess.mean, enc.preprocess.std) == (spec.preprocess.mean, spec.preprocess.std) == ((0.5,) * 3,) * 2
    dynamic = load_model(timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=96,
                                           dynamic_img_size=True))
    assert not dynamic.preprocess.fixed_size and dynamic.preprocess.size == 96
    assert dynamic.preprocess.pad_multiple == 16
    resnet = load_model(timm.create_model("resnet18", pretrained=False))
    assert not resnet.preprocess.fixed_size and resnet.preprocess.crop_pct == 0.95  # timm's data config


def test_lazy_module_is_one_line():
    with pytest.raises(SourceError, match="lazy parameters not initialised yet"):
        load_model(torch.nn.Sequential(torch.nn.LazyConv2d(4, 3)))


def test_module_the_probe_cannot_run_is_wrapped_unprobed():
    pooled = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2))
    enc = load_model(pooled)
    assert enc.preprocess.input_policy.startswith("not probed (") and "no block with a spatial output" in (
        enc.preprocess.input_policy)
    assert not enc.preprocess.fixed_size and enc.preprocess.mean == (0.485, 0.456, 0.406)


def test_huggingface_local_config_with_registers(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.Dinov2WithRegistersConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=8,
        image_size=64,
        num_register_tokens=4,
    )
    config.save_pretrained(tmp_path)
    from encoderscope.capture import list_layers

    enc = load_model(f"hf:{tmp_path}", random_init=True)
    assert enc.layout.prefix_kinds == ("cls", "reg", "reg", "reg", "reg")
    assert enc.depth_layers == ["model.encoder.layer.0", "model.encoder.layer.1"]
    info = next(iter(list_layers(enc, input_size=(64, 48), pattern="model.encoder.layer.1")))
    assert (info.grid, info.prefix) == ((8, 6), "cls+4reg")


def test_fingerprint_covers_zero_dim_buffers_and_changes_with_weights():
    from encoderscope.zoo.inspect import parameter_fingerprint

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    first = parameter_fingerprint(net)
    assert first == parameter_fingerprint(net) and len(first) == 16
    net[1].num_batches_tracked += 1
    assert parameter_fingerprint(net) != first
