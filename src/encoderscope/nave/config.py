"""Configurations of the NAVE runs: :class:`NaveConfig` (``nave``), :class:`CompareConfig` (``compare``),
:class:`CorLocConfig` (``corloc``) and :class:`FlowConfig` (``flow``). Their ``check()`` is the one place that checks
NAVE's arguments.

Example:
    >>> NaveConfig(k="auto", layers="blocks.5, blocks.11", size="native").layers
    ('blocks.5', 'blocks.11')
    >>> NaveConfig(k="3").k, NaveConfig(size="native").size, NaveConfig(size="224").size
    (3, None, 224)
    >>> NaveConfig(scope="world")
    Traceback (most recent call last):
    ...
    encoderscope.errors.ParameterError: unknown scope 'world'; choose one of image, dataset
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from encoderscope.capture.config import CaptureConfig
from encoderscope.cluster import BACKENDS, DEFAULT_N_INIT, parse_k
from encoderscope.configs import (
    HELP_ARCH,
    HELP_MODEL,
    HELP_RANDOM_INIT,
    HELP_SEED,
    Config,
    option,
)
from encoderscope.errors import ParameterError
from encoderscope.nave.baselines import BASELINES
from encoderscope.nave.combine import RESAMPLE_MODES
from encoderscope.nave.metrics import CorLocThresholds
from encoderscope.nave.names import NAME_IMAGES, NAME_TOP, NamingConfig

METHODS = ("kmeans", "pca", "agglomerative", "attention")
SCOPES = ("image", "dataset")
FIT_POSITIONS = 20000
GALLERY_SIZE = 8


def _pixels(name: str, value: Any, keywords: dict[str, Any]) -> int | str | None:
    """A size option: a positive number of pixels, or one of the ``keywords`` (text -> value)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in keywords:
            return keywords[text]
        if not text.isdigit():
            choices = ", ".join(repr(k) for k in keywords)
            raise ParameterError(f"--{name.replace('_', '-')} must be a number of pixels, {choices}, got {value!r}")
        value = int(text)
    if value is None or value == "default":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive number of pixels or None, got {value!r}")
    return value


def _layers(value: Any) -> tuple[str | int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    parts = tuple(part.strip() if isinstance(part, str) else part for part in value)
    return tuple(part for part in parts if part != "") or None


def _choice(name: str, value: str, choices: tuple[str, ...], what: str | None = None) -> None:
    if value not in choices:
        raise ParameterError(f"unknown {what or name} {value!r}; choose one of {', '.join(choices)}")


@dataclass(frozen=True)
class NaveConfig(CaptureConfig):
    """A NAVE run: the encoder and images, the layers, K and the clustering (docs/methods/nave.md)."""

    model: str | None = option(None, help=HELP_MODEL)
    images: tuple[str, ...] = option((), help="Image files, folders, .txt lists or zoo:photos.")
    layers: tuple[str | int, ...] | None = option(
        None, sep=",", help="Layers shallow to deep, comma-separated names, globs or depth indices (default: the "
        "last block or stage).",
    )
    k: int | str = option(
        5, help="Concepts per map: an integer >= 2, 'auto' (reference inertia-drop rule, k=3..10) or 'silhouette'."
    )
    method: str = option("kmeans", help="kmeans | pca | agglomerative | attention (ViT heads).")
    scope: str = option(
        "image", help="image (one clustering per image, the paper) | dataset (one shared clustering, fitted on a "
        "sample, streamed).",
    )
    seed: int = option(0, help=HELP_SEED)
    backend: str = option(
        "auto",
        help="Clustering back-end: auto (all images of a batch at once in torch on the encoder's device) | faiss "
        "(per image, CPU) | torch (per image) | sklearn.",
    )
    resample: str = option(
        "bicubic", help="bicubic (reference: to the first layer's grid) | bilinear-input (departure: to the input "
        "resolution).",
    )
    batch_size: int = option(8, help="Images per forward pass.")
    n_init: int = option(
        DEFAULT_N_INIT, help="k-means++ starts per clustering; the lowest inertia wins (default 1, as the reference)."
    )
    fit_positions: int = option(FIT_POSITIONS, help="Dataset scope: positions in the fit sample.")
    heads: tuple[int, ...] | None = option(
        None, sep=",", help="Attention method: comma-separated head indices (default all)."
    )
    random_init: bool = option(False, help=HELP_RANDOM_INIT)
    arch: str | None = option(None, help=HELP_ARCH)
    size: int | str | None = option(
        "default", help="Shorter side fed to the encoder in px, 'native' (no resize, as the reference), or "
        "'default' (the encoder's, 224 for the zoo).",
    )
    max_side: int | str | None = option(
        "default", help="Downscale images whose longer side would exceed this (px); 'default': the encoder's "
        "(1024), 'none': no cap.",
    )
    gallery_size: int = option(GALLERY_SIZE, help="Dataset scope: images per concept in the gallery.")
    naming: NamingConfig = option(factory=NamingConfig, help="Concept names (--name-concepts).")

    def check(self) -> None:
        super().check()
        self._set("k", parse_k(self.k))
        self._set("layers", _layers(self.layers))
        if isinstance(self.images, str):
            self._set("images", (self.images,))
        self._set("images", tuple(str(image) for image in self.images))
        if self.heads is not None:
            self._set("heads", tuple(int(h) for h in self.heads))
        _choice("method", self.method, METHODS)
        _choice("scope", self.scope, SCOPES)
        _choice("backend", self.backend, ("auto", *BACKENDS), "k-means back-end")
        _choice("resample", self.resample, RESAMPLE_MODES, "resample mode")
        if self.fit_positions < 2:
            raise ParameterError(f"fit_positions must be at least 2, got {self.fit_positions}")
        for name in ("batch_size", "n_init", "gallery_size"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, got {getattr(self, name)}")
        self._set("size", _pixels("size", self.size, {"default": "default", "native": None}))
        self._set("max_side", _pixels("max_side", self.max_side, {"default": "default", "none": None}))


NAMING_FIELDS = tuple(f.name for f in dataclasses.fields(NamingConfig))
"""The naming options, left off the commands that do not name concepts (``compare``, ``corloc``)."""


def _no_naming(nave: NaveConfig, what: str) -> None:
    if nave.naming.name_concepts:
        raise ParameterError(f"{what} does not name concepts; name a NAVE result with result.name_concepts(...)")


@dataclass(frozen=True)
class CompareConfig(Config):
    """A comparison: several models (and superpixel baselines) on the same images, one NAVE configuration."""

    models: tuple[str, ...] = option(
        (), help="Two or more model specs; 'random-init:SPEC' builds SPEC without weights; 'baseline:slic' / "
        "'baseline:felzenszwalb' are superpixel maps.",
    )
    baselines: tuple[str, ...] = option(
        (), flags=("--baseline",), help="Add a baseline: slic | felzenszwalb (repeatable)."
    )
    nave: NaveConfig = option(factory=NaveConfig, help="The NAVE options of every model.")

    def check(self) -> None:
        for name in self.baselines:
            _choice("baseline", name, BASELINES)
        _no_naming(self.nave, "a comparison")
        if self.nave.model is not None:
            raise ParameterError("a comparison takes its models from 'models', not from the NAVE option 'model'")


@dataclass(frozen=True)
class CorLocConfig(Config):
    """A localisation run (``encoderscope corloc``): NAVE maps of an annotated dataset, scored with CorLoc and, where
    masks exist, mask IoU (docs/methods/corloc.md). The CorLoc rule's thresholds are :class:`CorLocThresholds`."""

    dataset: str | None = option(None, help="VOC folder (Annotations/, JPEGImages/) or a COCO json file.")
    coco_images: str | None = option(None, help="Image folder of a COCO json.")
    image_set: str | None = option(None, help="VOC ImageSets/Main list name (e.g. trainval).")
    limit: int | None = option(None, help="Only the first N images.")
    classes: tuple[str, ...] | None = option(None, sep=",", help="Only these object classes, comma-separated.")
    no_hard: bool = option(False, help="Drop difficult and truncated boxes (VOC).")
    min_area: float | None = option(
        None, help="Keep components larger than this many pixels (default 784; with --relative a fraction of the "
        "image area, default 784 / (375 x 500)).",
    )
    border: float | None = option(
        None, help="Clear a border band this many pixels wide (default 14; with --relative a fraction of the "
        "shorter side, default 14 / 375).",
    )
    relative: bool = option(
        False, help="Scale area and border with the image (784 px / 14 px on a 500x375 image)."
    )
    split_boxes: bool = option(False, help="The split-boxes variant (IoU > 0.5).")
    nave: NaveConfig = option(factory=NaveConfig, help="The NAVE options.")

    def check(self) -> None:
        _no_naming(self.nave, "a localisation run")
        if self.limit is not None and self.limit < 1:
            raise ParameterError(f"limit must be at least 1, got {self.limit}")
        for name in ("min_area", "border"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ParameterError(f"{name} must be >= 0, got {value}")
        if self.classes is not None:
            self._set("classes", tuple(self.classes) or None)

    def thresholds(self) -> CorLocThresholds:
        """The CorLoc rule's thresholds (the reference's pixel values, or their relative variant)."""
        base = CorLocThresholds.relative_default() if self.relative else CorLocThresholds()
        changes: dict[str, Any] = {"split_boxes": self.split_boxes}
        if self.min_area is not None:
            changes["min_area"] = float(self.min_area)
        if self.border is not None:
            changes["border"] = float(self.border)
        return dataclasses.replace(base, **changes)

    def box_filters(self) -> dict[str, Any]:
        """Keyword arguments of ``AnnotatedDataset.gt_boxes``."""
        return {"no_hard": self.no_hard, "classes": list(self.classes) if self.classes else None}


FLOW_GRIDS = ("finer", "coarser")


def _dataset_scope() -> NaveConfig:
    return NaveConfig(scope="dataset")


@dataclass(frozen=True)
class FlowConfig(Config):
    """A concept flow across depths (``encoderscope flow``, docs/flow.md): one dataset-scope NAVE clustering per
    layer of ``nave.layers`` (one forward pass for all of them), then the transitions between consecutive depths.

    The NAVE scope is always ``"dataset"`` (concept ids must mean the same in every image); ``check()`` sets it.
    """

    nave: NaveConfig = option(
        factory=_dataset_scope, help="The NAVE options of every depth; 'layers' lists the depths, shallow to deep."
    )
    persist_share: float = option(
        0.5, help="A concept persists when more than this share of it goes to one concept that takes more than this "
        "share of its positions from it (0.5 <= value < 1).",
    )
    branch_share: float = option(
        0.25, help="A concept splits when two or more concepts each take at least this share of it; a concept is a "
        "merge when two or more concepts each give at least this share of it (0 < value <= 0.5).",
    )
    grid: str = option(
        "finer", help="Common grid of two depths: finer (the coarser map is repeated, nearest; every position "
        "counts) | coarser (the finer map is sampled, nearest).",
    )

    def check(self) -> None:
        if self.nave.scope != "dataset":
            self._set("nave", self.nave.replace(scope="dataset"))
        if self.nave.method == "attention":
            raise ParameterError("concept flow needs a clustering at each depth; method 'attention' labels heads")
        if not 0.5 <= self.persist_share < 1:
            raise ParameterError(f"persist_share must be in [0.5, 1), got {self.persist_share}")
        if not 0 < self.branch_share <= 0.5:
            raise ParameterError(f"branch_share must be in (0, 0.5], got {self.branch_share}")
        _choice("grid", self.grid, FLOW_GRIDS, "flow grid")


__all__ = [
    "BASELINES",
    "FIT_POSITIONS",
    "FLOW_GRIDS",
    "GALLERY_SIZE",
    "METHODS",
    "NAME_IMAGES",
    "NAME_TOP",
    "NAMING_FIELDS",
    "SCOPES",
    "CompareConfig",
    "CorLocConfig",
    "FlowConfig",
    "NamingConfig",
    "NaveConfig",
]
