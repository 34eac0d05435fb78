"""Galleries as single figures: where each concept is most present, and which images a unit responds to most.

* :func:`concept_gallery`: one row per concept (its colour swatch, id and name), then the images where the concept
  covers the largest fraction of the image, each with the concept's region highlighted (the rest faded, the region
  outlined in the concept's colour) and a caption (image key, coverage).
* :func:`neuron_gallery`: one row per unit (its id and text description), then its top-activating images with the
  activation values.
* :func:`gallery_figure`: the layout both use, for any rows of captioned thumbnails.

Example:
    >>> import numpy as np
    >>> imgs = [np.full((24, 32, 3), 200, np.uint8) for _ in range(3)]
    >>> maps = [np.eye(24, 32, dtype=int), np.zeros((24, 32), int), np.ones((24, 32), int)]
    >>> concept_gallery(imgs, maps, k=2, n=2).dtype
    dtype('uint8')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from encoderscope.data.label_maps import resize_labels
from encoderscope.errors import ParameterError
from encoderscope.report.overlay import BACKGROUND, ImageLike, fit_image, to_rgb_array
from encoderscope.report.palette import concept_palette
from encoderscope.report.text import LINE_SPACING, TextStyle, draw_text, text_height, wrap

__all__ = [
    "GalleryRow",
    "concept_gallery",
    "concept_presence",
    "gallery_figure",
    "highlight_concept",
    "neuron_gallery",
    "top_images",
]

_MUTED = (90, 98, 108)
_RULE = (215, 220, 226)


@dataclass
class GalleryRow:
    """One gallery row: a header (``label`` in bold, ``sublabel`` below, optional colour swatch) and thumbnails."""

    label: str
    images: Sequence[ImageLike]
    captions: Sequence[str] = field(default_factory=tuple)
    color: tuple[int, int, int] | None = None
    sublabel: str = ""


def concept_presence(label_maps: Sequence[np.ndarray], k: int) -> np.ndarray:
    """``(N, k)`` fraction of each map's labelled pixels that carry each concept id (negative labels ignored).

    Example:
        >>> concept_presence([np.array([[0, 0, 1, -1]])], 2).round(3).tolist()
        [[0.667, 0.333]]
    """
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    out = np.zeros((len(label_maps), k), dtype=np.float64)
    for i, labels in enumerate(label_maps):
        labels = np.asarray(labels).ravel()
        labels = labels[labels >= 0]
        if labels.size == 0:
            continue
        if int(labels.max()) >= k:
            raise ParameterError(f"label map {i} holds concept id {int(labels.max())}, beyond k={k}")
        out[i] = np.bincount(labels.astype(np.int64), minlength=k) / labels.size
    return out


def top_images(presence: np.ndarray, n: int) -> list[list[int]]:
    """For each concept (column of ``presence``), up to ``n`` image indices by decreasing presence (> 0 only).

    Ties keep the input order. Example:
        >>> top_images(np.array([[0.5, 0.5], [0.9, 0.0], [0.1, 0.9]]), 2)
        [[1, 0], [2, 0]]
    """
    presence = np.asarray(presence, dtype=np.float64)
    if presence.ndim != 2:
        raise ParameterError(f"presence must be (N, k), got shape {presence.shape}")
    result = []
    for column in presence.T:
        order = np.argsort(-column, kind="stable")
        result.append([int(i) for i in order[:n] if column[i] > 0])
    return result


def _largest_component_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    from scipy.ndimage import find_objects, label

    components, count = label(mask)
    if count == 0:
        return 0, 0, mask.shape[0], mask.shape[1]
    sizes = np.bincount(components.ravel())[1:]
    box = find_objects(components)[int(np.argmax(sizes))]
    return box[0].start, box[1].start, box[0].stop, box[1].stop


def highlight_concept(
    image: ImageLike,
    labels: np.ndarray,
    concept: int,
    color: tuple[int, int, int] | np.ndarray | None = None,
    fade: float = 0.65,
    outline_width: int | None = None,
    crop: bool = False,
) -> np.ndarray:
    """The photo with one concept's region kept, the rest faded towards white, and the region outlined in colour.

    ``labels`` is resized (nearest) to the photo. ``outline_width`` defaults to about 1 % of the longer side (at
    least 2 px), so the outline survives downscaling to a thumbnail. ``crop=True`` cuts to the concept's largest
    connected region (with a margin of a quarter of its size) to show the patch rather than the whole image.

    Example:
        >>> lab = np.zeros((4, 4), int); lab[:2] = 1
        >>> highlight_concept(np.zeros((4, 4, 3), np.uint8), lab, 1, outline_width=0)[3, 0].tolist()
        [166, 166, 166]
    """
    from scipy.ndimage import binary_dilation

    photo = to_rgb_array(image)
    labels = resize_labels(np.asarray(labels), photo.shape[:2])
    mask = labels == int(concept)
    colour = np.asarray(color if color is not None else concept_palette(int(concept) + 1)[int(concept)], np.float64)
    if outline_width is None:
        outline_width = max(2, round(max(photo.shape[:2]) / 96))
    out = photo.astype(np.float64)
    out[~mask] = (1 - fade) * out[~mask] + fade * 255.0
    if outline_width > 0 and mask.any():
        outside = binary_dilation(mask, iterations=outline_width) & ~mask
        out[outside] = colour
    out = np.round(out).astype(np.uint8)
    if crop and mask.any():
        top, left, bottom, right = _largest_component_box(mask)
        pad_y, pad_x = max(2, (bottom - top) // 4), max(2, (right - left) // 4)
        top, left = max(0, top - pad_y), max(0, left - pad_x)
        bottom, right = min(photo.shape[0], bottom + pad_y), min(photo.shape[1], right + pad_x)
        out = out[top:bottom, left:right]
    return out


def gallery_figure(
    rows: Sequence[GalleryRow],
    title: str = "",
    thumb: int = 128,
    header_width: int = 150,
    gap: int = 6,
    margin: int = 12,
    caption_lines: int = 2,
    font_size: int = 12,
) -> np.ndarray:
    """Lay out gallery rows as one figure: title, then per row a header column and captioned thumbnails.

    Thumbnails are fitted in ``thumb`` x ``thumb`` boxes (aspect kept); captions wrap to at most ``caption_lines``.

    Example:
        >>> row = GalleryRow("unit 3", [np.zeros((10, 10, 3), np.uint8)], ["a = 1.0"], sublabel="dog")
        >>> gallery_figure([row], title="Units", thumb=32).shape[2]
        3
    """
    if not rows:
        raise ParameterError("a gallery needs at least one row")
    n_cols = max(1, max(len(r.images) for r in rows))
    width = 2 * margin + header_width + n_cols * thumb + (n_cols - 1) * gap
    title_lines = wrap(title, width - 2 * margin, font_size + 4, bold=True) if title else []
    title_h = text_height(title_lines, font_size + 4) + (10 if title_lines else 0)
    caption_h = int(font_size * LINE_SPACING) * caption_lines if any(r.captions for r in rows) else 0

    laid_out = []
    for row in rows:
        thumbs = []
        for img in row.images:
            thumbs.append(fit_image(to_rgb_array(img), thumb))
        img_h = max((t.shape[0] for t in thumbs), default=thumb // 2)
        text_w = header_width - 10 - (20 if row.color is not None else 0)
        head = wrap(row.label, text_w, font_size + 1, bold=True)
        sub = wrap(row.sublabel, header_width - 10, font_size) if row.sublabel else []
        head_h = text_height(head, font_size + 1) + text_height(sub, font_size)
        laid_out.append((row, thumbs, head, sub, max(img_h + caption_h, head_h)))
    height = 2 * margin + title_h + sum(h for *_, h in laid_out) + (len(rows) - 1) * (2 * gap + 1)

    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title_lines:
        title_style = TextStyle(font_size + 4, bold=True, align="left")
        draw_text(draw, title_lines, margin, margin, width - 2 * margin, title_style)
    y = margin + title_h
    for index, (row, thumbs, head, sub, row_h) in enumerate(laid_out):
        if index:
            draw.line([(margin, y - gap - 1), (width - margin, y - gap - 1)], fill=_RULE, width=1)
        x_text = margin
        if row.color is not None:
            swatch = int(font_size * 1.15)
            colour = tuple(int(c) for c in np.asarray(row.color).ravel()[:3])
            draw.rectangle([margin, y + 2, margin + swatch, y + 2 + swatch], fill=colour, outline=(60, 60, 60))
            x_text = margin + swatch + 6
        y_sub = draw_text(draw, head, x_text, y, header_width, TextStyle(font_size + 1, bold=True, align="left"))
        draw_text(draw, sub, margin, y_sub, header_width, TextStyle(font_size, align="left", color=_MUTED))
        x = margin + header_width
        for col, pic in enumerate(thumbs):
            canvas.paste(Image.fromarray(pic), (x + (thumb - pic.shape[1]) // 2, y))
            if col < len(row.captions) and row.captions[col]:
                lines = wrap(row.captions[col], thumb, font_size - 1)[:caption_lines]
                draw_text(draw, lines, x, y + pic.shape[0] + 2, thumb, TextStyle(font_size - 1, color=_MUTED))
            x += thumb + gap
        y += row_h + 2 * gap + 1
    return np.asarray(canvas, dtype=np.uint8).copy()


def concept_gallery(
    images: Sequence[ImageLike],
    label_maps: Sequence[np.ndarray],
    k: int | None = None,
    n: int = 6,
    names: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    palette: np.ndarray | None = None,
    title: str = "Concept gallery: where each concept is most present",
    crop: bool = False,
    thumb: int = 128,
) -> np.ndarray:
    """One figure: for each concept, the ``n`` images it covers most, its region highlighted in its colour.

    ``images[i]`` is only read for images that are shown, so a lazily loading sequence is fine. ``label_maps[i]``
    may have any resolution (resized to the image). ``k`` defaults to ``max label + 1``; concepts present in no
    image get a row saying so. ``crop=True`` shows the patch around the concept instead of the whole image.

    Example:
        >>> img = np.zeros((8, 8, 3), np.uint8); lab = np.zeros((8, 8), int); lab[4:] = 1
        >>> concept_gallery([img], [lab], names=["sky", "grass"], thumb=32).shape[0] > 64
        True
    """
    if len(images) != len(label_maps):
        raise ParameterError(f"{len(images)} images but {len(label_maps)} label maps")
    if not label_maps:
        raise ParameterError("a concept gallery needs at least one image")
    k = int(k) if k is not None else max(int(np.asarray(m).max(initial=-1)) for m in label_maps) + 1
    if k < 1:
        raise ParameterError("the label maps hold no concept ids")
    colours = concept_palette(k) if palette is None else np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(colours) < k:
        raise ParameterError(f"{k} concepts but only {len(colours)} palette colours")
    presence = concept_presence(label_maps, k)
    rows = []
    for concept, chosen in enumerate(top_images(presence, n)):
        name = names[concept] if names is not None and concept < len(names) else ""
        pictures, captions = [], []
        for i in chosen:
            pictures.append(highlight_concept(images[i], label_maps[i], concept, colours[concept], crop=crop))
            key = keys[i] if keys is not None else f"#{i}"
            captions.append(f"{key} · {presence[i, concept]:.0%}")
        share = presence[:, concept].mean()
        sub = f"{name + ' · ' if name else ''}{share:.0%} of pixels" if chosen else "present in no image"
        rows.append(GalleryRow(f"concept {concept}", pictures, captions, tuple(colours[concept]), sub))
    return gallery_figure(rows, title=title, thumb=thumb)


def neuron_gallery(
    units: Sequence[int | str],
    images: Sequence[Sequence[ImageLike]],
    descriptions: Sequence[str] | None = None,
    activations: Sequence[Sequence[float]] | None = None,
    title: str = "Top-activating images per unit",
    thumb: int = 112,
) -> np.ndarray:
    """One figure: per unit, its id and text description, then its top-activating images (with values).

    ``images[u]`` are the unit's images, best first (e.g. :func:`~encoderscope.report.overlay.heatmap_overlay`
    pictures); ``activations[u]`` their values, shown as captions.

    Example:
        >>> pic = np.zeros((16, 16, 3), np.uint8)
        >>> neuron_gallery([7], [[pic, pic]], ["striped"], [[2.5, 1.25]], thumb=32).dtype
        dtype('uint8')
    """
    if len(units) != len(images):
        raise ParameterError(f"{len(units)} units but {len(images)} image lists")
    if descriptions is not None and len(descriptions) != len(units):
        raise ParameterError(f"{len(units)} units but {len(descriptions)} descriptions")
    if activations is not None and len(activations) != len(units):
        raise ParameterError(f"{len(units)} units but {len(activations)} activation lists")
    rows = []
    for u, unit in enumerate(units):
        captions = [f"a = {v:.3g}" for v in activations[u]] if activations is not None else []
        label = f"unit {unit}" if isinstance(unit, (int, np.integer)) else str(unit)
        rows.append(
            GalleryRow(label, list(images[u]), captions, sublabel=descriptions[u] if descriptions is not None else "")
        )
    return gallery_figure(rows, title=title, thumb=thumb)
