"""Concept scorers: one interface that turns probe images and concept words into P, an ``(N, M)`` matrix.

* :class:`ClipScorer` (``clip:MODEL[:PRETRAINED]``): an open_clip model; ``P = I T^T`` with L2-normalised image and
  text features and the raw concept strings (no prompt template), as CLIP-Dissect. ``PRETRAINED`` is an open_clip tag
  (needs a network the first time) or a local checkpoint file (read with ``weights_only=True``).
* :class:`LabelspaceScorer` (``labelspace``): an offline stand-in for CLIP, **not CLIP**: an ImageNet classifier's
  class probabilities combined with sentence embeddings of class names and concepts,
  ``P[n, m] = sum_c p(c | x_n) cos(e(class_c), e(concept_m))`` (default zoo:efficientnet-lite0 and
  all-MiniLM-L6-v2). It can only name what the classifier's label space expresses.
* :class:`AnnotationScorer` (``annotations:FILE``): a given matrix (labels or attributes of the probe set) from a
  ``.npy`` or ``.csv`` file (header row = concept names; an optional first column ``image`` keys the rows).

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
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from encoderscope import devices
from encoderscope._progress import progress_bar
from encoderscope.capture.inputs import iter_fixed_batches
from encoderscope.errors import ParameterError


class ConceptScorer(Protocol):
    """Anything with ``scores(items, concepts) -> Tensor[N, M]`` and a ``name``."""

    name: str

    def scores(self, items: Sequence[Any], concepts: Sequence[str]) -> torch.Tensor:
        """Concept scores of the probe ``items`` (``ImageItem``-like objects with ``.load()``)."""
        ...


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ClipScorer:
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
        return self.image_features(items) @ self.text_features(concepts).T


class LabelspaceScorer:
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
        probs = self.class_probabilities(items)
        classes = F.normalize(self.embed(list(self.encoder.class_names)).float(), dim=-1)
        words = F.normalize(self.embed(list(concepts)).float(), dim=-1)
        return probs @ devices.to_device(classes @ words.T, probs.device)


class AnnotationScorer:
    """A given ``(N, M)`` concept matrix; rows follow the probe order, or image keys when ``keys`` is given."""

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


def make_scorer(spec: str, device: devices.DeviceSpec = None, workers: int | None = None) -> ConceptScorer:
    """``clip:MODEL[:PRETRAINED]``, ``labelspace[:MODEL_SPEC]`` or ``annotations:FILE``; models go to ``device``,
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
        return AnnotationScorer.from_file(rest)
    raise ParameterError(
        f"unknown scorer {spec!r}; use clip:MODEL[:PRETRAINED], labelspace or annotations:FILE"
    )
