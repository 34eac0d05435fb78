"""Per-part image properties and their change from the first to the last step of a sweep (docs/methods/linking.md).

Per part mask (uint8 RGB image, boolean mask):

* **area**: pixels in the mask;
* **luminance**: mean over the mask of ``(0.299 R + 0.587 G + 0.114 B) / 3`` (R, G, B in 0..255, so at most 85);
* **entropy**: ``skimage.filters.rank.entropy`` of the grey image with ``disk(5)``; mean, std, min, max over the mask;
* **ellipses**: one per connected component (8-connectivity, as an external contour), from the component's second
  moments (skimage ``regionprops``; the reference fits ``cv2.fitEllipse`` to the contour): eccentricity
  ``sqrt(1 - minor^2 / major^2)`` and the angle of the major axis in degrees in [0, 180). Components of fewer than 5
  pixels get no ellipse (``fitEllipse`` needs 5 points).

Change scores from the first step (0) to the last (n):

* ``d_area = (A_n - A_0) / A_0`` (``A_0 = 0`` is replaced by 1); ``d_luminance = (L_n - L_0) / 85``;
  ``d_entropy = E_n - E_0`` (mean entropy);
* ``d_eccentricity``, ``d_angle``: per matched ellipse pair, averaged over the part's pairs. Ellipses are matched
  through the 4-connected components of ``mask_0 & mask_n``: each ellipse centre is assigned to the component whose
  bounding box contains it; in each component the largest ellipse of step 0 is paired with the largest of step n;
* parts whose mean area over all steps is below 20 px get all changes set to 0.

Example:
    >>> import numpy as np
    >>> img = np.full((8, 8, 3), 255, np.uint8); mask = np.zeros((8, 8), bool); mask[:4] = True
    >>> luminance(img, mask)
    85.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encoderscope.errors import ParameterError

MIN_AREA = 20
LUMINANCE_MAX = 85.0
ENTROPY_RADIUS = 5
MIN_ELLIPSE_PIXELS = 5


@dataclass(frozen=True)
class Ellipse:
    """A fitted ellipse: centre (row, col), axis lengths, eccentricity, angle in degrees [0, 180), pixel count."""

    centre: tuple[float, float]
    major: float
    minor: float
    eccentricity: float
    angle: float
    area: int


def luminance(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``(0.299 R + 0.587 G + 0.114 B) / 3`` over the mask (0 for an empty mask)."""
    if not mask.any():
        return 0.0
    rgb = image[mask].astype(np.float64)
    return float(((0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]) / 3.0).mean())


def entropy_map(image: np.ndarray) -> np.ndarray:
    """Local entropy of the grey image (``rank.entropy``, ``disk(5)``), in bits."""
    from skimage.color import rgb2gray
    from skimage.filters.rank import entropy
    from skimage.morphology import disk
    from skimage.util import img_as_ubyte

    return entropy(img_as_ubyte(rgb2gray(image)), disk(ENTROPY_RADIUS))


def entropy_stats(entropy: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Mean, std, min and max of an entropy map over a mask (zeros for an empty mask)."""
    if not mask.any():
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    values = entropy[mask].astype(np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max())}


def fit_ellipses(mask: np.ndarray) -> list[Ellipse]:
    """One moment-based ellipse per 8-connected component of at least 5 pixels."""
    from skimage.measure import label, regionprops

    ellipses = []
    for region in regionprops(label(mask.astype(np.uint8), connectivity=2)):
        if region.area < MIN_ELLIPSE_PIXELS:
            continue
        major, minor = float(region.axis_major_length), float(region.axis_minor_length)
        ecc = float(np.sqrt(max(0.0, 1.0 - (minor / major) ** 2))) if major > 0 else 0.0
        # skimage orientation: angle between the row axis and the major axis, in (-90, 90]; report the major
        # axis angle from the column (x) axis, anticlockwise with rows pointing down, in [0, 180)
        angle = float((90.0 + np.degrees(region.orientation)) % 180.0)
        ellipses.append(Ellipse(tuple(map(float, region.centroid)), major, minor, ecc, angle, int(region.area)))
    return ellipses


def match_ellipses(
    mask_first: np.ndarray, mask_last: np.ndarray, first: list[Ellipse], last: list[Ellipse]
) -> list[tuple[Ellipse, Ellipse]]:
    """Pair ellipses of the first and last step through the components of the overlap (see the module docstring)."""
    from skimage.measure import label, regionprops

    pairs = []
    for region in regionprops(label((mask_first & mask_last).astype(np.uint8), connectivity=1)):
        r0, c0, r1, c1 = region.bbox

        def inside(e: Ellipse, box: tuple[int, int, int, int] = (r0, c0, r1, c1)) -> bool:
            return box[0] <= e.centre[0] < box[2] and box[1] <= e.centre[1] < box[3]

        a = [e for e in first if inside(e)]
        b = [e for e in last if inside(e)]
        if a and b:
            pairs.append((max(a, key=lambda e: e.area), max(b, key=lambda e: e.area)))
    return pairs


def part_properties(image: np.ndarray, mask: np.ndarray, entropy: np.ndarray | None = None) -> dict[str, float]:
    """Area, luminance and entropy statistics of one part in one image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != mask.shape:
        raise ParameterError(f"image {image.shape} and mask {mask.shape} must be (H, W, 3) and (H, W)")
    ent = entropy_map(image) if entropy is None else entropy
    stats = entropy_stats(ent, mask)
    return {"area": float(mask.sum()), "luminance": luminance(image, mask),
            **{f"entropy_{k}": v for k, v in stats.items()}}


def part_changes(
    images: np.ndarray, labels: np.ndarray, parts: list[int] | None = None, min_area: int = MIN_AREA
) -> list[dict[str, float]]:
    """Change scores per part between the first and last of ``n_steps`` images.

    Args:
        images: ``(n_steps, H, W, 3)`` uint8.
        labels: ``(n_steps, H, W)`` int part maps.
        parts: part labels to score (default: every label present).
        min_area: parts whose mean area over the steps is below this get zero changes (20 px in the paper).

    Returns:
        one dict per part with ``part``, ``area_0``, ``area_n``, ``mean_area``, ``d_area``, ``d_luminance``,
        ``d_entropy``, ``d_eccentricity``, ``d_angle``, ``n_ellipse_pairs``, ``below_floor``.
    """
    if images.shape[:3] != labels.shape or images.shape[0] < 2:
        raise ParameterError(f"images {images.shape} and labels {labels.shape} must be (n>=2, H, W, 3) and (n, H, W)")
    parts = sorted(np.unique(labels).tolist()) if parts is None else list(parts)
    ent_first, ent_last = entropy_map(images[0]), entropy_map(images[-1])
    rows = []
    for part in parts:
        masks = labels == part
        areas = masks.reshape(masks.shape[0], -1).sum(1).astype(np.float64)
        first = part_properties(images[0], masks[0], ent_first)
        last = part_properties(images[-1], masks[-1], ent_last)
        pairs = match_ellipses(masks[0], masks[-1], fit_ellipses(masks[0]), fit_ellipses(masks[-1]))
        row = {
            "part": int(part), "area_0": float(areas[0]), "area_n": float(areas[-1]), "mean_area": float(areas.mean()),
            "d_area": (areas[-1] - areas[0]) / (areas[0] if areas[0] > 0 else 1.0),
            "d_luminance": (last["luminance"] - first["luminance"]) / LUMINANCE_MAX,
            "d_entropy": last["entropy_mean"] - first["entropy_mean"],
            "d_eccentricity": float(np.mean([b.eccentricity - a.eccentricity for a, b in pairs])) if pairs else 0.0,
            "d_angle": float(np.mean([b.angle - a.angle for a, b in pairs])) if pairs else 0.0,
            "n_ellipse_pairs": len(pairs), "below_floor": bool(areas.mean() < min_area),
        }
        if row["below_floor"]:
            for key in ("d_area", "d_luminance", "d_entropy", "d_eccentricity", "d_angle"):
                row[key] = 0.0
        rows.append(row)
    return rows


PROPERTIES = ("d_area", "d_luminance", "d_entropy", "d_eccentricity", "d_angle")
