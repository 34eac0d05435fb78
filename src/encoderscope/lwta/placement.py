"""Where DISCOVER's LWTA layers go in a model, and along which axis each one competes.

One probe forward pass (``eval()`` mode, the model's own input size, batch of one) records, for every activation
module, the tensor it really receives and the layer that produced it. During that pass only the input requires
gradients, so ``requires_grad`` tells which tensors depend on the image. From that:

* **Feature axis.** An activation fed by a ``Linear`` (or a ``LayerNorm``) competes over the last axis: tokens
  ``(..., K)`` and channels-last grids ``(N, H, W, K)``. One fed by a convolution or a ``BatchNorm``/``GroupNorm``
  competes over axis 1 of ``(N, C, H, W)``, at each position. A layer's output split in two halves (gated units)
  still counts as fed by it. When no layer feeds it directly (a reshape or a clamp in between), the ``fc1`` of its
  MLP decides, else the last such layer that ran, if its width is on that layer's usual axis (a conv width on the
  last axis is a spatial size that happens to match), else the layout: axis 1 of 4-D inputs, the last axis
  otherwise. A 2-D input ``(N, K)`` always competes over K. The width is the size of
  that axis; U must divide it.
* **Placement.** If the model has transformer MLPs, their activations are replaced (the ViT rule); attention,
  stems and every other activation are unchanged. An MLP activation maps each token or position: it is fed by a
  ``Linear`` on an input of 3+ dims, or it is the ``act`` of a module whose ``fc1`` is a ``Linear`` or a 1x1
  convolution. A conv ``fc1`` on a 1x1 grid inside a block with a larger input grid runs on pooled features: a
  squeeze-excitation or global-context gate, not an MLP. A model without MLP activations is a CNN: every
  activation module is replaced (the ResNet rule, which replaces every ReLU), whatever its kind (ReLU, ReLU6,
  LeakyReLU, GELU, SiLU, Hardswish, Mish, ELU, timm's composite StarReLU, ...), squeeze-excitation and classifier
  heads included.
* **Never replaced:** gates (sigmoid, hard-sigmoid, tanh, softmax), activations whose input does not depend on the
  image (position-bias MLPs computing a table from coordinates, as in Swin V2), activations called as functions
  inside ``forward`` (``F.relu``: they are not modules), and activation modules the probe pass does not reach
  (auxiliary heads used only in training).
* **Mode.** MLP activations get the DeiT code's defaults (``mode="dense"``), CNN activations the ResNet code's
  (``mode="conv"``); the axis is given explicitly either way.

Give ``example=`` an input of the model's usual size when it has no recorded one (timm ``pretrained_cfg``,
``patch_embed.img_size``, torchvision ``image_size``, Hugging Face ``config.image_size``; otherwise 224 px): on a
tiny input, a conv MLP whose grid shrinks to 1x1 can look like a pooled gate.

Example:
    >>> import timm
    >>> net = timm.create_model("convnext_atto", pretrained=False, conv_mlp=True)
    >>> sites = plan(net, torch.zeros(1, 3, 64, 64))
    >>> sites[0]
    Site(name='stages.0.blocks.0.mlp.act', mode='dense', axis=1, widths=(160,))
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.instancenorm import _InstanceNorm

from encoderscope.errors import EncoderscopeError, ParameterError
from encoderscope.lwta.layer import LWTA, Mode

#: Activation modules replaced by LWTA (torch's own; other libraries' are recognised by class name).
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish, LWTA,
)
_ACTIVATION_NAME = re.compile(r"relu|gelu|silu|swish|mish|elu|^gammaact$", re.IGNORECASE)
_GATE_NAME = re.compile(r"sigmoid|softmax|^tanh$|^hardtanh$", re.IGNORECASE)
_LAST, _CHANNELS = -1, 1


@dataclass(frozen=True)
class Site:
    """One activation to replace: its dotted name, the LWTA mode, the feature axis and its width(s).

    ``widths`` has several entries when one module is called at several widths (torchvision bottlenecks call one
    ``relu`` after each of their three convolutions).
    """

    name: str
    mode: Mode
    axis: int
    widths: tuple[int, ...]


@dataclass(frozen=True)
class _Call:
    """What one call of an activation module received."""

    shape: tuple[int, ...]
    axis: int  # -1 (last) or 1 (channels-first)
    mlp: bool
    from_image: bool  # the input depends on the image (not on buffers only, as position-bias tables)


def _is_activation_class(module: nn.Module) -> bool:
    name = type(module).__name__
    return isinstance(module, ACTIVATIONS) or (bool(_ACTIVATION_NAME.search(name)) and not _GATE_NAME.search(name))


def is_activation(module: nn.Module) -> bool:
    """Whether ``module`` is a pointwise nonlinearity that LWTA replaces (gates excluded).

    Composite activations (timm's ``StarReLU``, a scaled and shifted squared ReLU) count as one activation, as long
    as every submodule is an activation too.
    """
    return _is_activation_class(module) and all(_is_activation_class(child) for child in module.modules())


def activation_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The outermost activation modules of ``model`` by dotted name."""
    found: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        parts = name.split(".")
        inside = any(".".join(parts[:i]) in found for i in range(1, len(parts)))
        if name and not inside and is_activation(module):
            found[name] = module
    return found


class _Declared(NamedTuple):
    """A layer whose output width is known from its parameters, and the axis that width is usually on."""

    width: int
    axis: int
    linear: bool


def _declared(module: nn.Module) -> _Declared | None:
    if isinstance(module, nn.Linear):
        return _Declared(module.out_features, _LAST, True)
    if isinstance(module, _ConvNd):
        return _Declared(module.out_channels, _CHANNELS, False)
    if isinstance(module, _BatchNorm | _InstanceNorm):
        return _Declared(module.num_features, _CHANNELS, False)
    if isinstance(module, nn.GroupNorm):
        return _Declared(module.num_channels, _CHANNELS, False)
    shape = getattr(module, "normalized_shape", None)  # LayerNorm and its relatives (RmsNorm, LayerNorm2d, ...)
    if isinstance(shape, tuple | list) and shape and isinstance(shape[-1], int):
        return _Declared(int(shape[-1]), _CHANNELS if type(module).__name__.endswith("2d") else _LAST, False)
    return None


def _axis_holding(shape: tuple[int, ...], layer: _Declared | None) -> int | None:
    """The axis of ``shape`` holding a layer's declared width, else half of it (gated units split the output in
    two); the layer's usual axis on a tie."""
    if layer is None or len(shape) < 2:
        return None
    for width in (layer.width, layer.width // 2):
        candidates = [axis for axis in (_LAST, _CHANNELS) if shape[axis] == width]
        if candidates:
            return layer.axis if layer.axis in candidates else candidates[0]
    return None


def _fc1_of(parent: nn.Module | None, child: str) -> nn.Linear | nn.Conv2d | None:
    """The ``fc1`` (or ``fc1_g``) layer of the MLP module whose activation is ``child`` (named ``act``)."""
    if parent is None or child != "act":
        return None
    for attribute in ("fc1", "fc1_g"):
        layer = getattr(parent, attribute, None)
        if isinstance(layer, nn.Linear | nn.Conv2d):
            return layer
    return None


def _fc1_axis(shape: tuple[int, ...], fc1: nn.Linear | nn.Conv2d | None) -> int | None:
    """The feature axis ``fc1`` implies, if the input has fc1's width there (or half of it, gated MLPs)."""
    if fc1 is None or len(shape) < 2:
        return None
    width, axis = (fc1.out_features, _LAST) if isinstance(fc1, nn.Linear) else (fc1.out_channels, _CHANNELS)
    return axis if shape[axis] in (width, width // 2) else None


class _Recorder:
    """Forward hooks that record the input of every activation module and the layer that produced it.

    The producer is the layer whose output *is* the activation's input; failing that (a reshape, a clamp, a
    residual addition in between), the width-declaring layer that ran last, if its width is on one of the axes.
    """

    def __init__(self, model: nn.Module, activations: dict[str, nn.Module]) -> None:
        self.modules = dict(model.named_modules())
        self.activations = activations
        self.calls: dict[str, list[_Call]] = {name: [] for name in activations}
        self._produced: dict[int, tuple[weakref.ref[torch.Tensor], _Declared]] = {}
        self._last: _Declared | None = None
        self._block_inputs: dict[str, tuple[int, ...]] = {}  # input shapes of the blocks around conv MLPs
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> _Recorder:
        for module in self.modules.values():
            declared = _declared(module)
            if declared is not None:
                self._handles.append(module.register_forward_hook(self._on_output(declared)))
        for name, module in self.activations.items():
            self._handles.append(module.register_forward_pre_hook(self._on_input(name)))
            mlp_name, _, child = name.rpartition(".")
            block_name = mlp_name.rpartition(".")[0]
            if isinstance(_fc1_of(self.modules.get(mlp_name), child), nn.Conv2d) and mlp_name:
                block = self.modules[block_name]
                self._handles.append(block.register_forward_pre_hook(self._on_block_input(block_name)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._produced = {}

    def _on_output(self, declared: _Declared) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                self._produced[id(output)] = (weakref.ref(output), declared)
                self._last = declared

        return hook

    def _on_block_input(self, name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, inputs: Any) -> None:
            if inputs and isinstance(inputs[0], torch.Tensor):
                self._block_inputs[name] = tuple(inputs[0].shape)

        return hook

    def _on_input(self, name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, inputs: Any) -> None:
            if inputs and isinstance(inputs[0], torch.Tensor):
                self.calls[name].append(self._describe(name, inputs[0]))

        return hook

    def _producer(self, x: torch.Tensor) -> _Declared | None:
        entry = self._produced.get(id(x))
        return entry[1] if entry is not None and entry[0]() is x else None

    def _describe(self, name: str, x: torch.Tensor) -> _Call:
        shape = tuple(x.shape)
        parent_name, _, child = name.rpartition(".")
        fc1 = _fc1_of(self.modules.get(parent_name), child)
        producer = self._producer(x)
        axis = _axis_holding(shape, producer)
        if axis is None:
            axis = _fc1_axis(shape, fc1)
        if axis is None and self._last is not None and _axis_holding(shape, self._last) == self._last.axis:
            # only on the layer's usual axis: a conv width on the last axis of (N, C, H, W) is a spatial size that
            # happens to match (timm's lambda layers), and would break at another input size
            producer = self._last
            axis = self._last.axis
        if axis is None:
            axis = _CHANNELS if len(shape) >= 4 else _LAST
        block_input = self._block_inputs.get(parent_name.rpartition(".")[0])
        return _Call(shape, axis, _is_mlp(shape, axis, fc1, producer, block_input), x.requires_grad)


def _is_mlp(
    shape: tuple[int, ...],
    axis: int,
    fc1: nn.Linear | nn.Conv2d | None,
    producer: _Declared | None,
    block_input: tuple[int, ...] | None,
) -> bool:
    """A token/position MLP activation (see the module docstring).

    A conv MLP on a 1x1 grid inside a block whose input has a larger grid runs on pooled features: a
    squeeze-excitation or global-context gate, not an MLP.
    """
    if len(shape) < 3:
        return False
    if fc1 is not None and _fc1_axis(shape, fc1) == axis:
        if isinstance(fc1, nn.Linear):
            return axis == _LAST
        pooled = math.prod(shape[2:]) == 1 and (block_input is None or math.prod(block_input[2:]) > 1)
        return len(shape) == 4 and not pooled
    return producer is not None and producer.linear and axis == _LAST


def example_input(model: nn.Module) -> torch.Tensor:
    """A seeded ``(1, C, H, W)`` input at the model's own size (timm/torchvision/HF conventions; else 224 px)."""
    channels, height, width = 3, 224, 224
    config = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if isinstance(config, dict) and len(config.get("input_size") or ()) == 3:
        channels, height, width = (int(v) for v in config["input_size"])
    else:
        first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        channels = first_conv.in_channels if first_conv is not None else channels
    size = getattr(getattr(model, "patch_embed", None), "img_size", None)
    size = size or getattr(model, "image_size", None) or getattr(getattr(model, "config", None), "image_size", None)
    if isinstance(size, int):
        height = width = size
    elif isinstance(size, tuple | list) and len(size) == 2:
        height, width = int(size[0]), int(size[1])
    parameter = next((p for p in model.parameters() if p.is_floating_point()), None)
    x = torch.randn((1, channels, height, width), generator=torch.Generator().manual_seed(0))
    return x if parameter is None else x.to(parameter.device, parameter.dtype)


def _run_probe(model: nn.Module, recorder: _Recorder, example: torch.Tensor) -> None:
    """One forward pass in ``eval()`` mode; only the input requires gradients, so that a tensor's ``requires_grad``
    tells whether it depends on the image. Training flags and ``requires_grad`` are restored afterwards."""
    modes = {module: module.training for module in model.modules()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    x = example.detach().clone()
    if x.is_floating_point():
        x = x.requires_grad_(True).clone()  # a non-leaf, so in-place operations of the model stay legal
    try:
        for parameter in trainable:
            parameter.requires_grad_(False)
        with recorder, torch.enable_grad():
            model.eval()
            model(x)
    except EncoderscopeError:
        raise
    except Exception as error:  # any failure inside a user's model becomes one line
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        raise ParameterError(
            f"convert: the probe pass through {type(model).__name__} failed on an input of shape "
            f"{tuple(example.shape)} ({type(error).__name__}: {reason}); pass example= an input the model accepts"
        ) from None
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
        for module, training in modes.items():
            module.training = training


def plan(model: nn.Module, example: torch.Tensor | None = None) -> list[Site]:
    """The activations :func:`~encoderscope.lwta.convert` replaces in ``model`` (see the module docstring).

    Args:
        model: any ``nn.Module`` taking one image batch.
        example: the probe input; ``None`` gives :func:`example_input` (the model's own size).

    Raises:
        ParameterError: no activation modules, a failed probe pass, or an activation called on inputs with
            different feature axes; the message names the layers.
    """
    activations = activation_modules(model)
    if not activations:
        raise ParameterError(
            f"convert: found neither MLP activations nor other activation modules (ReLU, GELU, SiLU, ...) to "
            f"replace in {type(model).__name__} (activations called as functions cannot be replaced)"
        )
    recorder = _Recorder(model, activations)
    _run_probe(model, recorder, example_input(model) if example is None else example)
    called = {name: calls for name, calls in recorder.calls.items() if calls}
    if not called:
        raise ParameterError(
            f"convert: none of the {len(activations)} activation modules of {type(model).__name__} is called in "
            "its forward pass"
        )
    on_image = {name: calls for name, calls in called.items() if any(call.from_image for call in calls)}
    on_image = on_image or called  # no gradient tracking at all (a forward under no_grad, integer inputs)
    mlp = {name for name, calls in on_image.items() if any(call.mlp for call in calls)}
    chosen = {name: calls for name, calls in on_image.items() if name in mlp or not mlp}
    return _sites(chosen, "dense" if mlp else "conv")


def _sites(chosen: dict[str, list[_Call]], mode: Mode) -> list[Site]:
    sites, problems = [], []
    for name, calls in chosen.items():
        axes = {_LAST if call.axis == _LAST or len(call.shape) == 2 else _CHANNELS for call in calls}
        if len(axes) > 1:
            seen = ", ".join(sorted({str(call.shape) for call in calls}))
            problems.append(f"{name} (its inputs {seen} have their features on different axes)")
            continue
        axis = axes.pop()
        sites.append(Site(name, mode, axis, tuple(sorted({call.shape[axis] for call in calls}))))
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise ParameterError(f"convert: cannot convert {'; '.join(problems[:3])}{more}")
    return sites
