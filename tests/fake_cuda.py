"""A pretend CUDA device, so tests on a machine without a GPU can check that tensors follow the model.

Inside :func:`fake_cuda`, ``torch.cuda`` reports one bfloat16-capable device (``cuda:0``), and a
``TorchFunctionMode`` tracks which tensors "live" on it: ``.to("cuda")``, factories with ``device="cuda"`` and
every result of an operation on such a tensor (the data stays in host memory; ``.device`` says ``cuda:0``). The
mode fails the way CUDA does:

* an operation that mixes a "GPU" tensor with a CPU tensor that is not 0-dimensional raises ("Expected all tensors
  to be on the same device"), except indexing with CPU indices, ``__setitem__`` and ``copy_``, which CUDA allows;
* ``.numpy()`` / ``np.asarray`` of a "GPU" tensor raise ``TypeError``;
* a CPU ``torch.Generator`` for a tensor created on the GPU raises.

It records every host-to-GPU copy (:attr:`FakeCuda.moves`: whether it was ``non_blocking`` and from pinned memory),
pinned allocations, the devices asked of :func:`encoderscope.devices.seeded_generator` (which hands out CPU
generators here) and the names of the operations that ran on the GPU (:attr:`FakeCuda.gpu_ops`).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

CUDA = torch.device("cuda", 0)
_CROSS_DEVICE_OK = {torch.Tensor.__setitem__, torch.Tensor.copy_, torch._has_compatible_shallow_copy_type}
_TO = {torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu}


def _is_cuda(device: Any) -> bool:
    if device is None or isinstance(device, torch.Tensor):
        return False
    if isinstance(device, int):
        return True
    return torch.device(device).type == "cuda"


@dataclass
class Move:
    """One host-to-GPU copy."""

    shape: tuple[int, ...]
    non_blocking: bool
    pinned: bool


class FakeCuda(TorchFunctionMode):
    """The mode itself (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._on: dict[int, weakref.ref] = {}
        self._pinned: dict[int, weakref.ref] = {}
        self.moves: list[Move] = []
        self.pinned_allocations = 0
        self.generator_devices: list[torch.device] = []
        self.gpu_ops: set[str] = set()

    # -- bookkeeping -------------------------------------------------------------------------------------------

    @staticmethod
    def _add(table: dict[int, weakref.ref], tensor: torch.Tensor) -> None:
        key = id(tensor)
        table[key] = weakref.ref(tensor, lambda _ref, key=key: table.pop(key, None))

    @staticmethod
    def _has(table: dict[int, weakref.ref], tensor: Any) -> bool:
        ref = table.get(id(tensor))
        return ref is not None and ref() is tensor

    def on_gpu(self, tensor: Any) -> bool:
        """True when ``tensor`` "lives" on the fake GPU."""
        return isinstance(tensor, torch.Tensor) and self._has(self._on, tensor)

    def put(self, tensor: torch.Tensor) -> torch.Tensor:
        """Mark ``tensor`` as living on the fake GPU; returns it."""
        self._add(self._on, tensor)
        return tensor

    def _mark_all(self, result: Any) -> Any:
        for leaf in tree_leaves(result):
            if isinstance(leaf, torch.Tensor):
                self.put(leaf)
        return result

    # -- the mode ----------------------------------------------------------------------------------------------

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", str(func))
        if name in ("__get__", "__set__"):
            return self._attribute(func, name, args, kwargs)
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and self.on_gpu(args[0]):
            raise TypeError(
                "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
                "memory first."
            )
        if func is torch.Tensor.pin_memory:
            pinned = args[0].clone()
            self._add(self._pinned, pinned)
            return pinned
        if func is torch.Tensor.is_pinned:
            return self._has(self._pinned, args[0])
        if func in _TO:
            return self._to(func, args, kwargs)
        if _is_cuda(kwargs.get("device")):
            return self._factory(func, args, kwargs)
        if kwargs.pop("pin_memory", False):
            out = func(*args, **kwargs)
            self.pinned_allocations += 1
            self._add(self._pinned, out)
            return out
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        on = [t for t in tensors if self.on_gpu(t)]
        if not on:
            return func(*args, **kwargs)
        host = [t for t in tensors if not self.on_gpu(t) and t.dim() > 0]
        indexing = func is torch.Tensor.__getitem__ and self.on_gpu(args[0])
        if host and not indexing and func not in _CROSS_DEVICE_OK:
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
                f"({name}, CPU shapes {[tuple(t.shape) for t in host]})"
            )
        self.gpu_ops.add(name)
        return self._mark_all(func(*args, **kwargs))

    def _attribute(self, func, name: str, args, kwargs):
        attr = getattr(getattr(func, "__self__", None), "__name__", "")
        if name == "__get__" and self.on_gpu(args[0]):
            if attr == "device":
                return CUDA
            if attr == "is_cuda":
                return True
        if name == "__set__" and attr == "data":  # Module.to: param.data = param.to(device)
            func(*args, **kwargs)
            if self.on_gpu(args[1]):
                self.put(args[0])
            else:
                self._on.pop(id(args[0]), None)
            return None
        result = func(*args, **kwargs)
        if name == "__get__" and self.on_gpu(args[0]) and isinstance(result, torch.Tensor):  # .T, .data, .grad...
            self.put(result)
        return result

    def _to(self, func, args, kwargs):
        tensor = args[0]
        if func is torch.Tensor.cuda:
            device, dtype, non_blocking = CUDA, None, bool(kwargs.get("non_blocking", False))
        elif func is torch.Tensor.cpu:
            device, dtype, non_blocking = torch.device("cpu"), None, False
        else:
            device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args[1:], **kwargs)
        if device is None:  # a dtype change only
            out = func(*args, **kwargs)
            return self.put(out) if self.on_gpu(tensor) else out
        if _is_cuda(device):
            if self.on_gpu(tensor):
                return tensor if dtype in (None, tensor.dtype) else self.put(tensor.to(dtype=dtype))
            self.moves.append(Move(tuple(tensor.shape), non_blocking, self._has(self._pinned, tensor)))
            return self.put(tensor.to(dtype=dtype, copy=True))
        if self.on_gpu(tensor):  # back to the host: a new, unmarked tensor
            return tensor.to(dtype=dtype, copy=True)
        return func(*args, **kwargs)

    def _factory(self, func, args, kwargs):
        generator = kwargs.get("generator")
        if generator is not None and generator.device.type != "cuda":
            raise RuntimeError(f"Expected a 'cuda' device type for generator but found '{generator.device.type}'")
        kwargs["device"] = "cpu"
        kwargs.pop("pin_memory", None)
        return self._mark_all(func(*args, **kwargs))


@contextlib.contextmanager
def fake_cuda(monkeypatch: Any) -> Iterator[FakeCuda]:
    """Pretend this machine has one CUDA device (see the module docstring); yields the recording mode."""
    import encoderscope.devices as devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    # the optimisers ask the accelerator for its CUDA-graph stream state; the host computation has none
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: None)
    mode = FakeCuda()

    def seeded_generator(seed: int, device: Any = "cpu") -> torch.Generator:
        mode.generator_devices.append(torch.device(device))
        return torch.Generator().manual_seed(seed)

    monkeypatch.setattr(devices, "seeded_generator", seeded_generator)
    with mode:
        yield mode
