"""Where load_model puts models: an Encoder or module stays on its device; specs go to the resolved device."""

from __future__ import annotations

import pytest
import torch

import encoderscope.devices as devices
from encoderscope.errors import DeviceError
from encoderscope.zoo import load_model
from tests.fake_cuda import fake_cuda


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())


def test_an_encoder_on_a_gpu_stays_there(monkeypatch) -> None:
    encoder = load_model(_net())
    with fake_cuda(monkeypatch):
        encoder.to("cuda")
        assert load_model(encoder) is encoder
        assert encoder.device == torch.device("cuda", 0)
        assert load_model(encoder, device="cpu").device == torch.device("cpu")  # asked for: moved


def test_a_module_on_a_gpu_stays_there(monkeypatch) -> None:
    with fake_cuda(monkeypatch):
        net = _net().to("cuda")
        assert load_model(net).device == torch.device("cuda", 0)


def test_a_spec_goes_to_the_resolved_default(monkeypatch) -> None:
    asked: list[object] = []
    real = devices.resolve_device

    def recording(spec=None):
        asked.append(spec)
        return real(spec)

    monkeypatch.setattr(devices, "resolve_device", recording)
    encoder = load_model("timm:resnet18", random_init=True)
    assert asked and asked[0] is None and encoder.device == real()
    with fake_cuda(monkeypatch):
        on_gpu = load_model("timm:resnet18", random_init=True)
        assert on_gpu.device == torch.device("cuda", 0)


def test_an_unavailable_device_fails_before_loading(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(
        "encoderscope.zoo.sources.load_timm", lambda *a, **k: pytest.fail("the model was loaded before the check")
    )
    with pytest.raises(DeviceError, match="'cuda:1' is not available"):
        load_model("timm:resnet18", random_init=True, device="cuda:1")
    with pytest.raises(DeviceError, match="unknown device"):
        load_model(_net(), device="gpu")


def test_encoder_to_checks_the_device() -> None:
    encoder = load_model(_net())
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        encoder.to("gpu")
    assert encoder.to(torch.device("meta")).device.type == "meta"
