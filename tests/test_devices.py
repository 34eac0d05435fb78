"""encoderscope.devices: every branch of the device decision, with torch's availability mocked."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

from encoderscope import devices
from encoderscope.devices import autocast, autocast_dtype, module_device, resolve_device
from encoderscope.errors import DeviceError, EncoderscopeError


@pytest.fixture
def cuda(monkeypatch):
    """Pretend there are ``n`` CUDA devices: ``cuda(2)``; ``cuda(0)`` for none."""

    def set_count(n: int, current: int = 0, built: bool = True) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: current)
        monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: built)

    return set_count


@pytest.fixture
def mps(monkeypatch):
    def set_available(available: bool) -> None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available)

    return set_available


def test_default_is_cpu_without_cuda(cuda, mps) -> None:
    cuda(0)
    mps(True)  # an Apple GPU is used only when asked for
    assert resolve_device() == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_default_is_the_current_cuda_device_when_there_is_one(cuda) -> None:
    cuda(2, current=1)
    assert resolve_device() == torch.device("cuda", 1)


@pytest.mark.parametrize("spec", ["cpu", "CPU", " cpu ", torch.device("cpu"), "cpu:0"])
def test_cpu_specs(spec, cuda) -> None:
    cuda(1)
    assert resolve_device(spec) == torch.device("cpu")


def test_cuda_specs_on_a_two_gpu_machine(cuda) -> None:
    cuda(2, current=0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)


def test_missing_cuda_index_names_the_devices(cuda) -> None:
    cuda(1)
    with pytest.raises(DeviceError) as err:
        resolve_device("cuda:1")
    assert str(err.value) == "device 'cuda:1' is not available: this machine has 1 CUDA device (cuda:0)"
    cuda(2)
    with pytest.raises(DeviceError, match=r"has 2 CUDA devices \(cuda:0, cuda:1\)$"):
        resolve_device(torch.device("cuda", 3))


def test_cuda_on_a_machine_without_one(cuda) -> None:
    cuda(0)
    with pytest.raises(DeviceError) as err:
        resolve_device("cuda")
    assert str(err.value) == "device 'cuda' is not available: this machine has no CUDA device"
    cuda(0, built=False)
    with pytest.raises(DeviceError, match="this torch has no CUDA support"):
        resolve_device("cuda:0")


def test_mps(mps) -> None:
    mps(True)
    assert resolve_device("mps") == torch.device("mps")
    with pytest.raises(DeviceError, match="there is one Apple GPU"):
        resolve_device("mps:1")
    mps(False)
    with pytest.raises(DeviceError) as err:
        resolve_device("mps")
    assert str(err.value) == "device 'mps' is not available (no Apple GPU)"


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "", "cuda:", "tpu", "cuda:-1"])
def test_unknown_device(spec) -> None:
    with pytest.raises(DeviceError) as err:
        resolve_device(spec)
    assert str(err.value) == f"unknown device {spec!r}; use cpu, cuda, cuda:N or mps"


def test_device_error_is_a_user_error() -> None:
    assert issubclass(DeviceError, EncoderscopeError)
    with pytest.raises(DeviceError, match=r"string or torch\.device"):
        resolve_device(3)  # type: ignore[arg-type]


def test_other_torch_device_types_pass_unchecked() -> None:
    assert resolve_device(torch.device("meta")) == torch.device("meta")


def test_module_device_follows_parameters_then_buffers() -> None:
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.Linear(2, 2).to("meta")).type == "meta"
    norm = torch.nn.BatchNorm1d(2, affine=False).to("meta")  # buffers only
    assert module_device(norm).type == "meta"
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")
    assert module_device(None) == torch.device("cpu")


def test_autocast_dtypes(monkeypatch, mps) -> None:
    assert autocast_dtype("cpu") == torch.bfloat16
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: (8, 0))
    assert autocast_dtype("cuda:0") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: (7, 5))
    assert autocast_dtype(torch.device("cuda")) == torch.float16  # no bf16 on this GPU: float16
    monkeypatch.setattr(torch.version, "hip", "6.0")
    assert autocast_dtype("cuda:0") == torch.bfloat16  # ROCm GPUs support bf16
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda kind: True)
    assert autocast_dtype("mps") == torch.float16


def test_autocast_unsupported_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda kind: False)
    with pytest.raises(DeviceError, match=r"^--autocast is not supported on mps by torch .*; run without it$"):
        autocast_dtype("mps")
    with pytest.raises(DeviceError, match="not supported on device 'meta'"):
        autocast_dtype("meta")


def test_autocast_context_on_cpu() -> None:
    a = torch.ones(2, 2)
    with autocast("cpu") as dtype:
        assert dtype == torch.bfloat16
        assert (a @ a).dtype == torch.bfloat16
    with autocast("cpu", enabled=False) as dtype:
        assert dtype is None
        assert (a @ a).dtype == torch.float32


def test_autocast_checks_before_entering(monkeypatch) -> None:
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda kind: False)
    with pytest.raises(DeviceError), autocast("mps"):
        pass
    with autocast("mps", enabled=False):  # disabled: nothing to check
        pass


def test_to_device_is_asynchronous_only_for_cuda() -> None:
    tensor = mock.MagicMock()
    devices.to_device(tensor, torch.device("cuda", 0))
    tensor.to.assert_called_once_with(torch.device("cuda", 0), non_blocking=True)
    tensor = mock.MagicMock()
    devices.to_device(tensor, "cpu")
    tensor.to.assert_called_once_with("cpu")


def test_stack_batch_pins_only_for_cuda(monkeypatch) -> None:
    parts = [torch.full((3, 2, 2), float(i)) for i in range(4)]
    plain = devices.stack_batch(parts, "cpu")
    assert torch.equal(plain, torch.stack(parts)) and not plain.is_pinned()
    asked: list[bool] = []
    real_empty = torch.empty

    def empty(*shape, pin_memory: bool = False, **kwargs):
        asked.append(pin_memory)
        return real_empty(*shape, **kwargs)  # no page-locked memory without CUDA; the request is what counts

    monkeypatch.setattr(torch, "empty", empty)
    pinned = devices.stack_batch(parts, torch.device("cuda", 0))
    assert asked == [True] and torch.equal(pinned, torch.stack(parts))


def test_grad_scaler_only_for_float16(monkeypatch) -> None:
    made: list[tuple[str, bool]] = []
    monkeypatch.setattr(torch.amp, "GradScaler", lambda kind, enabled: made.append((kind, enabled)))
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: (7, 0))
    devices.grad_scaler("cuda:0", autocast=True)
    devices.grad_scaler("cuda:0", autocast=False)
    devices.grad_scaler("cpu", autocast=True)
    assert made == [("cuda", True), ("cuda", False), ("cpu", False)]


def test_seeded_generator_on_the_device(monkeypatch) -> None:
    first = torch.rand(3, generator=devices.seeded_generator(7))
    assert torch.equal(first, torch.rand(3, generator=devices.seeded_generator(7, torch.device("meta"))))
    made: list[object] = []

    class Recorder:
        def __init__(self, device) -> None:
            made.append(device)

        def manual_seed(self, seed: int):
            return self

    monkeypatch.setattr(torch, "Generator", Recorder)
    devices.seeded_generator(0, "cuda:1")
    assert made == [torch.device("cuda", 1)]


def test_describe(monkeypatch) -> None:
    assert devices.describe("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: "Big GPU")
    assert devices.describe(torch.device("cuda", 1)) == "cuda:1 (Big GPU)"
