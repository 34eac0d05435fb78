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

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from encoderscope._io import make_folder, write_json, write_text
from encoderscope.configs import resolve_config
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.nave.config import CorLocConfig
from encoderscope.nave.metrics import CorLocResult, CorLocThresholds, MaskScores, corloc, mask_scores
from encoderscope.nave.result import NaveResult
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call


@dataclass(repr=False)
class LocalisationScores(Recorded):
    """CorLoc and mask scores of one NAVE configuration on one dataset (with the NAVE result they score)."""

    result: NaveResult
    corloc: CorLocResult
    masks: MaskScores | None

    def __repr__(self) -> str:
        text = f"LocalisationScores({self.result.name!r}: CorLoc {self.corloc.corloc:.1f} % on {self.corloc.n_images}"
        if self.masks is not None:
            text += f" images, mask mIoU {self.masks.miou:.3f})"
        return text + (" images)" if self.masks is None else "")

    figure = drawn_by(
        "encoderscope.report.nave:localisation_figure",
        "A matplotlib figure: every image's best IoU against the CorLoc threshold.",
    )
    _repr_html_ = drawn_by("encoderscope.report.nave:localisation_html", "The notebook view (HTML).")

    def summary(self) -> dict[str, Any]:
        """The headline numbers."""
        return {
            "name": self.result.name,
            "corloc": self.corloc.corloc,
            "n_images": self.corloc.n_images,
            "miou": None if self.masks is None else self.masks.miou,
            "best_iou": None if self.masks is None else self.masks.best_iou,
        }

    def run_record(self) -> RunRecord:
        """The run record; ``details`` holds the CorLoc summary (thresholds, skipped images) and the headline."""
        run = self.run or RunRecord.create("corloc", {"thresholds": asdict(self.corloc.config)},
                                           seed=self.result.config.get("seed"))
        details = {"result": "LocalisationScores", "corloc": self.corloc.summary(), "scores": self.summary()}
        return run.replace(skipped=[*self.result.skipped, *self.corloc.summary()["skipped"]], details=details)

    def save(self, directory: str | Path) -> Path:
        """Write ``corloc.csv``, ``masks.csv`` and ``masks.json`` (when masks exist), ``scores.json``, the NAVE
        result under ``nave/`` (without pictures) and ``run.json``."""
        folder = make_folder(directory)
        write_text(folder / "corloc.csv", self.corloc.to_csv())
        if self.masks is not None:
            self.masks.save(folder)
        write_json(folder / "scores.json", {**self.summary(), "nave": self.result.config})
        self.result.save(folder / "nave", report=False)
        self.run_record().write(folder)
        return folder

    @classmethod
    def load(cls, directory: str | Path) -> LocalisationScores:
        """Scores written by :meth:`save`."""
        folder = Path(directory)
        run = RunRecord.read(folder, "corloc", "localisation scores", result="LocalisationScores")
        masks = MaskScores.load(folder) if (folder / "masks.json").is_file() else None
        return cls(NaveResult.load(folder / "nave"), CorLocResult.read(folder, run.details["corloc"]), masks, run=run)


def score_maps(
    result: NaveResult, dataset: Any, thresholds: CorLocThresholds | None = None, **box_filters: Any
) -> LocalisationScores:
    """Score an existing :class:`NaveResult` computed on ``dataset.images()``.

    Args:
        result: NAVE maps of the dataset's images (records matched to annotations by key).
        dataset: an :class:`~encoderscope.data.voc.AnnotatedDataset`.
        thresholds: CorLoc thresholds (default: the reference's pixel values).
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
        corloc=corloc(maps, boxes, thresholds, keys),
        masks=mask_scores(maps, segments, keys) if has_masks else None,
    )


def evaluate_localisation(
    encoder: Any,
    dataset: Any,
    layer_sets: Sequence[Any],
    k: int | str = 5,
    thresholds: CorLocThresholds | None = None,
    box_filters: dict[str, Any] | None = None,
    **nave_options: Any,
) -> list[LocalisationScores]:
    """NAVE maps for each layer set on ``dataset`` and their localisation scores (one entry per layer set)."""
    from encoderscope.nave.pipeline import nave_layer_sets

    results = nave_layer_sets(encoder, dataset.images(), list(layer_sets), k=k, **nave_options)
    return [score_maps(result, dataset, thresholds, **(box_filters or {})) for result in results]


def open_dataset(config: CorLocConfig) -> Any:
    """The annotated dataset of a :class:`CorLocConfig`: a VOC folder (``Annotations/*.xml``) or a COCO json file
    (with ``coco_images``)."""
    from encoderscope.data.voc import open_coco, open_voc

    if config.dataset is None:
        raise ParameterError("no dataset: set CorLocConfig.dataset (a VOC folder or a COCO json file)")
    if config.dataset.endswith(".json"):
        return open_coco(config.dataset, images_dir=config.coco_images, limit=config.limit)
    return open_voc(config.dataset, image_set=config.image_set, limit=config.limit)


def evaluate_corloc(
    encoder: Any = None,
    dataset: Any = None,
    *,
    config: CorLocConfig | None = None,
    progress: bool = True,
    device: Any = None,
    **options: Any,
) -> LocalisationScores:
    """``encoderscope corloc`` in Python: NAVE maps of an annotated dataset and their localisation scores.

    Args:
        encoder: a spec, module or Encoder (default: ``config.nave.model``).
        dataset: an :class:`~encoderscope.data.voc.AnnotatedDataset`, or the path of a VOC folder or a COCO json
            file (default: opened from ``config.dataset``).
        config: a :class:`~encoderscope.nave.config.CorLocConfig`; ``options`` (its fields and the NAVE ones)
            override it.
    """
    cfg = resolve_config(CorLocConfig, config, options)
    if isinstance(encoder, str):
        cfg = cfg.replace(model=encoder)
    model = encoder if encoder is not None else cfg.nave.model
    if model is None:
        raise ParameterError("no encoder: pass one or set CorLocConfig.nave.model")
    watch = Stopwatch()
    if isinstance(dataset, (str, os.PathLike)):
        cfg = cfg.replace(dataset=os.fspath(dataset))
        dataset = None
    data = dataset if dataset is not None else open_dataset(cfg)
    if not hasattr(data, "images"):
        raise ParameterError(f"dataset: expected an annotated dataset (open_voc/open_coco) or a path, got "
                             f"{type(data).__name__}")
    from encoderscope.nave.pipeline import nave_layer_sets

    (result,) = nave_layer_sets(model, data.images(), [cfg.nave.layers], config=cfg.nave, progress=progress,
                                device=device)
    scores = score_maps(result, data, cfg.thresholds(), **cfg.box_filters())
    scores.run = RunRecord.create("corloc", cfg, command=python_call("encoderscope.evaluate_corloc", cfg),
                                  seed=cfg.nave.seed, seconds=watch.seconds())
    return scores
