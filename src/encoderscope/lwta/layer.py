"""The stochastic local-winner-takes-all (LWTA) activation of DISCOVER (docs/methods/lwta.md, code-exact).

Units are split into blocks of ``U`` consecutive units of the feature axis. In each block one unit, drawn from
``Categorical(softmax(h_block))`` with the Gumbel-max trick, passes its *linear* value (possibly negative); the
others output zero. Gradients flow through the relaxed Gumbel-softmax at temperature ``temp`` (straight-through
estimator).

The ``mode`` picks the released layer whose defaults apply:

* ``mode="dense"`` (transformer MLPs, the DeiT code): features on the last axis (tokens ``(..., K)``, or
  channels-last grids ``(N, H, W, K)``); defaults ``temp_test=0.01``, ``eps=1e-8`` and, for ``U=1``, GELU.
* ``mode="conv"`` (CNN activations, the ResNet code): channels on axis 1 (``(N, C, H, W)``), competition among
  ``U`` consecutive channels at each position; defaults ``temp_test=1.67``, ``eps=1e-5`` and, for ``U=1``, ReLU.

``axis`` overrides the mode's feature axis (a conv-MLP activation is ``mode="dense", axis=1``; a CNN head on
``(N, C)`` vectors is ``mode="conv", axis=-1``). With ``width`` set, every input must have that many features on
the axis (or one of several, for a module called at several widths), so the layer can never compete over a
spatial axis by mistake.

The layer stays stochastic at test time, as in the released code; ``deterministic=True`` (or a
temperature of 0) takes the argmax instead. The KL term to the uniform prior is available through
:meth:`LWTA.kl`, but its weight is 0 by default, as in the released code (which disables it).

Example:
    >>> import torch
    >>> layer = LWTA(4, generator=torch.Generator().manual_seed(0))
    >>> out = layer(torch.randn(2, 8))
    >>> (out.reshape(2, 2, 4) != 0).sum(-1).tolist()
    [[1, 1], [1, 1]]
    >>> conv = LWTA(2, mode="dense", axis=1, width=4, generator=torch.Generator().manual_seed(0))
    >>> (conv(torch.randn(1, 4, 3, 5)).reshape(1, 2, 2, 3, 5) != 0).sum(2).unique().tolist()
    [1]
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from encoderscope.errors import ParameterError

Mode = Literal["dense", "conv"]

#: Defaults per mode, from the released code: DeiT (dense) and ResNet (conv) activations.
TEMP_TEST: dict[str, float] = {"dense": 0.01, "conv": 1.67}
EPS: dict[str, float] = {"dense": 1e-8, "conv": 1e-5}
#: The feature axis of each mode unless ``axis`` is given: last (tokens, channels-last) or 1 (channels-first).
AXIS: dict[str, int] = {"dense": -1, "conv": 1}


def gumbel_noise(
    shape: torch.Size, eps: float, like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """``-log(-log(u + eps) + eps)`` with ``u ~ U(0, 1)``; non-finite draws are redrawn (released code).

    The noise is drawn on the generator's device (so a CPU generator keeps working, with the same stream, after the
    model moved to a GPU) and returned on ``like``'s device.
    """
    source = like.device if generator is None else generator.device
    while True:
        uniform = torch.rand(shape, generator=generator, device=source, dtype=like.dtype)
        noise = -torch.log(-torch.log(uniform + eps) + eps)
        if bool(torch.isfinite(noise).all()):
            return noise.to(like.device)


class LWTA(nn.Module):
    """Stochastic LWTA activation (see the module docstring).

    Args:
        U: competitors per block; must divide the width. ``U=1`` is the plain activation (GELU or ReLU).
        temp: training temperature of the relaxed sample (1.67 in the released code).
        temp_test: temperature in ``eval()`` mode; ``None`` gives 0.01 (dense) or 1.67 (conv).
        deterministic: take the argmax of the pre-activations instead of a sample.
        kl_weight: weight of the KL term for training loops (0, as the released code); see :meth:`kl`.
        mode: ``"dense"`` (DeiT defaults, features on the last axis) or ``"conv"`` (ResNet defaults, channels on
            axis 1 of ``(N, C, H, W)``).
        axis: the feature axis the blocks are taken along; ``None`` gives the mode's (-1 dense, 1 conv).
        width: the number of features expected on ``axis`` (checked at every call), or a tuple of the allowed
            numbers; ``None``: any multiple of U.
        eps: numerical epsilon of the Gumbel noise; ``None`` gives 1e-8 (dense) or 1e-5 (conv).
        generator: a ``torch.Generator`` for repeatable noise (shared generators are fine).
    """

    def __init__(
        self,
        U: int,
        temp: float = 1.67,
        temp_test: float | None = None,
        deterministic: bool = False,
        kl_weight: float = 0.0,
        mode: Mode = "dense",
        eps: float | None = None,
        generator: torch.Generator | None = None,
        axis: int | None = None,
        width: int | tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(U, int) or isinstance(U, bool) or U < 1:
            raise ParameterError(f"LWTA needs an integer number of competitors U >= 1, got {U!r}")
        if mode not in TEMP_TEST:
            raise ParameterError(f"LWTA mode must be 'dense' or 'conv', got {mode!r}")
        if temp < 0 or (temp_test is not None and temp_test < 0):
            raise ParameterError("LWTA temperatures must be >= 0")
        if axis is not None and (not isinstance(axis, int) or isinstance(axis, bool)):
            raise ParameterError(f"LWTA axis must be an integer, got {axis!r}")
        widths = (width,) if isinstance(width, int) else width
        if widths is not None and not (
            widths and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths)
        ):
            raise ParameterError(f"LWTA width must be a positive integer or a tuple of them, got {width!r}")
        self.U = U
        self.mode: Mode = mode
        self.temp = float(temp)
        self.temp_test = float(TEMP_TEST[mode] if temp_test is None else temp_test)
        self.deterministic = deterministic
        self.kl_weight = float(kl_weight)
        self.eps = float(EPS[mode] if eps is None else eps)
        self.generator = generator
        self.axis = AXIS[mode] if axis is None else axis
        self._needs_grid = mode == "conv" and axis is None  # the historical (N, C, H, W) contract of conv mode
        self.widths: tuple[int, ...] | None = None if widths is None else tuple(widths)
        self._kl_terms: list[torch.Tensor] = []

    def extra_repr(self) -> str:
        return (
            f"U={self.U}, mode={self.mode!r}, temp={self.temp}, temp_test={self.temp_test}, "
            f"deterministic={self.deterministic}, kl_weight={self.kl_weight}, axis={self.axis}, widths={self.widths}"
        )

    def _feature_axis(self, x: torch.Tensor) -> int:
        """The non-negative feature axis of ``x``, after checking it exists and has the expected width."""
        shape = tuple(x.shape)
        if self._needs_grid and x.dim() < 3:
            raise ParameterError(f"LWTA conv mode needs (N, C, H, W) inputs (channels on axis 1), got shape {shape}")
        if not -x.dim() <= self.axis < x.dim():
            raise ParameterError(f"LWTA: feature axis {self.axis} does not exist in an input of shape {shape}")
        axis = self.axis % x.dim()
        if self.widths is not None and shape[axis] not in self.widths:
            expected = " or ".join(str(w) for w in self.widths)
            raise ParameterError(f"LWTA: expected {expected} features on axis {self.axis}, got input shape {shape}")
        return axis

    def _blocks(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        """``x`` reshaped to ``(before, K/U, U[, after])`` around the feature axis (competition along dim 2).

        A last feature axis gives 3-D blocks, as the released dense layer (a softmax over the last dim).
        """
        shape = tuple(x.shape)
        k = shape[axis]
        if k % self.U:
            what = f"{k} channels" if self.mode == "conv" and axis == 1 else f"width {k}"
            raise ParameterError(f"LWTA: U={self.U} does not divide the {what}")
        blocked = (math.prod(shape[:axis]), k // self.U, self.U)
        return x.reshape(*blocked, math.prod(shape[axis + 1 :])) if axis < x.dim() - 1 else x.reshape(blocked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature_axis = self._feature_axis(x)
        if self.U == 1:
            return F.gelu(x) if self.mode == "dense" else F.relu(x)
        blocks = self._blocks(x, feature_axis)
        axis = 2
        temp = self.temp if self.training else self.temp_test
        if self.deterministic or temp == 0:
            index = blocks.argmax(dim=axis, keepdim=True)
            mask = torch.zeros_like(blocks).scatter_(axis, index, 1.0)
        else:
            noise = gumbel_noise(blocks.shape, self.eps, blocks, self.generator)
            soft = torch.softmax((blocks + noise) / temp, dim=axis)
            index = soft.argmax(dim=axis, keepdim=True)
            hard = torch.zeros_like(soft).scatter_(axis, index, 1.0)
            mask = hard - soft.detach() + soft
        if self.training and self.kl_weight > 0:
            log_q = torch.log_softmax(blocks, dim=axis)
            kl = (log_q.exp() * (log_q + torch.log(torch.tensor(float(self.U))))).sum(dim=axis)
            self._kl_terms.append(kl.mean())
        return (blocks * mask).reshape(x.shape)

    def kl(self) -> torch.Tensor:
        """Mean KL(softmax(h_b) ‖ Uniform(1/U)) over blocks and training passes since the last call.

        Reading it resets the record.

        Recorded only in training mode with ``kl_weight > 0``; otherwise 0. The training loop adds
        ``kl_weight * kl()`` to the loss (the released code trains without it).
        """
        if not self._kl_terms:
            return torch.zeros(())
        value = torch.stack(self._kl_terms).mean()
        self._kl_terms = []
        return value


def kl_loss(model: nn.Module) -> torch.Tensor:
    """Sum of ``kl_weight * kl()`` over the LWTA layers of ``model`` (0 when every weight is 0)."""
    total = torch.zeros(())
    for module in model.modules():
        if isinstance(module, LWTA) and module.kl_weight > 0:
            total = total + module.kl_weight * module.kl()
    return total
