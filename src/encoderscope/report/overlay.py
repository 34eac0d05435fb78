"""Label maps over photos and captioned panels side by side (encoding and files: :mod:`encoderscope.report.encoding`).

All pictures are ``(H, W, 3)`` uint8 RGB numpy arrays; inputs may also be PIL images, grayscale or RGBA arrays,
or floats in [0, 1] (see :func:`to_rgb_array`).

Example:
    >>> import numpy as np
    >>> photo = np.full((32, 48, 3), 128, np.uint8)
    >>> labels = np.zeros((8, 12), int); labels[:, 6:] = 1
    >>> overlay(photo, labels).shape
    (32, 48, 3)
    >>> side_by_side([(photo, "photo"), (overlay(photo, labels), "K = 2")]).dtype
    dtype('uint8')
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from encoderscope.data.label_maps import resize_labels
from encoderscope.errors import ImageError, ParameterError
from encoderscope.report.palette import concept_palette
from encoderscope.report.text import TextStyle, draw_text, text_height, text_size, wrap

__all__ = [
    "color_labels",
    "fit_image",
    "heatmap_overlay",
    "label_panel",
    "overlay",
    "panel_grid",
    "side_by_side",
    "thumbnail",
    "to_rgb_array",
]

ImageLike = Any
"""A PIL image, an (H, W) / (H, W, 3) / (H, W, 4) array (uint8, or float in [0, 1]), PNG/JPEG bytes or a path."""

BACKGROUND = (255, 255, 255)


def to_rgb_array(image: ImageLike) -> np.ndarray:
    """Any picture -> ``(H, W, 3)`` uint8 RGB array.

    RGBA is composited on white; floats in [0, 1] are scaled to 0..255 (other numbers are taken on the 0..255
    scale and clipped); uint16 is scaled from 0..65535; booleans become black and white.

    Example:
        >>> to_rgb_array(np.zeros((2, 3))).shape
        (2, 3, 3)
    """
    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    elif isinstance(image, (str, os.PathLike)):
        from encoderscope.data import load_image

        image = load_image(image)
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
            image = Image.alpha_composite(canvas, rgba)
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        arr = np.round(arr / 257.0).astype(np.uint8)  # 16-bit images: full range to 0..255
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ImageError("image holds NaN or Inf values")
        on_255_scale = arr.max(initial=0.0) > 1.0 + 1e-6  # integer-valued data already on the 0..255 scale
        arr = np.clip(arr, 0, 255) if on_255_scale else np.clip(arr, 0.0, 1.0) * 255.0
        arr = np.round(arr).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float64) / 255.0
        arr = np.round(arr[:, :, :3] * alpha + np.array(BACKGROUND) * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _resize(rgb: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize an RGB array to ``size`` = (H, W)."""
    height, width = size
    if rgb.shape[:2] == (height, width):
        return rgb
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(rgb).resize((int(width), int(height)), resample), dtype=np.uint8)


def fit_image(rgb: np.ndarray, side: int) -> np.ndarray:
    """Scale (up or down, aspect kept) so the longer side is ``side`` pixels."""
    scale = side / max(rgb.shape[:2])
    return _resize(rgb, (max(1, round(rgb.shape[0] * scale)), max(1, round(rgb.shape[1] * scale))))


def thumbnail(image: ImageLike, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most ``max_side`` pixels.

    Example:
        >>> thumbnail(np.zeros((100, 50, 3), np.uint8), 40).shape
        (40, 20, 3)
    """
    rgb = to_rgb_array(image)
    return rgb if max(rgb.shape[:2]) <= max_side else fit_image(rgb, max_side)


def _label_array(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ParameterError(f"a label map must be 2-D (H, W), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"a label map must hold integers, got dtype {labels.dtype}")
    return labels.astype(np.int64, copy=False)


def _palette_for(labels: np.ndarray, palette: np.ndarray | None) -> np.ndarray:
    top = int(labels.max(initial=-1)) + 1
    if palette is None:
        return concept_palette(max(top, 1))
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if top > len(palette):
        raise ParameterError(f"label map holds id {top - 1} but the palette has only {len(palette)} colours")
    return palette


def color_labels(
    labels: np.ndarray,
    palette: np.ndarray | None = None,
    size: tuple[int, int] | None = None,
    background: tuple[int, int, int] = BACKGROUND,
) -> np.ndarray:
    """Label map -> ``(H, W, 3)`` colour image (concept ``i`` in ``palette[i]``, negative labels in ``background``).

    ``size`` = (H, W) resizes the map first (nearest). Example:
        >>> color_labels(np.array([[0, 1]])).tolist()
        [[[230, 159, 0], [86, 180, 233]]]
    """
    labels = _label_array(labels)
    if size is not None:
        labels = resize_labels(labels, size)
    colours = _palette_for(labels, palette)
    out = np.empty((*labels.shape, 3), dtype=np.uint8)
    out[:] = np.asarray(background, dtype=np.uint8)
    valid = labels >= 0
    out[valid] = colours[labels[valid]]
    return out


def overlay(
    image: ImageLike,
    labels: np.ndarray,
    palette: np.ndarray | None = None,
    alpha: float = 0.5,
    boundaries: bool = True,
    boundary_color: tuple[int, int, int] = (20, 20, 20),
    boundary_width: int | None = None,
) -> np.ndarray:
    """Colour-fill a photo with its label map and outline the regions; returns ``(H, W, 3)`` uint8 at the photo's size.

    The label map is resized to the photo with nearest neighbour when sizes differ. Fill: ``(1 - alpha) * photo +
    alpha * palette[label]`` (negative labels stay unfilled). Boundaries: ``skimage.segmentation.find_boundaries``
    (``mode="thick"``: the pixels on both sides of every change of label, so no concept id is treated as background),
    ``boundary_width`` pixels on each side: by default one per 600 pixels of the photo's longer side (at least one),
    so boundaries stay visible when a large photo is shown as a thumbnail.

    Example:
        >>> lab = np.array([[0, 1]]); px = overlay(np.zeros((4, 4, 3), np.uint8), lab, boundaries=False)
        >>> px[0, 0].tolist()
        [115, 80, 0]
    """
    from skimage.segmentation import find_boundaries

    if not 0.0 <= alpha <= 1.0:
        raise ParameterError(f"alpha must lie in [0, 1], got {alpha}")
    photo = to_rgb_array(image)
    labels = resize_labels(_label_array(labels), photo.shape[:2])
    colours = _palette_for(labels, palette)
    fill = colours[np.clip(labels, 0, None)].astype(np.float32)  # whole-array ops: no boolean fancy indexing
    blended = np.rint((1.0 - alpha) * photo.astype(np.float32) + alpha * fill).astype(np.uint8)
    out = np.where((labels >= 0)[:, :, None], blended, photo)
    if boundaries:
        if boundary_width is None:
            boundary_width = max(1, round(max(photo.shape[:2]) / 600))
        edges = find_boundaries(labels, mode="thick")
        if boundary_width > 1:
            from scipy.ndimage import binary_dilation

            edges = binary_dilation(edges, iterations=boundary_width - 1)
        out[edges] = np.asarray(boundary_color, dtype=np.uint8)
    return out


def label_panel(
    labels: np.ndarray, size: tuple[int, int] | None = None, palette: np.ndarray | None = None, boundaries: bool = True
) -> np.ndarray:
    """The label map alone in concept colours with thin dark boundaries (what a map looks like without the photo).

    Example:
        >>> label_panel(np.array([[0, 1], [1, 1]]), size=(8, 8)).shape
        (8, 8, 3)
    """
    labels = _label_array(labels)
    shape = size if size is not None else labels.shape
    blank = np.full((*shape, 3), 255, dtype=np.uint8)
    return overlay(blank, labels, palette=palette, alpha=1.0, boundaries=boundaries)


def heatmap_overlay(
    image: ImageLike,
    heat: np.ndarray,
    alpha: float = 0.55,
    cmap: str = "inferno",
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """A unit's activation map (h, w) over the photo, colour-mapped (matplotlib ``cmap``), bilinear-upsampled.

    Values are scaled to [vmin, vmax] (default: the map's own min and max). Example:
        >>> heatmap_overlay(np.zeros((8, 8, 3), np.uint8), np.eye(2)).shape
        (8, 8, 3)
    """
    from matplotlib import colormaps

    photo = to_rgb_array(image)
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim != 2 or not np.isfinite(heat).all():
        raise ParameterError(f"a heat map must be a finite 2-D array, got shape {heat.shape}")
    lo = float(heat.min()) if vmin is None else float(vmin)
    hi = float(heat.max()) if vmax is None else float(vmax)
    scaled = np.clip((heat - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(heat)
    big = Image.fromarray((scaled * 255).astype(np.uint8)).resize(
        (photo.shape[1], photo.shape[0]), Image.Resampling.BILINEAR
    )
    rgba = colormaps[cmap](np.asarray(big) / 255.0)
    out = (1 - alpha) * photo.astype(np.float64) + alpha * rgba[:, :, :3] * 255.0
    return np.round(out).astype(np.uint8)


# ---- text and composition -------------------------------------------------------------------------------------


def side_by_side(
    panels: Sequence[ImageLike | tuple[ImageLike, str]],
    height: int | None = None,
    gap: int = 8,
    margin: int = 8,
    caption_size: int = 13,
    title: str | None = None,
    title_size: int = 16,
    background: tuple[int, int, int] = BACKGROUND,
) -> np.ndarray:
    """Panels in one row, scaled to a common height, each with its (wrapped) caption below; optional title above.

    ``panels`` holds images or ``(image, caption)`` pairs. ``height`` defaults to the smallest panel height.

    Example:
        >>> img = np.zeros((20, 30, 3), np.uint8)
        >>> side_by_side([(img, "a"), (img, "b")], gap=4, margin=0).shape[1]
        64
    """
    if not panels:
        raise ParameterError("side_by_side needs at least one panel")
    images, captions = [], []
    for panel in panels:
        if isinstance(panel, tuple):
            images.append(to_rgb_array(panel[0]))
            captions.append(str(panel[1]))
        else:
            images.append(to_rgb_array(panel))
            captions.append("")
    target = int(height) if height else min(img.shape[0] for img in images)
    scaled = [_resize(img, (target, max(1, round(img.shape[1] * target / img.shape[0])))) for img in images]
    wrapped = [wrap(c, s.shape[1], caption_size) if c else [] for c, s in zip(captions, scaled, strict=True)]
    caption_h = max(text_height(w, caption_size) for w in wrapped)
    caption_h = caption_h + 4 if caption_h else 0
    width = sum(s.shape[1] for s in scaled) + gap * (len(scaled) - 1) + 2 * margin
    title_lines = wrap(title, width - 2 * margin, title_size, bold=True) if title else []
    title_h = text_height(title_lines, title_size) + (6 if title_lines else 0)
    canvas = Image.new("RGB", (width, margin * 2 + title_h + target + caption_h), background)
    draw = ImageDraw.Draw(canvas)
    if title_lines:
        draw_text(draw, title_lines, margin, margin, width - 2 * margin, TextStyle(title_size, bold=True))
    x, y = margin, margin + title_h
    for img, lines in zip(scaled, wrapped, strict=True):
        canvas.paste(Image.fromarray(img), (x, y))
        draw_text(draw, lines, x, y + target + 4, img.shape[1], TextStyle(caption_size))
        x += img.shape[1] + gap
    return np.asarray(canvas, dtype=np.uint8).copy()


def panel_grid(
    cells: Sequence[Sequence[ImageLike | None]],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_size: int = 160,
    gap: int = 6,
    margin: int = 10,
    label_size: int = 13,
    title: str | None = None,
    title_size: int = 16,
    background: tuple[int, int, int] = BACKGROUND,
) -> np.ndarray:
    """A grid figure: rows (e.g. images) x columns (e.g. photo, then models), column headers and row labels.

    Every cell is fitted inside ``cell_size`` x ``cell_size`` (aspect kept, centred); each row is as tall as its
    tallest cell; ``None`` leaves a cell empty.

    Example:
        >>> img = np.zeros((10, 10, 3), np.uint8)
        >>> panel_grid([[img, img]], row_labels=["cat"], col_labels=["photo", "map"], cell_size=32).dtype
        dtype('uint8')
    """
    if not cells or not any(len(row) for row in cells):
        raise ParameterError("panel_grid needs at least one cell")
    n_rows, n_cols = len(cells), max(len(row) for row in cells)
    if row_labels is not None and len(row_labels) != n_rows:
        raise ParameterError(f"{len(row_labels)} row labels for {n_rows} rows")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ParameterError(f"{len(col_labels)} column labels for {n_cols} columns")
    label_w = 0
    row_wrapped: list[list[str]] = []
    if row_labels:
        label_w = min(max(text_size(label, label_size)[0] for label in row_labels) + 8, max(cell_size, 120))
        row_wrapped = [wrap(label, label_w - 8, label_size) for label in row_labels]
    col_wrapped = [wrap(label, cell_size, label_size, bold=True) for label in col_labels] if col_labels else []
    header_h = max((text_height(w, label_size) for w in col_wrapped), default=0)
    header_h = header_h + 4 if header_h else 0
    fitted_rows: list[list[np.ndarray | None]] = []
    for row in cells:
        fitted_row: list[np.ndarray | None] = []
        for cell in row:
            if cell is None:
                fitted_row.append(None)
                continue
            fitted_row.append(fit_image(to_rgb_array(cell), cell_size))
        fitted_rows.append(fitted_row)
    # Each row is as tall as its tallest cell, so landscape photos do not leave square gaps.
    row_heights = [max((f.shape[0] for f in row if f is not None), default=cell_size // 4) for row in fitted_rows]
    grid_w = label_w + n_cols * cell_size + (n_cols - 1) * gap
    title_lines = wrap(title, grid_w, title_size, bold=True) if title else []
    title_h = text_height(title_lines, title_size) + (6 if title_lines else 0)
    width = grid_w + 2 * margin
    height = 2 * margin + title_h + header_h + sum(row_heights) + (n_rows - 1) * gap
    canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    if title_lines:
        draw_text(draw, title_lines, margin, margin, grid_w, TextStyle(title_size, bold=True))
    top = margin + title_h
    for c, lines in enumerate(col_wrapped):
        x = margin + label_w + c * (cell_size + gap)
        y_label = top + header_h - 4 - text_height(lines, label_size)
        draw_text(draw, lines, x, y_label, cell_size, TextStyle(label_size, bold=True))
    y = top + header_h
    for r, row in enumerate(fitted_rows):
        row_h = row_heights[r]
        if row_wrapped:
            lines = row_wrapped[r]
            y_label = y + (row_h - text_height(lines, label_size)) // 2
            draw_text(draw, lines, margin, y_label, label_w - 8, TextStyle(label_size, align="left"))
        for c, fitted in enumerate(row):
            if fitted is None:
                continue
            x = margin + label_w + c * (cell_size + gap)
            canvas.paste(
                Image.fromarray(fitted), (x + (cell_size - fitted.shape[1]) // 2, y + (row_h - fitted.shape[0]) // 2)
            )
        y += row_h + gap
    return np.asarray(canvas, dtype=np.uint8).copy()
