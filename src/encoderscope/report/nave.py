"""Pictures of NAVE results: overlay PNGs, side-by-side comparisons, concept galleries, ``report.html``, and the
``figure()`` / ``_repr_html_()`` of :class:`~encoderscope.nave.result.NaveResult`,
:class:`~encoderscope.nave.compare.Comparison` and the localisation scores.

Pictures are drawn at most 640 px on the longer side (the full-resolution maps are in ``labels.npz``). One result
gives per-image overlays (``overlays/<key>.png``), a concept gallery for the dataset scope (``gallery.png``) and a
report; several results (a :class:`~encoderscope.nave.compare.Comparison`, e.g. the demo) give, per image, the photo
and every result's map with concepts matched to the first result's colours (``compare/<key>.png``), the agreement
table, and one report with everything.

The results are passed in; this module imports none of the NAVE modules (they import it, when they draw).

Example:
    >>> safe_name("photos/chelsea")
    'photos/chelsea.png'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope.report.encoding import save_png
from encoderscope.report.figures import new_figure, picture_figure
from encoderscope.report.gallery import concept_gallery
from encoderscope.report.html import Figure, Legend, Note, Panel, PanelRow, Section, Table, write_report
from encoderscope.report.notebook import MAX_PICTURES, result_html, table_html, thumbnail_grid
from encoderscope.report.overlay import overlay, side_by_side, thumbnail
from encoderscope.report.palette import concept_palette, hex_colors

if TYPE_CHECKING:
    from encoderscope.nave.compare import Comparison
    from encoderscope.nave.evaluate import LocalisationScores
    from encoderscope.nave.metrics import CorLocResult
    from encoderscope.nave.result import NaveRecord, NaveResult

MAX_REPORT_IMAGES = 60
PICTURE_SIDE = 640


def safe_name(key: str) -> str:
    """A relative file path for an image key (``photos/chelsea`` -> ``photos/chelsea.png``)."""
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in key.replace("\\", "/").split("/")]
    parts = [part for part in parts if part not in ("", ".", "..")]
    return "/".join(parts or ["image"]) + ".png"


def _photo(record: NaveRecord) -> np.ndarray:
    """The image, downscaled to at most :data:`PICTURE_SIDE` px (label maps are resized onto it, nearest)."""
    if record.item is None:
        return thumbnail(np.full((*record.original_hw, 3), 235, np.uint8), PICTURE_SIDE)
    return thumbnail(record.item.load(), PICTURE_SIDE)


class _LazyPhotos(Sequence[np.ndarray]):
    """Photos of some records, loaded only when a gallery shows them."""

    def __init__(self, records: Sequence[NaveRecord]) -> None:
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: Any) -> Any:
        return _photo(self.records[index])


def _image_of(result: NaveResult, record: NaveRecord) -> str | None:
    """The key under which a record's concepts are named: None in the dataset scope, the image key otherwise."""
    return None if result.config.get("scope", "image") == "dataset" else record.key


def concept_words(result: NaveResult, record: NaveRecord | None = None) -> list[str] | None:
    """The best word of each concept (``""`` when not named) of the dataset scope, or of ``record``'s image in the
    image scope; None when the result is not named."""
    names = result.concept_names
    if names is None:
        return None
    if record is None:
        return names.labels(result.k)
    return names.labels(record.k, _image_of(result, record))


def named_caption(result: NaveResult, record: NaveRecord) -> str:
    """``K = 3 · 0 · shirt, 1 · sky, 2`` (the names part only when the result is named)."""
    words = concept_words(result, record)
    if words is None:
        return f"K = {record.k}"
    return f"K = {record.k} · " + ", ".join(f"{i} · {w}" if w else str(i) for i, w in enumerate(words))


def record_picture(result: NaveResult, record: NaveRecord) -> np.ndarray:
    """The photo and its concept map side by side."""
    photo = _photo(record)
    picture = overlay(photo, record.label_map(), concept_palette(max(1, record.k)))
    return side_by_side([(photo, record.key), (picture, f"{result.name} · {named_caption(result, record)}")])


def comparison_panels(comparison: Comparison, index: int, palette: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """``(picture, caption)`` for image ``index``: the photo, then every result's map in matched colours."""
    key = comparison.keys[index]
    photo = _photo(comparison.results[0].record(key))
    panels = [(photo, "photo")]
    for m, name in enumerate(comparison.names):
        caption = name if m == 0 else f"{name} · ARI {comparison.ari[index, 0, m]:.2f}"
        panels.append((overlay(photo, comparison.aligned_map(m, index), palette), caption))
    return panels


def concept_gallery_picture(result: NaveResult) -> np.ndarray | None:
    """The concept gallery of a dataset-scope result (``None`` for other scopes)."""
    if not result.gallery:
        return None
    shown = sorted({key for entries in result.gallery.values() for key, _ in entries})
    records = [result.record(key) for key in shown]
    return concept_gallery(
        _LazyPhotos(records), [r.label_map() for r in records], k=result.k, n=max(map(len, result.gallery.values())),
        keys=shown, title=f"Concept gallery · {result.name}", names=concept_words(result),
    )


def _describe(result: NaveResult) -> str:
    config = result.config
    parts = [f"{key} {config[key]}" for key in ("method", "scope", "k", "resample") if key in config]
    return ", ".join(parts)


def _legend(result: NaveResult) -> Legend:
    """The concept legend: ``0 · shirt`` for named dataset-scope concepts (an image scope's names differ per image:
    they are in each map's caption)."""
    words = concept_words(result) if result.config.get("scope", "image") == "dataset" else None
    if words is None:
        return Legend([f"concept {i}" for i in range(result.k)])
    return Legend(words, title=f"Concepts · named by {result.concept_names.scorer}")  # type: ignore[union-attr]


def names_rows(result: NaveResult, limit: int | None = None) -> list[dict[str, Any]]:
    """One row per named concept: image (image scope), concept, its words with scores."""
    names = result.concept_names
    if names is None:
        return []
    rows = []
    for (image, concept), words in list(names.entries.items())[:limit]:
        row: dict[str, Any] = {} if image is None else {"image": image}
        row.update(concept=concept, words=", ".join(f"{word} ({score:.3g})" for word, score in words))
        rows.append(row)
    return rows


def _names_section(result: NaveResult) -> Section:
    names = result.concept_names
    assert names is not None
    intro = (f"Each concept's best words from {names.scorer} over {names.concepts}, scored on the image regions it "
             "covers (docs/names.md); all names are in names.csv.")
    blocks: list[Any] = [Table(names_rows(result, MAX_REPORT_IMAGES), caption="Concept names (score in the "
                               "scorer's unit)")]
    blocks.extend(Note(note) for note in names.notes)
    return Section("Concept names", blocks, intro=intro)


def _single_sections(result: NaveResult, folder: Path) -> list[Any]:
    palette = concept_palette(max(1, result.k))
    rows = []
    for n, record in enumerate(result.records):
        photo, labels = _photo(record), record.label_map()
        picture = overlay(photo, labels, palette)
        save_png(folder / "overlays" / safe_name(record.key), picture)
        if n < MAX_REPORT_IMAGES:
            caption = named_caption(result, record)
            rows.append(PanelRow([Panel(photo, "photo"), Panel(picture, caption, tooltip=caption)], title=record.key))
    blocks: list[Any] = [_legend(result), *rows]
    if len(result.records) > MAX_REPORT_IMAGES:
        blocks.append(Note(f"{len(result.records) - MAX_REPORT_IMAGES} more images: see overlays/ and labels.npz."))
    sections = [Section(f"Concept maps · {result.name}", blocks, intro=_describe(result))]
    if result.concept_names is not None:
        sections.append(_names_section(result))
    figure = concept_gallery_picture(result)
    if figure is not None:
        save_png(folder / "gallery.png", figure)
        sections.append(Section("Concept gallery", [Figure(figure, "Where each shared concept is most present.")]))
    return sections


def _comparison_palette(comparison: Comparison) -> np.ndarray:
    """Colours for every matched concept id of the comparison."""
    mappings = comparison.mappings
    return concept_palette(max(int(np.max(m[i])) for m in mappings for i in range(len(comparison.keys))) + 1)


def _comparison_sections(comparison: Comparison, folder: Path) -> list[Any]:
    names = comparison.names
    n_results = len(names)
    table = Table(
        [{"result": names[m], **{f"ARI vs {b}": float(comparison.mean_ari[m, b]) for b in range(n_results)}}
         for m in range(n_results)],
        caption="Mean adjusted Rand index between the maps (1 = identical partitions, 0 = chance)",
    )
    key_table = Table([{"#": m, "result": name, "settings": _describe(comparison.results[m])}
                       for m, name in enumerate(names)], caption="Results (column numbers in the ARI table)")
    palette = _comparison_palette(comparison)
    rows = []
    for i, key in enumerate(comparison.keys):
        pictures = comparison_panels(comparison, i, palette)
        for m, (picture, _) in enumerate(pictures[1:]):
            save_png(folder / "overlays" / f"{m:02d}" / safe_name(key), picture)
        save_png(folder / "compare" / safe_name(key), side_by_side(pictures, height=min(256, pictures[0][0].shape[0])))
        if i < MAX_REPORT_IMAGES:
            panels = [Panel(picture, caption, tooltip=caption) for picture, caption in pictures]
            rows.append(PanelRow(panels, title=key))
    intro = (
        "Each map's concepts are renumbered to match the first map's by Hungarian matching on pixel overlap, so a "
        "colour means the matched concept across columns. ARI compares each map with the first one."
    )
    blocks: list[Any] = [Legend([f"concept {c}" for c in range(len(palette))]), *rows]
    if len(comparison.keys) > MAX_REPORT_IMAGES:
        blocks.append(Note(f"{len(comparison.keys) - MAX_REPORT_IMAGES} more images: see compare/ and overlays/."))
    sections = [Section("Agreement", [key_table, table]), Section("Concept maps", blocks, intro=intro)]
    for result in comparison.results:
        figure = concept_gallery_picture(result)
        if figure is not None:
            sections.append(Section(f"Concept gallery · {result.name}", [Figure(figure)]))
    return sections


def write_pictures(
    results: Sequence[NaveResult], folder: str | Path, comparison: Comparison | None = None, title: str = ""
) -> Path:
    """Write overlays, galleries and ``report.html`` into ``folder``; returns the report's path."""
    out = Path(folder)
    if comparison is not None:
        sections = _comparison_sections(comparison, out)
        config: dict[str, Any] = comparison.run_info()
    else:
        sections = [section for result in results for section in _single_sections(result, out)]
        config = {"results": [r.run_info() | {"images": len(r.records)} for r in results]}
    heading = title or ("NAVE concept maps" if len(results) == 1 else "NAVE: comparing concept maps")
    subtitle = " | ".join(result.name for result in results)
    return write_report(out / "report.html", heading, sections, config=config, subtitle=subtitle)


# ---- figure() and _repr_html_() -----------------------------------------------------------------------------


def nave_figure(result: NaveResult, image: int | str = 0) -> Any:
    """One image and its concept map side by side, as a matplotlib figure."""
    return picture_figure(record_picture(result, result.record(image)))


def nave_html(result: NaveResult) -> str:
    """The first images' overlays as thumbnails, and the settings."""
    palette = concept_palette(max(1, result.k))
    shown = result.records[:MAX_PICTURES]
    pictures = [(overlay(_photo(r), r.label_map(), palette), f"{r.key} · {named_caption(result, r)}") for r in shown]
    settings = table_html(["setting", "value"], [[key, str(result.config[key])] for key in
                                                   ("model", "layers", "k", "method", "scope", "seed")
                                                   if key in result.config])
    parts = [thumbnail_grid(pictures, total=len(result.records)), settings]
    named = names_rows(result)
    if named:
        columns = list(named[0])
        parts.append(table_html(columns, [[row[c] for c in columns] for row in named], title="Concept names"))
    return result_html(repr(result), *parts)


def comparison_figure(comparison: Comparison, image: int | str = 0) -> Any:
    """The photo and every result's map of one image, colours matched, as a matplotlib figure."""
    index = comparison.keys.index(image) if isinstance(image, str) else image
    return picture_figure(side_by_side(comparison_panels(comparison, index, _comparison_palette(comparison))))


def comparison_html(comparison: Comparison) -> str:
    """The mean ARI between the results, and the first images with every result's map side by side."""
    palette = _comparison_palette(comparison)
    names = comparison.names
    table = table_html(["result", *[f"ARI vs {b}" for b in range(len(names))]],
                       [[name, *comparison.mean_ari[m].tolist()] for m, name in enumerate(names)],
                       title="Mean adjusted Rand index")
    shown = range(min(4, len(comparison.keys)))
    pictures = [(side_by_side(comparison_panels(comparison, i, palette), height=96), comparison.keys[i]) for i in shown]
    return result_html(repr(comparison), table, thumbnail_grid(pictures, total=len(comparison.keys), side=640))


def corloc_figure(result: CorLocResult, title: str = "") -> Any:
    """The best IoU of every image with its box, against the threshold (a histogram)."""
    fig, ax = new_figure(figsize=(5.0, 3.0))
    ious = [row.iou for row in result.images]
    ax.hist(ious, bins=20, range=(0.0, 1.0), color=_first_colour())
    ax.axvline(result.config.iou_threshold, color="black", lw=1, ls="--", label="threshold")
    ax.set_xlabel("best IoU of a concept component with a box")
    ax.set_ylabel("images")
    ax.set_title(title or f"CorLoc {result.corloc:.1f} % on {result.n_images} images", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _first_colour() -> str:
    return hex_colors(concept_palette(1))[0]


def _corloc_rows(result: CorLocResult) -> str:
    rows = [[r.key, r.iou, "yes" if r.correct else "no", r.n_components, r.n_gt] for r in result.images]
    return table_html(["image", "best IoU", "correct", "components", "boxes"], rows)


def corloc_html(result: CorLocResult) -> str:
    """The per-image localisation rows."""
    return result_html(repr(result), _corloc_rows(result))


def localisation_figure(scores: LocalisationScores) -> Any:
    """:func:`corloc_figure` of the scores' CorLoc, titled with the NAVE result's name."""
    return corloc_figure(scores.corloc, f"{scores.result.name}: CorLoc {scores.corloc.corloc:.1f} %")


def localisation_html(scores: LocalisationScores) -> str:
    """The headline numbers and the per-image rows."""
    headline = table_html(["score", "value"], [[k, v] for k, v in scores.summary().items() if v is not None])
    return result_html(repr(scores), headline, _corloc_rows(scores.corloc))
