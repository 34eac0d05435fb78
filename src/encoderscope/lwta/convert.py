"""Turning a model into a DISCOVER network: its activations become LWTA layers that compete over features
(docs/methods/lwta.md#placement).

:func:`~encoderscope.lwta.placement.plan` decides which activations are replaced and along which axis each LWTA
competes (one probe forward pass; see that module). In short:

* ViT-like models (timm ``Mlp``/``ConvMlp``/``GluMlp``, torchvision and Hugging Face MLP blocks): every MLP
  activation becomes ``LWTA(U, mode="dense")``; attention is unchanged. Token MLPs and channels-last grids compete
  over the last axis, conv MLPs (``fc1`` a 1x1 convolution) over the channels at each position.
* CNNs: every activation module becomes ``LWTA(U, mode="conv")`` over the channels at each position: for a ResNet
  every ReLU (the stem's, the one after ``bn1`` of each block and the one after the residual addition; torchvision
  blocks call one ``relu`` module for both, so one replacement covers both uses), for other CNNs their SiLU,
  Hardswish, GELU, LeakyReLU... the same way (the paper converts ReLU networks only).

The copy keeps every other weight; the input model is not modified. Each LWTA layer knows its feature axis and
width and raises a one-line error for an input that does not have them.

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
from encoderscope.lwta.placement import Site, plan


def _set_child(root: nn.Module, dotted: str, new: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _check_divisible(sites: list[Site], U: int) -> None:
    """One line naming the layers whose feature width U does not divide."""
    bad = [site for site in sites if any(width % U for width in site.widths)]
    if not bad:
        return

    def width(site: Site) -> str:
        widths = "/".join(str(w) for w in site.widths if w % U)
        return f"{widths} {'channels' if site.axis == 1 else 'features'}"

    if len(bad) == 1:
        raise ParameterError(f"convert: U={U} does not divide the {width(bad[0])} of {bad[0].name}")
    listed = ", ".join(f"{site.name} ({width(site)})" for site in bad[:3])
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    raise ParameterError(f"convert: U={U} does not divide the width of {len(bad)} of the {len(sites)} layers to "
                         f"replace: {listed}{more}")


def convert(
    model: nn.Module,
    U: int,
    temp: float = 1.67,
    temp_test: float | None = None,
    deterministic: bool = False,
    kl_weight: float = 0.0,
    seed: int | None = 0,
    example: torch.Tensor | None = None,
) -> nn.Module:
    """A copy of ``model`` with LWTA activations (see the module docstring).

    Args:
        model: a timm, torchvision or Hugging Face vision model, or any module taking one image batch.
        U: competitors per block; must divide the feature width of every replaced activation.
        temp, temp_test, deterministic, kl_weight: passed to every :class:`LWTA`.
        seed: seeds one ``torch.Generator`` shared by all layers (``None``: the global RNG).
        example: the input of the probe pass (default: a seeded image batch of one at the model's own size).

    Returns:
        the converted copy (same training/eval mode as ``model``).

    Raises:
        ParameterError: in one line, which layers cannot be converted and why.
    """
    LWTA(U, temp=temp, temp_test=temp_test)  # validates the parameters before the probe pass
    copied = copy.deepcopy(model)
    sites = plan(copied, example)
    _check_divisible(sites, U)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    for site in sites:
        layer = LWTA(
            U, temp=temp, temp_test=temp_test, deterministic=deterministic, kl_weight=kl_weight,
            mode=site.mode, generator=generator, axis=site.axis, width=site.widths,
        )
        _set_child(copied, site.name, layer.train(copied.get_submodule(site.name).training))
    return copied


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
