"""Concept scorers: one interface that turns probe images (or image regions) and concept words into P, an
``(N, M)`` matrix.

* :class:`ClipScorer` (``clip:MODEL[:PRETRAINED]``): an open_clip model; ``P = I T^T`` with L2-normalised image and
  text features and the raw concept strings (no prompt template), as CLIP-Dissect. ``PRETRAINED`` is an open_clip tag
  (needs a network the first time) or a local checkpoint file (read with ``weights_only=True``).
* :class:`LabelspaceScorer` (``labelspace``): an offline stand-in for CLIP, **not CLIP**: an ImageNet classifier's
  class probabilities combined with sentence embeddings of class names and concepts,
  ``P[n, m] = sum_c p(c | x_n) cos(e(class_c), e(concept_m))`` (default zoo:efficientnet-lite0 and
  all-MiniLM-L6-v2). It can only name what the classifier's label space expresses.
* :class:`AnnotationScorer` (``annotations:FILE``): a given matrix (labels or attributes of the probe set) from a
  ``.npy`` or ``.csv`` file (header row = concept names; an optional first column ``image`` keys the rows).
* :class:`MaskAnnotationScorer` (``annotations:FOLDER``, a VOC folder with ``SegmentationObject`` masks): per-pixel
  labels; ``P[n, m]`` is the fraction of the image's (or region's) pixels annotated with concept ``m``.

**Regions.** :meth:`ConceptScorer.score_regions` scores :class:`~encoderscope.dissect.regions.Region` s (an image and
a mask). The default, used by the CLIP and label-space scorers, scores the masked crops of the regions
(:func:`~encoderscope.dissect.regions.masked_crop`, outside the mask filled with the scorer's preprocessing mean)
with :meth:`~ConceptScorer.scores`. The mask annotations count the region's annotated pixels instead; an image-level
annotation matrix gives every region its image's row (``regional = False``: it cannot tell two regions of one image
apart). :func:`score_regions` applies the default to any object with ``scores`` only.

The CLIP and label-space scorers run where their models are (``device=`` when built from a spec, by default where
:func:`~encoderscope.devices.resolve_device` puts models) and return P on that device.

Example:
    >>> import torch
    >>> scorer = AnnotationScorer(torch.eye(2), ["cat", "dog"])
    >>> scorer.scores([None, None], ["cat", "dog"]).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from encoderscope import devices
from encoderscope._progress import progress_bar
from encoderscope.capture.inputs import iter_fixed_batches
from encoderscope.dissect.regions import CROP_MARGIN, GREY, Region, RegionCrop, mean_fill, resize_mask
from encoderscope.errors import ParameterError


class ConceptScorer(Protocol):
    """Anything with ``scores(items, concepts) -> Tensor[N, M]`` and a ``name``; ``score_regions`` and ``fill``
    have defaults (inherit from this class to get them, or call :func:`score_regions`)."""

    name: str
    fill: tuple[int, int, int] = GREY
    """RGB colour outside a region's mask in its crop (the preprocessing mean of the scorer's model)."""
    regional: bool = True
    """Whether two regions of one image can score differently (False for image-level annotations)."""

    def scores(self, items: Sequence[Any], concepts: Sequence[str]) -> torch.Tensor:
        """Concept scores of the probe ``items`` (``ImageItem``-like objects with ``.load()``)."""
        ...

    def score_regions(self, regions: Sequence[Region], concepts: Sequence[str]) -> torch.Tensor:
        """Concept scores ``(R, M)`` of image regions; by default :meth:`scores` of their masked crops."""
        return crop_scores(self, regions, concepts)


def crop_scores(
    scorer: Any, regions: Sequence[Region], concepts: Sequence[str], margin: float = CROP_MARGIN
) -> torch.Tensor:
    """``scorer.scores`` of the regions' masked crops (filled with ``scorer.fill``, :data:`~.regions.GREY` without
    one), decoded and cut by the input pipeline's workers."""
    fill = tuple(getattr(scorer, "fill", GREY))
    return scorer.scores([RegionCrop(region, fill, margin) for region in regions], concepts)  # type: ignore[arg-type]


def score_regions(scorer: Any, regions: Sequence[Region], concepts: Sequence[str]) -> torch.Tensor:
    """``scorer.score_regions`` when it has one, else :func:`crop_scores` (a scorer with ``scores`` only)."""
    method = getattr(scorer, "score_regions", None)
    return method(regions, concepts) if callable(method) else crop_scores(scorer, regions, concepts)


def _transform_mean(transform: Any) -> Sequence[float] | None:
    """The ``mean`` of the first ``Normalize`` of a torchvision ``Compose`` (open_clip's transforms), else None."""
    for step in getattr(transform, "transforms", [transform]):
        mean = getattr(step, "mean", None)
        if mean is not None and type(step).__name__ == "Normalize":
            return [float(v) for v in mean]
    return None


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ClipScorer(ConceptScorer):
    """CLIP concept scores from an open_clip model (see the module docstring).

    Args:
        model: an open_clip ``CLIP`` model (``encode_image``/``encode_text``).
        preprocess: PIL image -> tensor transform of that model.
        tokenizer: open_clip tokenizer of that model.
        name: description for run.json.
        batch_size: images per forward pass.
        workers: processes decoding the probe images (``None``: the input pipeline's default).
    """

    def __init__(
        self,
        model: Any,
        preprocess: Callable[[Any], torch.Tensor],
        tokenizer: Any,
        name: str = "clip",
        batch_size: int = 32,
        workers: int | None = None,
    ) -> None:
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.workers = workers
        self.fill = mean_fill(_transform_mean(preprocess))
        self.progress = True

    @property
    def device(self) -> torch.device:
        """Where the CLIP model is."""
        return devices.module_device(self.model)

    @classmethod
    def from_spec(cls, spec: str, device: devices.DeviceSpec = None) -> ClipScorer:
        """``MODEL[:PRETRAINED]``: an open_clip architecture and a tag or a local checkpoint file, on ``device``."""
        from encoderscope._optional import require

        target = devices.resolve_device(device)
        open_clip = require("open_clip", "clip")

        from encoderscope.zoo.open_clip import create_open_clip

        arch, _, pretrained = spec.partition(":")
        model, preprocess = create_open_clip(arch, pretrained or None)
        return cls(model.to(target), preprocess, open_clip.get_tokenizer(arch), name=f"clip:{spec}")

    @torch.inference_mode()
    def text_features(self, concepts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text features of the raw concept strings (on the model's device)."""
        device = self.device
        feats = [
            self.model.encode_text(devices.to_device(self.tokenizer(list(chunk)), device))
            for chunk in _batches(concepts, 256)
        ]
        return F.normalize(torch.cat(feats).float(), dim=-1)

    @torch.inference_mode()
    def image_features(self, items: Sequence[Any], progress: bool = True) -> torch.Tensor:
        """L2-normalised image features (on the model's device)."""
        device = self.device
        feats = []
        with progress_bar("CLIP image features", total=len(items), enabled=progress) as advance:
            for pixels in iter_fixed_batches(items, self.preprocess, self.batch_size, self.workers, device):
                feats.append(self.model.encode_image(devices.to_device(pixels, device)).float())
                advance(len(pixels))
        return F.normalize(torch.cat(feats), dim=-1)

    def scores(self, items: Sequence[Any], concepts: Sequence[str]) -> torch.Tensor:
        """``P = I T^T`` (cosines), ``(N, M)``."""
        return self.image_features(items, progress=self.progress) @ self.text_features(concepts).T


class LabelspaceScorer(ConceptScorer):
    """Offline stand-in for CLIP (not CLIP): classifier probabilities times class-concept text cosines.

    Args:
        encoder: an :class:`~encoderscope.zoo.Encoder` with ``classifier`` and ``class_names``, or a spec
            (default ``zoo:efficientnet-lite0``).
        embed: text -> L2-normalised embeddings (default: all-MiniLM-L6-v2 on the classifier's device,
            :func:`encoderscope.dissect.text.embed_texts`).
        device: where the classifier runs (default: an Encoder stays where it is, a spec goes to
            :func:`~encoderscope.devices.resolve_device`'s default).
        workers: processes decoding the probe images (``None``: the input pipeline's default).
    """

    def __init__(
        self,
        encoder: Any = "zoo:efficientnet-lite0",
        embed: Callable[[Sequence[str]], torch.Tensor] | None = None,
        batch_size: int = 16,
        device: devices.DeviceSpec = None,
        workers: int | None = None,
    ) -> None:
        if isinstance(encoder, str):
            from encoderscope.zoo import load_model

            encoder = load_model(encoder, device=device)
        elif device is not None:
            encoder.to(devices.resolve_device(device))
        if encoder.classifier is None or not encoder.class_names:
            raise ParameterError(f"labelspace needs a classifier with class names; {encoder.spec} has none")
        self.encoder = encoder
        if embed is None:
            from encoderscope.dissect.text import embed_texts

            embed = functools.partial(embed_texts, device=encoder.device)
        self.embed = embed
        self.batch_size = batch_size
        self.workers = workers
        self.name = f"labelspace:{encoder.spec}"
        self.fill = mean_fill(encoder.preprocess.mean)
        self.progress = True

    @torch.inference_mode()
    def class_probabilities(self, items: Sequence[Any], progress: bool = True) -> torch.Tensor:
        """``p(c | x_n)``, ``(N, C)``, on the classifier's device."""
        device = self.encoder.device
        probs = []
        with progress_bar("classifying probe images", total=len(items), enabled=progress) as advance:
            classify = self.encoder.preprocess.classify
            for pixels in iter_fixed_batches(items, classify, self.batch_size, self.workers, device):
                logits = self.encoder.classifier(devices.to_device(pixels, device))
                probs.append(torch.softmax(logits.float(), dim=-1))
                advance(len(pixels))
        return torch.cat(probs)

    def scores(self, items: Sequence[Any], concepts: Sequence[str]) -> torch.Tensor:
        """``P = p(c|x) @ cos(e(class), e(concept))``, ``(N, M)``."""
        probs = self.class_probabilities(items, progress=self.progress)
        classes = F.normalize(self.embed(list(self.encoder.class_names)).float(), dim=-1)
        words = F.normalize(self.embed(list(concepts)).float(), dim=-1)
        return probs @ devices.to_device(classes @ words.T, probs.device)


class AnnotationScorer(ConceptScorer):
    """A given ``(N, M)`` concept matrix; rows follow the probe order, or image keys when ``keys`` is given.

    A region gets the row of its image (image-level labels say nothing about where in the image a concept is:
    ``regional`` is False)."""

    regional = False

    def __init__(
        self,
        matrix: Any,
        concepts: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        name: str = "annotations",
    ) -> None:
        self.matrix = torch.as_tensor(np.asarray(matrix, dtype=np.float32))
        if self.matrix.dim() != 2:
            raise ParameterError(
                f"annotations must be an (N, M) matrix, got shape {tuple(self.matrix.shape)}"
            )
        self.concepts = list(concepts) if concepts is not None else None
        if self.concepts is not None and len(self.concepts) != self.matrix.shape[1]:
            raise ParameterError(
                f"annotations have {self.matrix.shape[1]} columns but {len(self.concepts)} concept names"
            )
        self.keys = list(keys) if keys is not None else None
        self.name = name

    @classmethod
    def from_labels(
        cls, labels: Sequence[int], class_names: Sequence[str], keys: Sequence[str] | None = None
    ) -> AnnotationScorer:
        """One-hot class labels as annotations (``P[n, m] = 1`` when image n has class m)."""
        eye = np.eye(len(class_names), dtype=np.float32)
        return cls(eye[np.asarray(labels, dtype=np.int64)], class_names, keys, name="annotations:labels")

    @classmethod
    def from_file(cls, path: str | Path) -> AnnotationScorer:
        """Read ``.npy`` (no names) or ``.csv`` (header = concept names, optional first column ``image``)."""
        file = Path(path)
        if not file.is_file():
            raise ParameterError(f"annotation file not found: {file}")
        if file.suffix == ".npy":
            return cls(np.load(file, allow_pickle=False), name=f"annotations:{file.name}")
        with file.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2:
            raise ParameterError(f"{file} needs a header row of concept names and at least one row")
        header, body = rows[0], rows[1:]
        keyed = header[0].strip().lower() in ("image", "key", "image_id")
        try:
            values = [[float(v) for v in (row[1:] if keyed else row)] for row in body]
        except ValueError as err:
            raise ParameterError(f"{file}: non-numeric annotation ({err})") from None
        keys = [row[0] for row in body] if keyed else None
        return cls(values, header[1:] if keyed else header, keys, name=f"annotations:{file.name}")

    def scores(self, items: Sequence[Any], concepts: Sequence[str]) -> torch.Tensor:
        """The matrix rows for ``items`` (by key when keyed), columns in the order of ``concepts``."""
        matrix = self.matrix
        if self.keys is not None:
            where = {key: i for i, key in enumerate(self.keys)}
            missing = [item.key for item in items if item.key not in where]
            if missing:
                raise ParameterError(
                    f"annotations have no row for {len(missing)} image(s), e.g. {missing[0]}"
                )
            matrix = matrix[[where[item.key] for item in items]]
        elif matrix.shape[0] != len(items):
            raise ParameterError(f"annotations have {matrix.shape[0]} rows for {len(items)} probe images")
        if self.concepts is not None and list(concepts) != self.concepts:
            col = {c: i for i, c in enumerate(self.concepts)}
            unknown = [c for c in concepts if c not in col]
            if unknown:
                raise ParameterError(f"annotations have no column for concept {unknown[0]!r}")
            matrix = matrix[:, [col[c] for c in concepts]]
        elif matrix.shape[1] != len(concepts):
            raise ParameterError(f"annotations have {matrix.shape[1]} columns for {len(concepts)} concepts")
        return matrix

    def score_regions(self, regions: Sequence[Region], concepts: Sequence[str]) -> torch.Tensor:
        """The rows of the regions' images (the annotations must be keyed by image)."""
        if self.keys is None:
            raise ParameterError(
                f"{self.name} has no image column, so its rows cannot be matched to regions; give a csv with an "
                "'image' column, or a VOC folder with SegmentationObject masks"
            )
        return self.scores([region.item for region in regions], concepts)


def _alternatives(text: str) -> set[str]:
    """Spellings a word is matched by: lower-case letters and digits only, whole and each ``/`` alternative."""
    parts = [text, *text.split("/")]
    return {norm for norm in ("".join(ch for ch in part.lower() if ch.isalnum()) for part in parts) if norm}


def match_classes(concepts: Sequence[str], classes: Sequence[str]) -> list[list[int]]:
    """For each concept word, the annotated classes it names: equal once lower-cased with only letters and digits
    kept, whole or any ``/`` alternative (``"T-shirt/top"`` names ``tshirt``, ``"Ankle boot"`` ``ankle-boot``).

    Example:
        >>> match_classes(["T-shirt/top", "Ankle boot", "sky"], ["ankle-boot", "tshirt"])
        [[1], [0], []]
    """
    spelled = [_alternatives(name) for name in classes]
    return [[c for c, forms in enumerate(spelled) if forms & _alternatives(word)] for word in concepts]


class MaskAnnotationScorer(ConceptScorer):
    """Per-pixel annotations: a region's score for a concept word is the fraction of the region's pixels annotated
    with a class that word names (:func:`match_classes`); unannotated pixels count in the region but in no class.

    Args:
        maps: image key -> ``(H, W)`` integer class-index map (``-1`` = unannotated) or a callable returning one;
            a key is also found by its file stem (``"000001.jpg"`` -> ``"000001"``).
        classes: the class names of the indices.
        name: description for run.json.

    Example:
        >>> from encoderscope.data.images import ImageItem
        >>> scorer = MaskAnnotationScorer({"a": np.array([[0, 0], [1, -1]])}, ["shirt", "bag"])
        >>> item = ImageItem("a.png", None, None)
        >>> region = Region(item, np.array([[1, 1], [1, 0]], bool))
        >>> scorer.score_regions([region], ["Shirt", "Bag", "sky"]).mul(3).round().tolist()  # 2/3, 1/3, 0
        [[2.0, 1.0, 0.0]]
    """

    def __init__(self, maps: dict[str, Any], classes: Sequence[str], name: str = "annotations") -> None:
        self.maps = dict(maps)
        self.classes = list(classes)
        self.concepts = list(classes)
        self.name = name

    @classmethod
    def from_voc(cls, folder: str | Path) -> MaskAnnotationScorer:
        """The images of a VOC folder that have ``SegmentationObject`` masks, each object's pixels labelled with its
        class (e.g. a folder written by ``encoderscope scenes``)."""
        from encoderscope.data.voc import open_voc
        from encoderscope.errors import ImageError

        try:
            dataset = open_voc(folder)
        except ImageError as err:
            raise ParameterError(f"annotations: {err}") from None
        masked = [entry for entry in dataset if entry.mask_path is not None]
        if not masked:
            raise ParameterError(
                f"annotations folder {folder} has no SegmentationObject masks, so it cannot label regions"
            )
        classes = sorted({obj.name for entry in masked for obj in entry.annotation.objects})
        index = {name: i for i, name in enumerate(classes)}
        maps = {entry.key: _VocClassMap(entry, tuple(index[o.name] for o in entry.annotation.objects))
                for entry in masked}
        return cls(maps, classes, name=f"annotations:{Path(folder).name}")

    def class_map(self, key: str) -> np.ndarray:
        """The ``(H, W)`` class-index map of an image (by key, else by file stem)."""
        found = self.maps.get(key)
        if found is None:
            found = self.maps.get(Path(key).stem)
        if found is None:
            raise ParameterError(f"{self.name} has no mask for image {key!r}")
        return np.asarray(found() if callable(found) else found)

    def _fractions(self, key: str, mask: np.ndarray | None, matches: list[list[int]]) -> list[float]:
        labels = self.class_map(key)
        if mask is not None:
            labels = labels[resize_mask(mask, labels.shape)]
        counts = np.bincount(labels.ravel() + 1, minlength=len(self.classes) + 1)[1:]
        total = max(1, labels.size)
        return [float(sum(counts[c] for c in classes)) / total for classes in matches]

    def _matches(self, concepts: Sequence[str]) -> list[list[int]]:
        matches = match_classes(concepts, self.classes)
        if not any(matches):
            raise ParameterError(
                f"none of the {len(concepts)} concepts names a class of {self.name} ({', '.join(self.classes[:8])})"
            )
        return matches

    def scores(self, items: Sequence[Any], concepts: Sequence[str]) -> torch.Tensor:
        """The fraction of each image's pixels annotated with each concept."""
        matches = self._matches(concepts)
        return torch.tensor([self._fractions(item.key, None, matches) for item in items], dtype=torch.float32)

    def score_regions(self, regions: Sequence[Region], concepts: Sequence[str]) -> torch.Tensor:
        """The fraction of each region's pixels annotated with each concept."""
        matches = self._matches(concepts)
        rows = [self._fractions(region.key, region.mask_array(), matches) for region in regions]
        return torch.tensor(rows, dtype=torch.float32).reshape(len(regions), len(concepts))


@dataclass(frozen=True)
class _VocClassMap:
    """The class-index map of one VOC image: its object map with object ``i`` replaced by its class index."""

    entry: Any
    object_classes: tuple[int, ...]

    def __call__(self) -> np.ndarray:
        objects = self.entry.object_map()
        lookup = np.full(256, -1, dtype=np.int64)
        lookup[1 : len(self.object_classes) + 1] = self.object_classes
        return lookup[objects]


def make_scorer(spec: str, device: devices.DeviceSpec = None, workers: int | None = None) -> ConceptScorer:
    """``clip:MODEL[:PRETRAINED]``, ``labelspace[:MODEL_SPEC]``, ``annotations:FILE`` or ``annotations:FOLDER`` (VOC
    with masks, :meth:`MaskAnnotationScorer.from_voc`); models go to ``device``,
    probe images are decoded by ``workers`` processes (the input pipeline, :mod:`encoderscope.capture.inputs`)."""
    kind, _, rest = spec.partition(":")
    if kind == "clip":
        if not rest:
            raise ParameterError(
                "clip scorer needs a model: clip:ViT-B-16:openai or clip:ViT-B-16:/path/ckpt.pt"
            )
        scorer = ClipScorer.from_spec(rest, device=device)
        scorer.workers = workers
        return scorer
    if kind == "labelspace":
        return LabelspaceScorer(rest or "zoo:efficientnet-lite0", device=device, workers=workers)
    if kind == "annotations":
        if not rest:
            raise ParameterError("annotations scorer needs a file: annotations:labels.csv")
        if Path(rest).is_dir():
            return MaskAnnotationScorer.from_voc(rest)
        return AnnotationScorer.from_file(rest)
    raise ParameterError(unknown_scorer(spec))


SCORER_KINDS = ("clip", "labelspace", "annotations")


def unknown_scorer(spec: str) -> str:
    """The one-line message for a scorer spec of no known kind."""
    return f"unknown scorer {spec!r}; use clip:MODEL[:PRETRAINED], labelspace or annotations:FILE"
