"""Two steps of building any model of the zoo: repeatable random initialisation and freezing for inference.

Kept apart from :mod:`encoderscope.zoo.sources` so that the offline zoo's builders (which need them) and the
sources (which point to the offline zoo in their error messages) do not import each other.

Example:
    >>> import torch
    >>> with seeded(0):
    ...     a = torch.rand(1)
    >>> with seeded(0):
    ...     b = torch.rand(1)
    >>> bool(a == b), freeze(torch.nn.Linear(2, 2)).weight.requires_grad
    (True, False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Fix torch's global RNG inside the block (random-init builds are repeatable) and restore it afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def freeze(module: nn.Module) -> nn.Module:
    """Put a module in eval mode with gradients off."""
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module
