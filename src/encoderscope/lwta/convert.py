"""Turning a timm ViT or a timm/torchvision ResNet into a DISCOVER network (docs/methods/lwta.md#placement).

* ViTs (any module with ``fc1`` and ``act``, such as timm's ``Mlp``): every MLP activation becomes
  ``LWTA(U, mode="dense")``; attention is unchanged.
* ResNets: every ``nn.ReLU`` becomes ``LWTA(U, mode="conv")``: the stem's, the one after ``bn1`` of
  each block and the one after the residual addition (torchvision blocks call one ``relu`` module for
  both, so one replacement covers both uses).

The copy keeps every other weight; the input model is not modified.

Example:
    >>> import timm
    >>> vit = timm.models.VisionTransformer(img_size=32, patch_size=4, embed_dim=32, depth=2, num_heads=2)
    >>> sparse = convert(vit, 4, seed=0)
    >>> len(lwta_layers(sparse))
    2
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from encoderscope.errors import ParameterError
from encoderscope.lwta.layer import LWTA


def _set_child(root: nn.Module, dotted: str, new: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _relu_like(module: nn.Module) -> bool:
    return isinstance(module, nn.ReLU | nn.ReLU6) or (isinstance(module, LWTA) and module.mode == "conv")


def _mlp_targets(model: nn.Module) -> list[tuple[str, int]]:
    """``(activation name, width)`` of every transformer MLP (a module with ``fc1`` and ``act``)."""
    found = []
    for name, module in model.named_modules():
        fc1 = getattr(module, "fc1", None)
        if isinstance(getattr(module, "act", None), nn.Module) and isinstance(fc1, nn.Linear | nn.Conv2d):
            width = fc1.out_features if isinstance(fc1, nn.Linear) else fc1.out_channels
            found.append((f"{name}.act" if name else "act", int(width)))
    return found


def convert(
    model: nn.Module,
    U: int,
    temp: float = 1.67,
    temp_test: float | None = None,
    deterministic: bool = False,
    kl_weight: float = 0.0,
    seed: int | None = 0,
) -> nn.Module:
    """A copy of ``model`` with LWTA activations (see the module docstring).

    Args:
        model: a timm ``VisionTransformer`` (or any model with ``fc1``/``act`` MLPs) or a ResNet.
        U: competitors per block; must divide every MLP width (ViT) or every channel count (ResNet).
        temp, temp_test, deterministic, kl_weight: passed to every :class:`LWTA`.
        seed: seeds one ``torch.Generator`` shared by all layers (``None``: the global RNG).

    Returns:
        the converted copy (same training/eval mode as ``model``).
    """
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    copied = copy.deepcopy(model)
    targets = _mlp_targets(copied)
    mode = "dense"
    if not targets:
        mode = "conv"
        targets = [(name, -1) for name, module in copied.named_modules() if _relu_like(module)]
    if not targets:
        raise ParameterError("convert: found neither transformer MLPs (fc1/act) nor ReLUs to replace")
    for name, width in targets:
        if width > 0 and width % U:
            raise ParameterError(f"convert: U={U} does not divide the MLP width {width} of {name}")
        layer = LWTA(
            U, temp=temp, temp_test=temp_test, deterministic=deterministic, kl_weight=kl_weight,
            mode=mode, generator=generator,  # type: ignore[arg-type]
        )
        _set_child(copied, name, layer)
    if mode == "conv" and U > 1:
        _check_channels(copied, U)
    return copied


def _check_channels(model: nn.Module, U: int) -> None:
    """Every BatchNorm/conv width feeding an LWTA must be divisible by U (checked on the declared widths)."""
    for name, module in model.named_modules():
        width = module.num_features if isinstance(module, nn.BatchNorm2d) else None
        if width is not None and width % U:
            raise ParameterError(f"convert: U={U} does not divide the {width} channels of {name}")


def lwta_layers(model: nn.Module) -> dict[str, LWTA]:
    """The LWTA modules of ``model`` by dotted name."""
    return {name: module for name, module in model.named_modules() if isinstance(module, LWTA)}


def set_generator(model: nn.Module, generator: torch.Generator | None) -> None:
    """Give every LWTA layer of ``model`` the same noise generator (for repeatable stochastic passes)."""
    for module in lwta_layers(model).values():
        module.generator = generator


def set_deterministic(model: nn.Module, deterministic: bool) -> None:
    """Switch every LWTA layer of ``model`` between sampling and argmax."""
    for module in lwta_layers(model).values():
        module.deterministic = deterministic
