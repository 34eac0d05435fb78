"""Model sources: ``timm:``, ``tv:``, ``hf:``, ``file:`` and plain modules, each resolved to an :class:`Encoder`.

Each loader builds the architecture, loads weights (or not, with ``random_init``), and takes the preprocessing from
the same source: timm's data config, torchvision's weights transforms, the Hugging Face image processor. Then one
probe forward pass decides how the model takes its input (any size padded to its real stride, or its native size
only) and which blocks have a spatial output (:mod:`encoderscope.zoo.input_policy`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from encoderscope._io import file_sha256
from encoderscope._optional import require
from encoderscope.capture.layout import TokenLayout
from encoderscope.errors import SourceError, WeightsUnavailableError
from encoderscope.zoo.building import freeze, seeded
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.input_policy import probe_model
from encoderscope.zoo.inspect import infer_depth_layers, infer_layout, parameter_fingerprint
from encoderscope.zoo.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess


def offline_hint() -> str:
    """The one-line advice appended to every weights-unavailable error."""
    from encoderscope.zoo.offline import zoo_models

    working = [f"zoo:{info.name}" for info in zoo_models() if info.available]
    listed = ", ".join(working) if working else "none installed (run `make setup`)"
    return f"models that work offline: {listed}; or pass --random-init / a local file: checkpoint"


def probed_encoder(
    module: nn.Module,
    layout: TokenLayout,
    candidates: list[str],
    native: int | tuple[int, int],
    spec: str,
    preprocess: dict[str, Any],
    reductions: Sequence[int] = (),
    **fields: Any,
) -> Encoder:
    """Probe ``module`` (:func:`~encoderscope.zoo.input_policy.probe_model`) and assemble its :class:`Encoder`.

    ``preprocess`` holds the source's own :class:`Preprocess` fields (mean, std, size...); the probe adds the input
    policy. ``fields`` are the remaining :class:`Encoder` fields (architecture, weights, fingerprint...).
    """
    probed = probe_model(module, layout, candidates, native, label=spec, reductions=reductions)
    policy = probed.policy
    return Encoder(
        module=module,
        preprocess=Preprocess(
            **preprocess,
            pad_multiple=policy.pad_multiple,
            fixed_size=policy.fixed_hw is not None,
            fixed_hw=policy.fixed_hw,
            input_policy=policy.note,
        ),
        layout=layout,
        spec=spec,
        depth_layers=probed.depth_layers,
        **fields,
    )


def _classifier_of(module: nn.Module) -> Any:
    return module if getattr(module, "num_classes", 0) else None


# -- timm ---------------------------------------------------------------------------------------------------------


def load_timm(name: str, random_init: bool, seed: int = 0, **kwargs: Any) -> Encoder:
    """``timm:NAME[.TAG]``: a timm model (pretrained from the hub or its cache unless ``random_init``)."""
    import timm
    from timm.data import resolve_model_data_config

    arch = name.split(".")[0]
    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch.split('_')[0]}*")[:8]
        raise SourceError(f"unknown timm model {arch!r}; similar: {', '.join(close) or 'none'}")

    def build(**extra: Any) -> nn.Module:
        return timm.create_model(name, pretrained=not random_init, **extra, **kwargs)

    try:
        with seeded(seed):
            try:
                module = build(dynamic_img_size=True)
            except (TypeError, AssertionError, NotImplementedError):  # the model has no dynamic_img_size
                module = build()
    except (OSError, RuntimeError, ValueError) as err:
        if random_init:
            raise SourceError(f"timm:{name}: {str(err).splitlines()[0]}") from err
        raise WeightsUnavailableError(
            f"timm:{name}: pretrained weights cannot be downloaded or found in the cache "
            f"({type(err).__name__}); {offline_hint()}"
        ) from err
    freeze(module)
    config = resolve_model_data_config(module)
    size = int(kwargs["img_size"]) if isinstance(kwargs.get("img_size"), int) else int(config["input_size"][-1])
    native = (size, size) if "img_size" in kwargs else (int(config["input_size"][-2]), int(config["input_size"][-1]))
    layout = infer_layout(module)
    feature_info = getattr(module, "feature_info", None) or []
    reductions = [int(info["reduction"]) for info in feature_info if isinstance(info, dict) and "reduction" in info]
    return probed_encoder(
        module,
        layout,
        infer_depth_layers(module),
        native,
        f"timm:{name}",
        dict(
            mean=tuple(config["mean"]),
            std=tuple(config["std"]),
            size=size,
            crop_pct=float(config.get("crop_pct", 0.875)),
            interpolation=str(config.get("interpolation", "bicubic")),
        ),
        reductions=reductions,
        architecture=arch,
        weights="random-init" if random_init else f"timm pretrained {name}",
        fingerprint=f"random-init-{arch}-seed{seed}" if random_init else parameter_fingerprint(module),
        classifier=_classifier_of(module),
        feature_layer=_timm_feature_layer(module),
    )


def _timm_feature_layer(module: nn.Module) -> str | None:
    names = dict(module.named_modules())
    for candidate in ("head.global_pool", "global_pool", "fc_norm", "head_drop", "head.flatten"):
        if candidate in names and not isinstance(names[candidate], nn.Identity):
            return candidate
    return None


# -- torchvision --------------------------------------------------------------------------------------------------


def load_torchvision(name: str, random_init: bool, seed: int = 0) -> Encoder:
    """``tv:NAME[:WEIGHTS]``: a torchvision model; default weights ``DEFAULT``; preprocessing from the weights."""
    import torchvision

    arch, _, weights_name = name.partition(":")
    if arch not in torchvision.models.list_models():
        close = [m for m in torchvision.models.list_models() if m.split("_")[0] == arch.split("_")[0]][:8]
        raise SourceError(f"unknown torchvision model {arch!r}; similar: {', '.join(close) or 'none'}")
    weights_enum = torchvision.models.get_model_weights(arch)
    try:
        weights = weights_enum[weights_name or "DEFAULT"] if weights_name or not random_init else None
    except KeyError as err:
        options = ", ".join(w.name for w in weights_enum)
        raise SourceError(f"torchvision model {arch} has no weights {weights_name!r}; options: {options}") from err
    transform_source = weights or weights_enum.DEFAULT
    try:
        with seeded(seed):
            module = torchvision.models.get_model(arch, weights=None if random_init else weights)
    except (OSError, RuntimeError, ValueError) as err:
        raise WeightsUnavailableError(
            f"tv:{name}: weights {transform_source} cannot be downloaded or found in the torch hub cache "
            f"({type(err).__name__}); {offline_hint()}"
        ) from err
    freeze(module)
    transforms = transform_source.transforms()
    crop = int(getattr(transforms, "crop_size", [224])[0])
    resize = int(getattr(transforms, "resize_size", [256])[0])
    interpolation = getattr(getattr(transforms, "interpolation", None), "value", "bilinear")
    layout = infer_layout(module)
    if "swin" in arch:
        layout = type(layout)((), None, True)
    built_for = getattr(module, "image_size", None)  # torchvision ViTs: the size their position embeddings fit
    native = built_for if isinstance(built_for, int) else crop
    return probed_encoder(
        module,
        layout,
        infer_depth_layers(module),
        native,
        f"tv:{name}",
        dict(
            mean=tuple(getattr(transforms, "mean", IMAGENET_MEAN)),
            std=tuple(getattr(transforms, "std", IMAGENET_STD)),
            size=native,
            crop_pct=crop / resize,
            interpolation=str(interpolation),
        ),
        architecture=arch,
        weights="random-init" if random_init else f"torchvision {transform_source}",
        fingerprint=f"random-init-{arch}-seed{seed}" if random_init else str(transform_source),
        classifier=module,
        class_names=transform_source.meta.get("categories"),
        feature_layer="avgpool" if "avgpool" in dict(module.named_modules()) else None,
    )


# -- Hugging Face -------------------------------------------------------------------------------------------------


class _PixelValuesModule(nn.Module):
    """Calls a Hugging Face vision model with ``pixel_values`` and keeps its module names under ``model.``.

    Models whose forward takes ``interpolate_pos_encoding`` (ViT, DeiT, BEiT, CLIP, SigLIP...) get it set, so their
    position embeddings follow the input size.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = getattr(model, "config", None)
        self.extra = {"interpolate_pos_encoding": True} if _accepts(model, "interpolate_pos_encoding") else {}

    def forward(self, pixels: torch.Tensor) -> Any:
        return self.model(pixel_values=pixels, **self.extra)


def _accepts(model: nn.Module, argument: str) -> bool:
    import inspect

    return argument in inspect.signature(model.forward).parameters


def _hf_sizes(name: str, config: Any) -> tuple[tuple[float, ...], tuple[float, ...], int, int]:
    """``(mean, std, size, native)``: the image processor's values (ImageNet ones when it has none), the shorter
    side it resizes to, and the size the model was built for (``config.image_size``, else that side, else 224)."""
    transformers = require("transformers", "hf")

    mean, std, size = IMAGENET_MEAN, IMAGENET_STD, None
    with contextlib.suppress(OSError, ValueError):
        processor = transformers.AutoImageProcessor.from_pretrained(name)
        mean = tuple(getattr(processor, "image_mean", mean))  # type: ignore[assignment]
        std = tuple(getattr(processor, "image_std", std))  # type: ignore[assignment]
        crop = getattr(processor, "crop_size", None) or getattr(processor, "size", None) or {}
        if isinstance(crop, dict) and (crop.get("height") or crop.get("shortest_edge")):
            size = int(crop.get("height") or crop.get("shortest_edge"))
    configured = getattr(config, "image_size", None)
    native = int(configured) if isinstance(configured, int) else (size or 224)
    return mean, std, size or native, native


def load_huggingface(name: str, random_init: bool, seed: int = 0) -> Encoder:
    """``hf:ORG/NAME`` or ``hf:/local/dir``: a transformers vision model (extra ``hf``)."""
    transformers = require("transformers", "hf")
    try:
        config = transformers.AutoConfig.from_pretrained(name)
        with seeded(seed):
            model = (
                transformers.AutoModel.from_config(config)
                if random_init
                else transformers.AutoModel.from_pretrained(name)
            )
    except OSError as err:
        raise WeightsUnavailableError(
            f"hf:{name}: not in the local Hugging Face cache and the hub is unreachable; {offline_hint()}"
        ) from err
    mean, std, size, native = _hf_sizes(name, config)
    wrapper = freeze(_PixelValuesModule(model))
    layout = infer_layout(model)
    candidates = [f"model.{n}" for n in infer_depth_layers(model)]
    return probed_encoder(
        wrapper,
        layout,
        candidates,
        native,
        f"hf:{name}",
        dict(mean=mean, std=std, size=size),
        architecture=type(model).__name__,
        weights="random-init" if random_init else f"huggingface {name}",
        fingerprint=f"random-init-{name}-seed{seed}" if random_init else parameter_fingerprint(model),
    )


# -- local checkpoints ----------------------------------------------------------------------------------------------

_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "netG_state_dict", "module")


def read_state_dict(path: str | os.PathLike[str], trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch checkpoint (``weights_only=True`` unless trusted).

    Common wrappers (``{"state_dict": ...}``, ``{"model": ...}``) and ``module.`` / ``_orig_mod.`` prefixes are
    unwrapped.
    """
    file = Path(path)
    if not file.is_file():
        raise SourceError(f"checkpoint not found: {file}")
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: Any = load_file(str(file))
    else:
        try:
            state = torch.load(file, map_location="cpu", weights_only=not trust_pickle)
        except Exception as err:
            hint = "" if trust_pickle else " (it may contain pickled objects: pass trust_pickle=True if you trust it)"
            raise SourceError(f"cannot read checkpoint {file}: {str(err).splitlines()[0]}{hint}") from err
    if isinstance(state, nn.Module):
        state = state.state_dict()
    while isinstance(state, dict):
        inner = next((state[key] for key in _STATE_KEYS if isinstance(state.get(key), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SourceError(f"{file} does not hold a state dict of tensors")
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        cleaned[key] = value
    return cleaned


def load_checkpoint(path: str, arch: Encoder, trust_pickle: bool = False) -> Encoder:
    """``file:PATH``: weights from a local file into the architecture of ``arch`` (built with random init)."""
    state = read_state_dict(path, trust_pickle=trust_pickle)
    try:
        result = arch.module.load_state_dict(state, strict=False)
    except RuntimeError as err:
        detail = next((line.strip() for line in str(err).splitlines() if "mismatch" in line), "shape mismatch")
        raise SourceError(f"{path} does not fit {arch.spec}: {detail}") from err
    if result.missing_keys or result.unexpected_keys:
        raise SourceError(
            f"{path} does not fit {arch.spec}: {len(result.missing_keys)} missing keys "
            f"(e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} unexpected "
            f"(e.g. {result.unexpected_keys[:3]})"
        )
    freeze(arch.module)
    arch.spec = f"file:{path}"
    arch.weights = f"checkpoint {Path(path).name}"
    arch.fingerprint = file_sha256(path)[:16]
    return arch


# -- plain modules --------------------------------------------------------------------------------------------------


def from_module(module: nn.Module, preprocess: Preprocess | None = None) -> Encoder:
    """Wrap any ``nn.Module``: layout and blocks inferred, ImageNet preprocessing unless given."""
    layout = infer_layout(module)
    freeze(module)
    return Encoder(
        module=module,
        preprocess=preprocess
        or Preprocess(pad_multiple=layout.patch_size[0] if layout.patch_size else 1),
        layout=layout,
        spec=f"module:{type(module).__name__}",
        architecture=type(module).__name__,
        weights="user module",
        fingerprint=parameter_fingerprint(module),
        depth_layers=infer_depth_layers(module),
        classifier=_classifier_of(module),
    )
