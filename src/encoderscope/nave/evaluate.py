"""Localisation scores of NAVE concept maps on an annotated dataset (VOC folder or COCO json).

Runs :func:`encoderscope.nave.pipeline.nave_layer_sets` once per layer set on the dataset's images (one forward pass
per batch for all sets), then scores each set's label maps with CorLoc (docs/methods/corloc.md) and, where object masks
exist, best-match IoU and Hungarian mIoU.

Example:
    >>> from encoderscope.data.voc import open_voc                              # doctest: +SKIP
    >>> scores = evaluate_localisation("zoo:dinov2-vits14", open_voc("scenes/"), [["blocks.11"]], k=5)  # doctest: +SKIP
    >>> scores[0].corloc.corloc                                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from encoderscope._io import write_json
from encoderscope.nave.metrics import CorLocConfig, CorLocResult, MaskScores, corloc, mask_scores
from encoderscope.nave.result import NaveResult


@dataclass
class LocalisationScores:
    """CorLoc and mask scores of one NAVE configuration on one dataset."""

    result: NaveResult
    corloc: CorLocResult
    masks: MaskScores | None

    def summary(self) -> dict[str, Any]:
        """The headline numbers."""
        return {
            "name": self.result.name,
            "corloc": self.corloc.corloc,
            "n_images": self.corloc.n_images,
            "miou": None if self.masks is None else self.masks.miou,
            "best_iou": None if self.masks is None else self.masks.best_iou,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``corloc.csv``, ``masks.csv`` (when masks exist), the NAVE run record and ``scores.json``."""
        folder = Path(directory)
        self.corloc.save(folder)
        if self.masks is not None:
            self.masks.save(folder)
        write_json(folder / "scores.json", {**self.summary(), "nave": self.result.config})
        return folder


def score_maps(
    result: NaveResult, dataset: Any, config: CorLocConfig | None = None, **box_filters: Any
) -> LocalisationScores:
    """Score an existing :class:`NaveResult` computed on ``dataset.images()``.

    Args:
        result: NAVE maps of the dataset's images (records matched to annotations by key).
        dataset: an :class:`~encoderscope.data.voc.AnnotatedDataset`.
        config: CorLoc thresholds (default: the reference's pixel values).
        **box_filters: passed to ``dataset.gt_boxes`` (``no_hard=True``, ``classes=[...]``...).
    """
    by_key = {entry.key: (entry, boxes) for entry, boxes in zip(dataset, dataset.gt_boxes(**box_filters), strict=True)}
    maps, boxes, segments, keys = [], [], [], []
    for record in result.records:
        if record.key not in by_key:
            continue
        entry, gt = by_key[record.key]
        maps.append(record.label_map())
        boxes.append(gt)
        segments.append(entry.object_map())
        keys.append(record.key)
    has_masks = any(segment is not None for segment in segments)
    return LocalisationScores(
        result=result,
        corloc=corloc(maps, boxes, config, keys),
        masks=mask_scores(maps, segments, keys) if has_masks else None,
    )


def evaluate_localisation(
    encoder: Any,
    dataset: Any,
    layer_sets: Sequence[Any],
    k: int | str = 5,
    config: CorLocConfig | None = None,
    box_filters: dict[str, Any] | None = None,
    **nave_options: Any,
) -> list[LocalisationScores]:
    """NAVE maps for each layer set on ``dataset`` and their localisation scores (one entry per layer set)."""
    from encoderscope.nave.pipeline import nave_layer_sets

    results = nave_layer_sets(encoder, dataset.images(), list(layer_sets), k=k, **nave_options)
    return [score_maps(result, dataset, config, **(box_filters or {})) for result in results]
