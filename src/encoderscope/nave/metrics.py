"""Localisation metrics for concept maps: CorLoc (docs/methods/corloc.md, code-exact) and mask IoU / mIoU.

CorLoc, per image:

1. for every cluster label of the (H, W) label map, split its mask into 4-connected components
   (``skimage.measure.label(mask, connectivity=1)``);
2. keep components whose area is larger than ``min_area`` (784 px = 14·14·4), counted before step 3;
3. zero a ``border``-pixel band (14 px) on all four sides and drop components that become empty;
4. a component's box is the tight box ``[xmin, ymin, xmax, ymax]`` of its remaining pixels (pixel indices);
5. the image's IoU is the best YOLO-style IoU (eps 1e-7) of any component box against any ground-truth box; the
   image is correct when that IoU is >= 0.5 (``split_boxes``: argmax of the GT x component IoU matrix, correct when
   > 0.5); an image without any surviving component is wrong with IoU 0;
6. CorLoc = 100 x the mean of the per-image correct flags.

The component is chosen *with the ground truth*, so CorLoc here is an upper-bound-style alignment score, not an
unsupervised single-box prediction; it is not comparable with LOST's CorLoc.

Example:
    >>> sppx = np.zeros((100, 100), dtype=int)
    >>> sppx[20:60, 30:80] = 1
    >>> result = corloc([sppx], [np.array([[30.0, 20.0, 80.0, 60.0]])], CorLocThresholds(min_area=100, border=5))
    >>> result.corloc
    100.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope._io import csv_text, read_csv, read_json, write_json, write_text
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.runs import RunRecord

REFERENCE_MIN_AREA = 14 * 14 * 4
"""The reference area threshold in pixels (components must be larger than this)."""
REFERENCE_BORDER = 14
"""The reference border band in pixels."""
REFERENCE_IMAGE_HW = (375, 500)
"""A typical PASCAL VOC image (height, width); the relative thresholds equal the pixel ones on it."""
RELATIVE_MIN_AREA = REFERENCE_MIN_AREA / (REFERENCE_IMAGE_HW[0] * REFERENCE_IMAGE_HW[1])
"""784 / (375 x 500) = 0.00418: the area threshold as a fraction of the image area."""
RELATIVE_BORDER = REFERENCE_BORDER / min(REFERENCE_IMAGE_HW)
"""14 / 375 = 0.0373: the border band as a fraction of the shorter image side."""


@dataclass(frozen=True)
class CorLocThresholds:
    """CorLoc settings. Defaults are the reference's (784 px area, 14 px border, IoU >= 0.5).

    With ``relative=True``, ``min_area`` is a fraction of the image area and ``border`` a fraction of the shorter
    side (``CorLocThresholds.relative_default()`` gives the fractions equal to the pixel defaults on a 500 x 375 VOC
    image). ``split_boxes`` switches to the reference's ``--split_boxes`` rule (argmax of the GT x component IoU
    matrix, correct when IoU > threshold).
    """

    min_area: float = float(REFERENCE_MIN_AREA)
    border: float = float(REFERENCE_BORDER)
    relative: bool = False
    iou_threshold: float = 0.5
    split_boxes: bool = False

    @classmethod
    def relative_default(cls, **overrides: object) -> CorLocThresholds:
        """The resolution-relative variant of the reference thresholds."""
        values: dict[str, object] = {"min_area": RELATIVE_MIN_AREA, "border": RELATIVE_BORDER, "relative": True}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def pixel_thresholds(self, hw: tuple[int, int]) -> tuple[float, int]:
        """``(min_area_px, border_px)`` for an image of ``hw`` = (height, width)."""
        if self.min_area < 0 or self.border < 0:
            raise ParameterError(f"min_area and border must be >= 0, got {self.min_area} and {self.border}")
        if not self.relative:
            return float(self.min_area), round(self.border)
        return float(self.min_area) * hw[0] * hw[1], round(self.border * min(hw))


def box_iou(box: np.ndarray, boxes: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """YOLOv5-style IoU of one ``[x1, y1, x2, y2]`` box against (N, 4) boxes (widths are ``x2 - x1``, no +1).

    Example:
        >>> round(float(box_iou(np.array([0, 0, 10, 10]), np.array([[5, 0, 15, 10]]))[0]), 4)
        0.3333
    """
    b1 = np.asarray(box, dtype=np.float64).reshape(4)
    b2 = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    inter_w = np.clip(np.minimum(b1[2], b2[:, 2]) - np.maximum(b1[0], b2[:, 0]), 0, None)
    inter_h = np.clip(np.minimum(b1[3], b2[:, 3]) - np.maximum(b1[1], b2[:, 1]), 0, None)
    inter = inter_w * inter_h
    w1, h1 = b1[2] - b1[0], b1[3] - b1[1] + eps
    w2, h2 = b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1] + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    return inter / union


def connected_components(
    label_map: np.ndarray, min_area: float = REFERENCE_MIN_AREA, border: int = REFERENCE_BORDER
) -> list[np.ndarray]:
    """Boolean masks of the 4-connected components of every cluster that pass the area and border rules.

    Order: clusters by increasing label, components in ``skimage.measure.label`` order.

    Example:
        >>> m = np.zeros((10, 10), dtype=int); m[2:5, 2:5] = 1; m[6:9, 6:9] = 1
        >>> len(connected_components(m, min_area=8, border=0))  # the two squares of cluster 1, plus cluster 0
        3
    """
    from skimage.measure import label as label_components

    label_map = _check_label_map(label_map)
    kept: list[np.ndarray] = []
    for cluster in np.unique(label_map):
        components = label_components(label_map == cluster, connectivity=1)
        areas = np.bincount(components.ravel())
        for index in range(1, areas.size):
            if areas[index] <= min_area:
                continue
            mask = components == index
            if border > 0:
                mask[:border, :] = False
                mask[-border:, :] = False
                mask[:, :border] = False
                mask[:, -border:] = False
            if mask.any():
                kept.append(mask)
    return kept


def mask_box(mask: np.ndarray) -> np.ndarray:
    """The tight ``[xmin, ymin, xmax, ymax]`` box (pixel indices, inclusive) of a non-empty boolean mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ParameterError("mask_box needs a non-empty mask")
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float64)


def component_boxes(label_map: np.ndarray, config: CorLocThresholds | None = None) -> np.ndarray:
    """(M, 4) tight boxes of the components that CorLoc considers for ``label_map`` (see module doc)."""
    config = config or CorLocThresholds()
    min_area, border = config.pixel_thresholds(label_map.shape[:2])
    masks = connected_components(label_map, min_area, border)
    if not masks:
        return np.zeros((0, 4), dtype=np.float64)
    return np.stack([mask_box(m) for m in masks])


@dataclass(frozen=True)
class ImageLocalisation:
    """CorLoc outcome for one image: best IoU, correct flag, the chosen component box and matched GT index."""

    key: str
    iou: float
    correct: bool
    n_components: int
    n_gt: int
    box: tuple[float, float, float, float] | None
    gt_index: int | None


def localise_image(
    label_map: np.ndarray, gt_boxes: np.ndarray, config: CorLocThresholds | None = None, key: str = ""
) -> ImageLocalisation:
    """CorLoc's decision for one label map against its (N, 4) ground-truth boxes (N >= 1).

    Example:
        >>> m = np.zeros((64, 64), dtype=int); m[10:40, 10:40] = 1
        >>> localise_image(m, np.array([[10, 10, 40, 40]]), CorLocThresholds(min_area=50, border=2)).correct
        True
    """
    config = config or CorLocThresholds()
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if gt.shape[0] == 0:
        raise ParameterError(f"image {key or '?'} has no ground-truth box")
    boxes = component_boxes(np.asarray(label_map), config)
    if boxes.shape[0] == 0:
        return ImageLocalisation(key, 0.0, False, 0, gt.shape[0], None, None)
    ious = np.stack([box_iou(b, gt) for b in boxes])  # (components, gt)
    if config.split_boxes:
        gt_index, component = np.unravel_index(int(np.argmax(ious.T)), ious.T.shape)
        best = float(ious[component, gt_index])
        correct = best > config.iou_threshold
    else:
        per_component = ious.max(axis=1)
        component = int(np.argmax(per_component))
        gt_index = int(np.argmax(ious[component]))
        best = float(per_component[component])
        correct = best >= config.iou_threshold
    box = tuple(float(v) for v in boxes[component])
    return ImageLocalisation(key, best, bool(correct), boxes.shape[0], gt.shape[0], box, int(gt_index))  # type: ignore[arg-type]


@dataclass(repr=False)
class CorLocResult:
    """CorLoc over a set of images: ``corloc`` in percent, one :class:`ImageLocalisation` per evaluated image."""

    corloc: float
    images: list[ImageLocalisation] = field(repr=False)
    config: CorLocThresholds
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        """Number of evaluated images."""
        return len(self.images)

    def __repr__(self) -> str:
        return f"CorLocResult(CorLoc {self.corloc:.1f} % on {self.n_images} images)"

    figure = drawn_by(
        "encoderscope.report.nave:corloc_figure",
        "A matplotlib figure: every image's best IoU against the threshold.",
    )
    _repr_html_ = drawn_by("encoderscope.report.nave:corloc_html", "The notebook view (HTML).")

    CSV_HEADER = ("key", "iou", "correct", "n_components", "n_gt", "xmin", "ymin", "xmax", "ymax", "gt_index")

    def to_csv(self) -> str:
        """Per-image rows: key, iou, correct, n_components, n_gt, box, gt_index."""
        rows = []
        for row in self.images:
            box = list(row.box) if row.box is not None else ["", "", "", ""]
            gt_index = "" if row.gt_index is None else row.gt_index
            rows.append([row.key, f"{row.iou:.6f}", int(row.correct), row.n_components, row.n_gt, *box, gt_index])
        return csv_text(self.CSV_HEADER, rows, float_format=None)

    def summary(self) -> dict[str, Any]:
        """CorLoc, the number of images, the thresholds and the skipped images (for run records)."""
        return {"corloc": self.corloc, "n_images": self.n_images, "thresholds": asdict(self.config),
                "skipped": [{"key": k, "reason": r} for k, r in self.skipped]}

    def save(self, directory: str | Path) -> Path:
        """Write ``corloc.csv`` (per image) and ``run.json`` (thresholds, CorLoc, skipped) into ``directory``."""
        out = Path(directory)
        write_text(out / "corloc.csv", self.to_csv())
        RunRecord.create("corloc", asdict(self.config), skipped=self.skipped,
                         details={"result": "CorLocResult", "corloc": self.summary()}).write(out)
        return out

    @classmethod
    def read(cls, directory: str | Path, summary: dict[str, Any]) -> CorLocResult:
        """The result from ``corloc.csv`` and its :meth:`summary` (IoUs as written, to 6 decimals)."""
        rows = []
        for row in read_csv(Path(directory) / "corloc.csv"):
            box = None if row["xmin"] == "" else tuple(float(row[c]) for c in ("xmin", "ymin", "xmax", "ymax"))
            rows.append(ImageLocalisation(
                row["key"], float(row["iou"]), row["correct"] == "1", int(row["n_components"]), int(row["n_gt"]),
                box, None if row["gt_index"] == "" else int(row["gt_index"]),  # type: ignore[arg-type]
            ))
        skipped = [(entry["key"], entry["reason"]) for entry in summary["skipped"]]
        return cls(100.0 * float(np.mean([r.correct for r in rows])), rows, CorLocThresholds(**summary["thresholds"]),
                   skipped)

    @classmethod
    def load(cls, directory: str | Path) -> CorLocResult:
        """A result written by :meth:`save`."""
        run = RunRecord.read(directory, "corloc", "CorLoc scores", result="CorLocResult")
        return cls.read(directory, run.details["corloc"])


def corloc(
    label_maps: Sequence[np.ndarray],
    gt_boxes: Sequence[np.ndarray],
    config: CorLocThresholds | None = None,
    keys: Sequence[str] | None = None,
) -> CorLocResult:
    """CorLoc (percent) over images: ``label_maps[i]`` (H, W) against ``gt_boxes[i]`` (N_i, 4).

    Images without ground-truth boxes are skipped (listed in ``.skipped``), as the reference skips images left
    without boxes after filtering. See the module doc for the rule.
    """
    config = config or CorLocThresholds()
    if len(label_maps) != len(gt_boxes):
        raise ParameterError(f"{len(label_maps)} label maps but {len(gt_boxes)} ground-truth box sets")
    names = list(keys) if keys is not None else [str(i) for i in range(len(label_maps))]
    if len(names) != len(label_maps):
        raise ParameterError(f"{len(names)} keys for {len(label_maps)} label maps")
    rows: list[ImageLocalisation] = []
    skipped: list[tuple[str, str]] = []
    for name, label_map, boxes in zip(names, label_maps, gt_boxes, strict=True):
        gt = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if gt.shape[0] == 0:
            skipped.append((name, "no ground-truth box"))
            continue
        rows.append(localise_image(label_map, gt, config, name))
    if not rows:
        raise ParameterError("CorLoc needs at least one image with a ground-truth box")
    score = 100.0 * float(np.mean([r.correct for r in rows]))
    return CorLocResult(score, rows, config, skipped)


def _check_label_map(label_map: np.ndarray) -> np.ndarray:
    array = np.asarray(label_map)
    if array.ndim != 2 or array.size == 0:
        raise ParameterError(f"a label map must be a non-empty (H, W) array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ParameterError("a label map must hold integer cluster labels")
        array = array.astype(np.int64)
    return array


def _overlap_iou(label_map: np.ndarray, segments: np.ndarray, ignore_index: int | None):
    """IoU matrix (clusters x segments) with the cluster and segment ids, ignoring ``ignore_index`` pixels."""
    labels = _check_label_map(label_map)
    segs = np.asarray(segments)
    if segs.shape != labels.shape:
        raise ParameterError(f"label map {labels.shape} and segment map {segs.shape} differ in size")
    valid = np.ones(labels.shape, dtype=bool) if ignore_index is None else segs != ignore_index
    cluster_ids, cluster_idx = np.unique(labels[valid], return_inverse=True)
    segment_ids, segment_idx = np.unique(segs[valid], return_inverse=True)
    inter = np.zeros((cluster_ids.size, segment_ids.size), dtype=np.float64)
    np.add.at(inter, (cluster_idx, segment_idx), 1.0)
    union = inter.sum(axis=1, keepdims=True) + inter.sum(axis=0, keepdims=True) - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou, cluster_ids, segment_ids


def best_match_iou(
    label_map: np.ndarray, segments: np.ndarray, background: int | None = 0, ignore_index: int | None = 255
) -> dict[int, float]:
    """Per ground-truth object, the IoU of the best-matching cluster (each object picks its own cluster).

    ``segments`` is an (H, W) object-index map (VOC ``SegmentationObject``: 0 background, 1..n objects, 255 void).
    The background id is left out of the result; ``ignore_index`` pixels are left out of every IoU.

    Example:
        >>> seg = np.zeros((4, 4), dtype=int); seg[:2, :2] = 1
        >>> best_match_iou(np.array(seg), seg)
        {1: 1.0}
    """
    iou, _, segment_ids = _overlap_iou(label_map, segments, ignore_index)
    return {int(s): float(iou[:, j].max()) for j, s in enumerate(segment_ids) if background is None or s != background}


@dataclass(frozen=True)
class MaskMatch:
    """Hungarian matching of clusters to ground-truth segments: mIoU and the matched (segment, cluster, IoU)."""

    miou: float
    matches: tuple[tuple[int, int | None, float], ...]


def hungarian_miou(
    label_map: np.ndarray,
    segments: np.ndarray,
    include_background: bool = True,
    background: int = 0,
    ignore_index: int | None = 255,
) -> MaskMatch:
    """mIoU after a one-to-one Hungarian matching (maximum total IoU) of clusters to ground-truth segments.

    Every segment (objects, and the background unless ``include_background=False``) counts once; segments left
    without a cluster (fewer clusters than segments) score 0. Uses ``scipy.optimize.linear_sum_assignment``.

    Example:
        >>> seg = np.zeros((4, 4), dtype=int); seg[:2, :2] = 1
        >>> hungarian_miou(seg + 5, seg).miou
        1.0
    """
    from scipy.optimize import linear_sum_assignment

    iou, cluster_ids, segment_ids = _overlap_iou(label_map, segments, ignore_index)
    keep = np.array([include_background or s != background for s in segment_ids], dtype=bool)
    iou, segment_ids = iou[:, keep], segment_ids[keep]
    if segment_ids.size == 0:
        raise ParameterError("hungarian_miou needs at least one ground-truth segment")
    rows, cols = linear_sum_assignment(iou, maximize=True)
    matched = {int(c): (int(cluster_ids[r]), float(iou[r, c])) for r, c in zip(rows, cols, strict=True)}
    matches = tuple((int(s), *(matched.get(j, (None, 0.0)))) for j, s in enumerate(segment_ids))
    return MaskMatch(float(np.mean([m[2] for m in matches])), matches)  # type: ignore[arg-type]


@dataclass(repr=False)
class MaskScores:
    """Mask metrics over images: mean Hungarian ``miou`` per image, and ``best_iou`` averaged over all objects.

    ``images`` rows: (key, Hungarian mIoU, mean best-match IoU of its objects, number of objects).
    """

    miou: float
    best_iou: float
    images: list[tuple[str, float, float, int]] = field(repr=False)
    include_background: bool
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"MaskScores(mIoU {self.miou:.3f}, best-match IoU {self.best_iou:.3f} on {len(self.images)} images)"

    def to_csv(self) -> str:
        """Per-image rows: key, miou, best_iou, n_objects."""
        rows = [[key, f"{miou:.6f}", f"{best:.6f}", count] for key, miou, best, count in self.images]
        return csv_text(["key", "miou", "best_iou", "n_objects"], rows)

    def save(self, directory: str | Path) -> Path:
        """Write ``masks.csv`` (per image) and ``masks.json`` (the means, settings and skipped images)."""
        out = Path(directory)
        write_text(out / "masks.csv", self.to_csv())
        write_json(
            out / "masks.json",
            {
                "metric": "mask_iou",
                "miou": self.miou,
                "best_iou": self.best_iou,
                "n_images": len(self.images),
                "include_background": self.include_background,
                "skipped": [{"key": k, "reason": r} for k, r in self.skipped],
            },
        )
        return out

    @classmethod
    def load(cls, directory: str | Path) -> MaskScores:
        """Scores written by :meth:`save` (per-image values as written, to 6 decimals)."""
        out = Path(directory)
        info = read_json(out / "masks.json")
        rows = [(r["key"], float(r["miou"]), float(r["best_iou"]), int(r["n_objects"]))
                for r in read_csv(out / "masks.csv")]
        skipped = [(entry["key"], entry["reason"]) for entry in info["skipped"]]
        return cls(float(info["miou"]), float(info["best_iou"]), rows, bool(info["include_background"]), skipped)


def mask_scores(
    label_maps: Sequence[np.ndarray],
    segment_maps: Sequence[np.ndarray | None],
    keys: Sequence[str] | None = None,
    include_background: bool = True,
    ignore_index: int | None = 255,
) -> MaskScores:
    """Hungarian mIoU and best-match IoU over images; images whose segment map is None are skipped.

    Example:
        >>> seg = np.zeros((4, 4), dtype=int); seg[:2, :2] = 1
        >>> scores = mask_scores([seg], [seg])
        >>> scores.miou, scores.best_iou
        (1.0, 1.0)
    """
    if len(label_maps) != len(segment_maps):
        raise ParameterError(f"{len(label_maps)} label maps but {len(segment_maps)} segment maps")
    names = list(keys) if keys is not None else [str(i) for i in range(len(label_maps))]
    rows: list[tuple[str, float, float, int]] = []
    skipped: list[tuple[str, str]] = []
    object_ious: list[float] = []
    for name, label_map, segments in zip(names, label_maps, segment_maps, strict=True):
        if segments is None:
            skipped.append((name, "no object mask"))
            continue
        best = best_match_iou(label_map, segments, ignore_index=ignore_index)
        match = hungarian_miou(label_map, segments, include_background, ignore_index=ignore_index)
        object_ious.extend(best.values())
        rows.append((name, match.miou, float(np.mean(list(best.values()))) if best else 0.0, len(best)))
    if not rows:
        raise ParameterError("mask metrics need at least one image with an object mask")
    mean_best = float(np.mean(object_ious)) if object_ious else 0.0
    return MaskScores(float(np.mean([r[1] for r in rows])), mean_best, rows, include_background, skipped)
