"""Measured sparsity: the fraction of non-zero outputs of every LWTA layer (1/U by construction).

Example:
    >>> import torch
    >>> from encoderscope.lwta.layer import LWTA
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), LWTA(4))
    >>> with SparsityMeter(net) as meter:
    ...     _ = net(torch.randn(16, 4))
    >>> meter.active_fraction()["1"]
    0.25
"""

from __future__ import annotations

from types import TracebackType

import torch
from torch import nn

from encoderscope.lwta.layer import LWTA


class SparsityMeter:
    """Context manager counting non-zero outputs of the LWTA layers of a model during forward passes.

    Every call of a layer is counted (torchvision blocks call one activation module twice).
    """

    def __init__(self, model: nn.Module, include_u1: bool = True) -> None:
        self.layers = {
            name: m for name, m in model.named_modules() if isinstance(m, LWTA) and (include_u1 or m.U > 1)
        }
        self.nonzero: dict[str, int] = dict.fromkeys(self.layers, 0)
        self.total: dict[str, int] = dict.fromkeys(self.layers, 0)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self.nonzero[name] += int((output != 0).sum())
            self.total[name] += output.numel()

        return hook

    def __enter__(self) -> SparsityMeter:
        self._handles = [layer.register_forward_hook(self._hook(name)) for name, layer in self.layers.items()]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def active_fraction(self) -> dict[str, float]:
        """Per layer: non-zero outputs / all outputs (``nan`` for layers never called)."""
        return {
            name: (self.nonzero[name] / self.total[name]) if self.total[name] else float("nan")
            for name in self.layers
        }

    def expected(self) -> dict[str, float]:
        """Per layer: the nominal active fraction 1/U (``nan`` for U=1: data-dependent)."""
        return {name: (1.0 / layer.U if layer.U > 1 else float("nan")) for name, layer in self.layers.items()}
