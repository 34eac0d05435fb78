"""The pretend GPU of tests/fake_cuda.py fails where CUDA fails (so the device tests cannot pass by construction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoderscope import devices
from encoderscope.devices import module_device, resolve_device
from tests.fake_cuda import fake_cuda


def test_modules_and_tensors_move_and_report_cuda(monkeypatch) -> None:
    net = torch.nn.Linear(3, 2)
    with fake_cuda(monkeypatch) as gpu:
        assert resolve_device() == torch.device("cuda", 0)
        net.to(resolve_device("cuda"))
        assert module_device(net) == torch.device("cuda", 0) and net.weight.is_cuda
        x = torch.ones(4, 3).to("cuda", non_blocking=True)
        y = net(x)
        assert y.device.type == "cuda" and gpu.on_gpu(y) and "linear" in gpu.gpu_ops
        assert gpu.moves[-1].non_blocking and not gpu.moves[-1].pinned
        back = y.cpu()
        assert back.device.type == "cpu" and isinstance(back.detach().numpy(), np.ndarray)
        assert torch.zeros(2, device=y.device).device.type == "cuda"
        assert float(y.detach().sum()) == pytest.approx(float(back.detach().sum()))  # .item()/float() work on CUDA too


def test_mixing_devices_raises(monkeypatch) -> None:
    net = torch.nn.Linear(3, 2)
    with fake_cuda(monkeypatch):
        net.to("cuda")
        with pytest.raises(RuntimeError, match="same device"):
            net(torch.ones(4, 3))  # input left on the CPU
        x = torch.ones(4, 3).cuda()
        with pytest.raises(RuntimeError, match="same device"):
            _ = x + torch.ones(4, 3)
        with pytest.raises(RuntimeError, match="same device"):
            torch.cat([x, torch.ones(1, 3)])
        _ = x * torch.tensor(2.0)  # 0-d CPU tensors are fine on CUDA
        _ = x[torch.tensor([0, 1])]  # so is indexing with CPU indices


def test_numpy_of_a_gpu_tensor_raises(monkeypatch) -> None:
    with fake_cuda(monkeypatch):
        x = torch.ones(3).cuda()
        with pytest.raises(TypeError, match="cuda:0 device type tensor to numpy"):
            x.numpy()
        with pytest.raises(TypeError, match="numpy"):
            np.asarray(x)


def test_cpu_generator_for_a_gpu_tensor_raises(monkeypatch) -> None:
    with fake_cuda(monkeypatch) as gpu:
        with pytest.raises(RuntimeError, match="'cuda' device type for generator"):
            torch.rand(3, generator=torch.Generator().manual_seed(0), device="cuda")
        devices.seeded_generator(0, "cuda")
        assert gpu.generator_devices == [torch.device("cuda")]


def test_pinned_memory_is_recorded(monkeypatch) -> None:
    with fake_cuda(monkeypatch) as gpu:
        host = torch.empty(2, 3, pin_memory=True)
        assert host.is_pinned() and gpu.pinned_allocations == 1
        host.to("cuda", non_blocking=True)
        assert gpu.moves[-1].pinned and gpu.moves[-1].non_blocking
