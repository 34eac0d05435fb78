"""Every device decision in one place: which device, how tensors get there, and whether autocast can run on it.

* :func:`resolve_device` turns ``--device`` / ``device=`` into a ``torch.device``: ``None`` gives ``cuda`` when a
  CUDA device is present, else ``cpu`` (Apple's ``mps`` is used only when asked for); ``cpu``, ``cuda``, ``cuda:N``
  and ``mps`` are checked against this machine, and an unavailable or unknown device is a one-line
  :class:`~encoderscope.errors.DeviceError`. Other ``torch.device`` types (``xpu``, ``meta``) pass unchecked.
* :func:`module_device` is where a model lives (its first parameter, else its first buffer, else the CPU): methods
  run their tensors there and never move a model the user placed.
* :func:`to_device` moves a tensor (``non_blocking`` for CUDA); :func:`stack_batch` stacks a batch on the host in
  page-locked memory when it is bound for CUDA, so the copy to the GPU is asynchronous.
* :func:`autocast_dtype` / :func:`autocast` say whether ``--autocast`` can run on a device and with which dtype:
  bfloat16 on the CPU and on CUDA devices that support it (compute capability 8 or ROCm), float16 on older CUDA
  devices and on ``mps``; anything else is a one-line error, never a torch traceback.
* :func:`grad_scaler` scales the loss when training under float16 autocast; :func:`seeded_generator` is a
  ``torch.Generator`` on a device (CUDA and MPS have their own random streams).

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> autocast_dtype("cpu")
    torch.bfloat16
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    encoderscope.errors.DeviceError: unknown device 'gpu'; use cpu, cuda, cuda:N or mps
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from encoderscope.errors import DeviceError

DeviceSpec = str | torch.device | None
"""What ``device=`` arguments accept: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, a ``torch.device`` or ``None``."""

_SPEC = re.compile(r"^(cpu|mps|cuda)(?::(\d+))?$")


def _plural(n: int) -> str:
    return "device" if n == 1 else "devices"


def _check_cuda(text: str, index: int | None) -> torch.device:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        why = "this machine has no CUDA device" if torch.backends.cuda.is_built() else "this torch has no CUDA support"
        raise DeviceError(f"device {text!r} is not available: {why}")
    if index is None:
        index = torch.cuda.current_device()
    if index >= count:
        names = ", ".join(f"cuda:{i}" for i in range(count))
        raise DeviceError(f"device {text!r} is not available: this machine has {count} CUDA {_plural(count)} ({names})")
    return torch.device("cuda", index)


def _check_mps(text: str, index: int | None) -> torch.device:
    if not torch.backends.mps.is_available():
        raise DeviceError(f"device {text!r} is not available (no Apple GPU)")
    if index not in (None, 0):
        raise DeviceError(f"device {text!r} is not available: there is one Apple GPU (mps)")
    return torch.device("mps")


def resolve_device(spec: DeviceSpec = None) -> torch.device:
    """The ``torch.device`` for ``spec`` (see the module docstring); raises :class:`DeviceError` for bad ones.

    Example:
        >>> resolve_device(torch.device("cpu")).type
        'cpu'
    """
    if spec is None:
        return _check_cuda("cuda", None) if torch.cuda.is_available() else torch.device("cpu")
    if isinstance(spec, torch.device):
        if spec.type not in ("cpu", "cuda", "mps"):
            return spec
        text = str(spec)
    elif isinstance(spec, str):
        text = spec
    else:
        raise DeviceError(f"device must be a string or torch.device, got {type(spec).__name__}")
    match = _SPEC.match(text.strip().lower())
    if match is None:
        raise DeviceError(f"unknown device {text!r}; use cpu, cuda, cuda:N or mps")
    kind, number = match.group(1), match.group(2)
    index = None if number is None else int(number)
    if kind == "cuda":
        return _check_cuda(text, index)
    if kind == "mps":
        return _check_mps(text, index)
    return torch.device("cpu")


def module_device(module: nn.Module | None) -> torch.device:
    """Device of ``module``'s first parameter, else of its first buffer, else the CPU (also for ``None``).

    Example:
        >>> module_device(torch.nn.Linear(2, 2))
        device(type='cpu')
    """
    if module is not None:
        for tensor in module.parameters():
            return tensor.device
        for tensor in module.buffers():
            return tensor.device
    return torch.device("cpu")


def is_cuda(device: torch.device | str) -> bool:
    """True for CUDA devices (where pinned memory and asynchronous copies pay off)."""
    return torch.device(device).type == "cuda"


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``tensor`` on ``device``; the copy is asynchronous (``non_blocking``) when it goes to a CUDA device.

    Example:
        >>> to_device(torch.ones(2), "cpu").device.type
        'cpu'
    """
    if is_cuda(device):
        return tensor.to(device, non_blocking=True)
    return tensor.to(device)


def stack_batch(tensors: Sequence[torch.Tensor], device: torch.device | str) -> torch.Tensor:
    """``torch.stack(tensors)`` on the host, into page-locked memory when the batch goes to a CUDA device.

    Example:
        >>> tuple(stack_batch([torch.zeros(3, 2, 2)] * 4, "cpu").shape)
        (4, 3, 2, 2)
    """
    if not is_cuda(device) or not tensors or tensors[0].device.type != "cpu":
        return torch.stack(list(tensors))
    first = tensors[0]
    out = torch.empty((len(tensors), *first.shape), dtype=first.dtype, pin_memory=True)
    return torch.stack(list(tensors), out=out)


def _cuda_bf16(device: torch.device) -> bool:
    if torch.version.hip:
        return True
    index = device.index if device.index is not None else torch.cuda.current_device()
    return torch.cuda.get_device_capability(index)[0] >= 8


def autocast_dtype(device: torch.device | str) -> torch.dtype:
    """The dtype ``--autocast`` uses on ``device`` (see the module docstring), or a :class:`DeviceError`.

    Example:
        >>> autocast_dtype(torch.device("cpu"))
        torch.bfloat16
    """
    device = torch.device(device)
    if device.type == "cpu":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if _cuda_bf16(device) else torch.float16
    if device.type == "mps":
        if not torch.amp.is_autocast_available("mps"):
            raise DeviceError(f"--autocast is not supported on mps by torch {torch.__version__}; run without it")
        return torch.float16
    raise DeviceError(f"--autocast is not supported on device {str(device)!r}; run without it")


@contextlib.contextmanager
def autocast(device: torch.device | str, enabled: bool = True) -> Iterator[torch.dtype | None]:
    """Mixed precision on ``device`` with :func:`autocast_dtype` (yields the dtype), or nothing when not enabled.

    Example:
        >>> with autocast("cpu") as dtype:
        ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype, dtype
        (torch.bfloat16, torch.bfloat16)
    """
    if not enabled:
        yield None
        return
    device = torch.device(device)
    dtype = autocast_dtype(device)
    with torch.autocast(device.type, dtype=dtype):
        yield dtype


def grad_scaler(device: torch.device | str, autocast: bool) -> torch.amp.GradScaler:
    """A gradient scaler for training under :func:`autocast`: active only when that means float16 (no-op otherwise).

    Example:
        >>> grad_scaler("cpu", autocast=True).is_enabled()
        False
    """
    device = torch.device(device)
    enabled = autocast and autocast_dtype(device) == torch.float16
    return torch.amp.GradScaler(device.type, enabled=enabled)


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (random streams differ between device types).

    Example:
        >>> float(torch.rand(1, generator=seeded_generator(0))) == float(torch.rand(1, generator=seeded_generator(0)))
        True
    """
    device = torch.device(device)
    return torch.Generator(device=device if device.type in ("cuda", "mps") else "cpu").manual_seed(seed)


def describe(device: torch.device | str) -> str:
    """``"cpu"``, ``"cuda:0 (NVIDIA A100-SXM4-40GB)"``...: what run.json records.

    Example:
        >>> describe("cpu")
        'cpu'
    """
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)


__all__ = [
    "DeviceSpec",
    "autocast",
    "autocast_dtype",
    "describe",
    "grad_scaler",
    "is_cuda",
    "module_device",
    "resolve_device",
    "seeded_generator",
    "stack_batch",
    "to_device",
]
