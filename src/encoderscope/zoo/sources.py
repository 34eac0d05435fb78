"""Model sources: ``timm:``, ``tv:``, ``hf:``, ``file:`` and plain modules, each resolved to an :class:`Encoder`.

Each loader builds the architecture, loads weights (or not, with ``random_init``), and takes the preprocessing from
the same source: timm's data config, torchvision's weights transforms, the Hugging Face image processor.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from encoderscope._io import file_sha256
from encoderscope.errors import SourceError, WeightsUnavailableError
from encoderscope.zoo.building import freeze, seeded
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.inspect import infer_depth_layers, infer_layout, parameter_fingerprint
from encoderscope.zoo.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess


def offline_hint() -> str:
    """The one-line advice appended to every weights-unavailable error."""
    from encoderscope.zoo.offline import zoo_models

    working = [f"zoo:{info.name}" for info in zoo_models() if info.available]
    listed = ", ".join(working) if working else "none installed (run `make setup`)"
    return f"models that work offline: {listed}; or pass --random-init / a local file: checkpoint"


def _pad_multiple(module: nn.Module) -> int:
    layout = infer_layout(module)
    return layout.patch_size[0] if layout.patch_size else 1


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
            except TypeError:
                module = build()
    except (OSError, RuntimeError, ValueError) as err:
        if random_init:
            raise SourceError(f"timm:{name}: {str(err).splitlines()[0]}") from err
        raise WeightsUnavailableError(
            f"timm:{name}: pretrained weights cannot be downloaded or found in the cache "
            f"({type(err).__name__}); {offline_hint()}"
        ) from err
    config = resolve_model_data_config(module)
    size = int(kwargs["img_size"]) if isinstance(kwargs.get("img_size"), int) else int(config["input_size"][-1])
    dynamic = bool(getattr(module, "dynamic_img_size", True)) or infer_layout(module).patch_size is None
    preprocess = Preprocess(
        mean=tuple(config["mean"]),  # type: ignore[arg-type]
        std=tuple(config["std"]),  # type: ignore[arg-type]
        size=size,
        crop_pct=float(config.get("crop_pct", 0.875)),
        interpolation=str(config.get("interpolation", "bicubic")),
        pad_multiple=_pad_multiple(module),
        fixed_size=not dynamic,
    )
    freeze(module)
    return Encoder(
        module=module,
        preprocess=preprocess,
        layout=infer_layout(module),
        spec=f"timm:{name}",
        architecture=arch,
        weights="random-init" if random_init else f"timm pretrained {name}",
        fingerprint=f"random-init-{arch}-seed{seed}" if random_init else parameter_fingerprint(module),
        depth_layers=infer_depth_layers(module),
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
    transforms = transform_source.transforms()
    crop = int(getattr(transforms, "crop_size", [224])[0])
    resize = int(getattr(transforms, "resize_size", [256])[0])
    interpolation = getattr(getattr(transforms, "interpolation", None), "value", "bilinear")
    layout = infer_layout(module)
    if "swin" in arch:
        layout = type(layout)((), None, True)
    fixed = "vit" in arch or "swin" in arch or "maxvit" in arch
    preprocess = Preprocess(
        mean=tuple(getattr(transforms, "mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
        std=tuple(getattr(transforms, "std", IMAGENET_STD)),  # type: ignore[arg-type]
        size=crop,
        crop_pct=crop / resize,
        interpolation=str(interpolation),
        pad_multiple=layout.patch_size[0] if layout.patch_size else 1,
        fixed_size=fixed,
    )
    freeze(module)
    depth = infer_depth_layers(module)
    return Encoder(
        module=module,
        preprocess=preprocess,
        layout=layout,
        spec=f"tv:{name}",
        architecture=arch,
        weights="random-init" if random_init else f"torchvision {transform_source}",
        fingerprint=f"random-init-{arch}-seed{seed}" if random_init else str(transform_source),
        depth_layers=depth,
        classifier=module,
        class_names=transform_source.meta.get("categories"),
        feature_layer="avgpool" if "avgpool" in dict(module.named_modules()) else None,
    )


# -- Hugging Face -------------------------------------------------------------------------------------------------


class _PixelValuesModule(nn.Module):
    """Calls a Hugging Face vision model with ``pixel_values`` and keeps its module names under ``model.``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = getattr(model, "config", None)

    def forward(self, pixels: torch.Tensor) -> Any:
        return self.model(pixel_values=pixels)


def load_huggingface(name: str, random_init: bool, seed: int = 0) -> Encoder:
    """``hf:ORG/NAME`` or ``hf:/local/dir``: a transformers vision model (extra ``hf``)."""
    try:
        import transformers
    except ImportError as err:
        raise SourceError("hf: models need the 'hf' extra: pip install 'encoderscope[hf]'") from err
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
    mean, std, size = IMAGENET_MEAN, IMAGENET_STD, 224
    with contextlib.suppress(OSError, ValueError):
        processor = transformers.AutoImageProcessor.from_pretrained(name)
        mean = tuple(getattr(processor, "image_mean", mean))  # type: ignore[assignment]
        std = tuple(getattr(processor, "image_std", std))  # type: ignore[assignment]
        crop = getattr(processor, "crop_size", None) or getattr(processor, "size", None) or {}
        size = int(crop.get("height") or crop.get("shortest_edge") or size) if isinstance(crop, dict) else size
    wrapper = freeze(_PixelValuesModule(model))
    layout = infer_layout(model)
    return Encoder(
        module=wrapper,
        preprocess=Preprocess(
            mean=mean, std=std, size=size, pad_multiple=layout.patch_size[0] if layout.patch_size else 1
        ),
        layout=layout,
        spec=f"hf:{name}",
        architecture=type(model).__name__,
        weights="random-init" if random_init else f"huggingface {name}",
        fingerprint=f"random-init-{name}-seed{seed}" if random_init else parameter_fingerprint(model),
        depth_layers=[f"model.{n}" for n in infer_depth_layers(model)],
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
