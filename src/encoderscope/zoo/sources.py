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
from encoderscope.errors import SourceError, UnsupportedModelError, WeightsUnavailableError, first_line
from encoderscope.zoo.building import freeze, seeded
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.input_policy import probe_model
from encoderscope.zoo.inspect import infer_depth_layers, infer_layout, parameter_fingerprint
from encoderscope.zoo.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from encoderscope.zoo.trust import pickles_trusted


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
            raise SourceError(f"timm:{name}: {first_line(err)}") from err
        raise WeightsUnavailableError(
            f"timm:{name}: pretrained weights cannot be downloaded or found in the cache "
            f"({type(err).__name__}); {offline_hint()}"
        ) from err
    freeze(module)
    native, preprocess, reductions = timm_preprocessing(module, kwargs.get("img_size"))
    return probed_encoder(
        module,
        infer_layout(module),
        infer_depth_layers(module),
        native,
        f"timm:{name}",
        preprocess,
        reductions=reductions,
        architecture=arch,
        weights="random-init" if random_init else f"timm pretrained {name}",
        fingerprint=f"random-init-{arch}-seed{seed}" if random_init else parameter_fingerprint(module),
        classifier=_classifier_of(module),
        feature_layer=_timm_feature_layer(module),
    )


def timm_preprocessing(
    module: nn.Module, img_size: Any = None
) -> tuple[tuple[int, int], dict[str, Any], list[int]]:
    """A timm model's native input ``(H, W)``, its :class:`Preprocess` fields (timm's data config) and the strides
    its ``feature_info`` declares. ``img_size``: the size it was built with, when not its pretrained size."""
    from timm.data import resolve_model_data_config

    config = resolve_model_data_config(module)
    size = int(img_size) if isinstance(img_size, int) else int(config["input_size"][-1])
    native = (size, size) if img_size is not None else (int(config["input_size"][-2]), int(config["input_size"][-1]))
    preprocess = dict(
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        size=size,
        crop_pct=float(config.get("crop_pct", 0.875)),
        interpolation=str(config.get("interpolation", "bicubic")),
    )
    feature_info = getattr(module, "feature_info", None) or []
    reductions = [int(info["reduction"]) for info in feature_info if isinstance(info, dict) and "reduction" in info]
    return native, preprocess, reductions


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


def _plain_checkpoint_types() -> list[Any]:
    """What training scripts commonly save beside the weights and weights-only loading may rebuild safely: the
    script's ``argparse.Namespace`` and numpy numbers and arrays (``best_acc``, ``epoch``)."""
    import argparse

    import numpy as np

    multiarray = (np._core if hasattr(np, "_core") else np.core).multiarray
    dtype_classes = [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUS"]
    rebuilders = [(f, f"numpy.{core}.multiarray.{f.__name__}") for f in (multiarray.scalar, multiarray._reconstruct)
                  for core in ("core", "_core")]  # the name numpy 1 and numpy 2 write in the pickle
    return [argparse.Namespace, np.ndarray, np.dtype, *dtype_classes, *rebuilders]


def _unpickling_refused(err: BaseException) -> str | None:
    """The class a weights-only load refused (``"argparse.Namespace"``), or None when the bytes are not a
    checkpoint at all."""
    text = str(err)
    marker = "Unsupported global: GLOBAL "
    if marker in text:
        return text.split(marker, 1)[1].split()[0]
    return None


def _load_torch_checkpoint(file: Path, trust_pickle: bool) -> Any:
    try:
        with torch.serialization.safe_globals(_plain_checkpoint_types()):
            return torch.load(file, map_location="cpu", weights_only=not trust_pickle)
    except Exception as err:  # torch raises UnpicklingError, EOFError, RuntimeError... for files it cannot read
        refused = None if trust_pickle else _unpickling_refused(err)
        if refused is not None:
            raise SourceError(
                f"cannot read checkpoint {file}: it holds a pickled {refused}, which weights-only loading refuses; "
                "pass --trust-pickle (trust_pickle=True) only if you trust the file"
            ) from None
        reason = str(err).split("WeightsUnpickler error:", 1)[-1].strip()
        detail = reason.splitlines()[0] if reason else first_line(err)
        raise SourceError(f"cannot read checkpoint {file}: not a torch checkpoint ({detail[:160]})") from None


def read_state_dict(path: str | os.PathLike[str], trust_pickle: bool | None = None) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch checkpoint (``weights_only=True`` unless trusted).

    Common wrappers (``{"state_dict": ...}``, ``{"model": ...}``) and ``module.`` / ``_orig_mod.`` prefixes are
    unwrapped. Weights-only loading also accepts what training scripts commonly save beside the weights (an
    ``argparse.Namespace``, numpy numbers); any other pickled object needs ``trust_pickle=True`` (``None``: as
    :func:`~encoderscope.zoo.trust.trusting_pickles` says, by default not).

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mkdtemp() + "/net.pt"
        >>> torch.save({"model": torch.nn.Linear(2, 1).state_dict(), "best_acc": __import__("numpy").float64(0.9)},
        ...            path)
        >>> sorted(read_state_dict(path))
        ['bias', 'weight']
    """
    file = Path(path)
    if not file.is_file():
        raise SourceError(f"checkpoint not found: {file}")
    if file.stat().st_size == 0:
        raise SourceError(f"cannot read checkpoint {file}: the file is empty")
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(file))
        except Exception as err:  # safetensors raises its own error types for truncated or garbled files
            raise SourceError(f"cannot read checkpoint {file}: not a safetensors file ({first_line(err)})") from None
    else:
        state = _load_torch_checkpoint(file, pickles_trusted(trust_pickle))
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


def load_checkpoint(path: str, arch: Encoder, trust_pickle: bool | None = None) -> Encoder:
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
    """Wrap any ``nn.Module``: layout and blocks inferred; the input policy probed as for a spec.

    Without ``preprocess``, a timm model keeps timm's data config (mean, std, size, crop, interpolation) and the
    size it was built with; any other module gets ImageNet preprocessing at 224 px. The probe forward pass then
    decides, as for ``timm:`` specs, whether it takes any size or only its native one. A module the probe cannot
    run (no spatial output, an input it rejects at that size) is wrapped unprobed, any size assumed, and
    ``preprocess.input_policy`` says why. A given ``preprocess`` is used as it is.

    Example:
        >>> import timm
        >>> enc = from_module(timm.create_model("vit_tiny_patch16_224"))  # built without dynamic_img_size
        >>> enc.preprocess.fixed_hw, enc.preprocess.mean
        ((224, 224), (0.5, 0.5, 0.5))
    """
    spec = f"module:{type(module).__name__}"
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters()):
        raise SourceError(f"{spec} has lazy parameters not initialised yet: run it once on an input first")
    layout = infer_layout(module)
    freeze(module)
    fields: dict[str, Any] = dict(
        architecture=type(module).__name__,
        weights="user module",
        fingerprint=parameter_fingerprint(module),
        classifier=_classifier_of(module),
    )
    pad = layout.patch_size[0] if layout.patch_size else 1
    if preprocess is not None:
        return Encoder(module=module, preprocess=preprocess, layout=layout, spec=spec,
                       depth_layers=infer_depth_layers(module), **fields)
    native: tuple[int, int] = (224, 224)
    source: dict[str, Any] = {}
    reductions: list[int] = []
    if isinstance(getattr(module, "pretrained_cfg", None), dict):  # a timm model
        built = getattr(getattr(module, "patch_embed", None), "img_size", None)
        square = built[0] if isinstance(built, tuple | list) and len(set(built)) == 1 else built
        native, source, reductions = timm_preprocessing(module, square if isinstance(square, int) else None)
        fields["feature_layer"] = _timm_feature_layer(module)
    try:
        return probed_encoder(module, layout, infer_depth_layers(module), native, spec, source,
                              reductions=reductions, **fields)
    except UnsupportedModelError as err:
        note = f"not probed ({str(err)[:160]}); any size assumed, padded to a multiple of {pad}"
        return Encoder(module=module, preprocess=Preprocess(**source, pad_multiple=pad, input_policy=note),
                       layout=layout, spec=spec, depth_layers=infer_depth_layers(module), **fields)
