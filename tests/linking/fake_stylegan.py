"""A tiny stand-in for a StyleGAN2/3 ``G_ema`` (``z_dim``, ``w_dim``, ``c_dim``, ``num_ws``, ``mapping`` with
``w_avg``, ``synthesis(ws, noise_mode, force_fp32)``) and a writer of network pickles, for the ``stylegan:`` specs.

Its 16 x 16 images fit ``synthetic:linear``'s classifier. The pickle refers to this module, so unpickling it needs
this repository's ``tests`` package importable, as a real pickle needs the StyleGAN code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

SIZE = 16


class FakeMapping(nn.Module):
    """z (and c) -> ws ``(B, num_ws, w_dim)``; ``w_avg`` is the mean w, as StyleGAN's mapping keeps it."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int) -> None:
        super().__init__()
        self.fc = nn.Linear(z_dim, w_dim)
        self.num_ws = num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        return self.fc(z)[:, None, :].repeat(1, self.num_ws, 1)


class FakeSynthesis(nn.Module):
    """ws -> images in [-1, 1] ``(B, 3, 16, 16)``."""

    def __init__(self, w_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(w_dim, 3 * SIZE * SIZE)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False) -> torch.Tensor:
        return torch.tanh(self.fc(ws.mean(1))).reshape(-1, 3, SIZE, SIZE)


class FakeStyleGAN(nn.Module):
    """The G object: ``synthesis`` is its first child, as in StyleGAN's ``Generator``."""

    def __init__(self, z_dim: int = 8, w_dim: int = 6, num_ws: int = 3) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.c_dim, self.num_ws = z_dim, w_dim, 0, num_ws
        self.synthesis = FakeSynthesis(w_dim)
        self.mapping = FakeMapping(z_dim, w_dim, num_ws)


def write_pickle(path: Path, seed: int = 0) -> Path:
    """Write ``{"G_ema": FakeStyleGAN}`` (weights from ``seed``) as a network pickle at ``path``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = FakeStyleGAN()
    with open(path, "wb") as handle:
        pickle.dump({"G_ema": network}, handle)
    return path
