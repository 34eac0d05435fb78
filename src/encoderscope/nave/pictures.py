"""Pictures of NAVE results: overlay PNGs, side-by-side comparisons, concept galleries and ``report.html``.

Drawing is done by :mod:`encoderscope.report`; this module decides what goes where. Pictures are drawn at most
640 px on the longer side (the full-resolution maps are in ``labels.npz``). One result gives per-image
overlays (``overlays/<key>.png``), a concept gallery for the dataset scope (``gallery.png``) and a report; several
results (a :class:`~encoderscope.nave.compare.Comparison`, e.g. the demo) give, per image, the photo and every
result's map with concepts matched to the first result's colours (``compare/<key>.png``), the agreement table, and
one report with everything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope.nave.result import NaveRecord, NaveResult

if TYPE_CHECKING:
    from encoderscope.nave.compare import Comparison

MAX_REPORT_IMAGES = 60
PICTURE_SIDE = 640


def safe_name(key: str) -> str:
    """A relative file path for an image key (``photos/chelsea`` -> ``photos/chelsea.png``)."""
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in key.replace("\\", "/").split("/")]
    parts = [part for part in parts if part not in ("", ".", "..")]
    return "/".join(parts or ["image"]) + ".png"


def _photo(record: NaveRecord) -> np.ndarray:
    """The image, downscaled to at most :data:`PICTURE_SIDE` px (label maps are resized onto it, nearest)."""
    from encoderscope.report import thumbnail

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


def record_figure(result: NaveResult, record: NaveRecord) -> np.ndarray:
    """The photo and its concept map side by side."""
    from encoderscope.report import concept_palette, overlay, side_by_side

    photo = _photo(record)
    picture = overlay(photo, record.label_map(), concept_palette(max(1, record.k)))
    return side_by_side([(photo, record.key), (picture, f"{result.name} · K = {record.k}")])


def comparison_panels(comparison: Comparison, index: int, palette: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """``(picture, caption)`` for image ``index``: the photo, then every result's map in matched colours."""
    from encoderscope.report import overlay

    key = comparison.keys[index]
    photo = _photo(comparison.results[0].record(key))
    panels = [(photo, "photo")]
    for m, name in enumerate(comparison.names):
        caption = name if m == 0 else f"{name} · ARI {comparison.ari[index, 0, m]:.2f}"
        panels.append((overlay(photo, comparison.aligned_map(m, index), palette), caption))
    return panels


def gallery_figure(result: NaveResult) -> np.ndarray | None:
    """The concept gallery of a dataset-scope result (``None`` for other scopes)."""
    from encoderscope.report.gallery import concept_gallery

    if not result.gallery:
        return None
    shown = sorted({key for entries in result.gallery.values() for key, _ in entries})
    records = [result.record(key) for key in shown]
    return concept_gallery(
        _LazyPhotos(records), [r.label_map() for r in records], k=result.k, n=max(map(len, result.gallery.values())),
        keys=shown, title=f"Concept gallery · {result.name}",
    )


def _describe(result: NaveResult) -> str:
    config = result.config
    parts = [f"{key} {config[key]}" for key in ("method", "scope", "k", "resample") if key in config]
    return ", ".join(parts)


def _single_sections(result: NaveResult, folder: Path) -> list[Any]:
    from encoderscope.report import Figure, Legend, Note, Panel, PanelRow, Section, concept_palette, overlay, save_png

    palette = concept_palette(max(1, result.k))
    rows = []
    for n, record in enumerate(result.records):
        photo, labels = _photo(record), record.label_map()
        picture = overlay(photo, labels, palette)
        save_png(folder / "overlays" / safe_name(record.key), picture)
        if n < MAX_REPORT_IMAGES:
            rows.append(PanelRow([Panel(photo, "photo"), Panel(picture, f"K = {record.k}")], title=record.key))
    blocks: list[Any] = [Legend([f"concept {i}" for i in range(result.k)]), *rows]
    if len(result.records) > MAX_REPORT_IMAGES:
        blocks.append(Note(f"{len(result.records) - MAX_REPORT_IMAGES} more images: see overlays/ and labels.npz."))
    sections = [Section(f"Concept maps · {result.name}", blocks, intro=_describe(result))]
    figure = gallery_figure(result)
    if figure is not None:
        save_png(folder / "gallery.png", figure)
        sections.append(Section("Concept gallery", [Figure(figure, "Where each shared concept is most present.")]))
    return sections


def _comparison_sections(comparison: Comparison, folder: Path) -> list[Any]:
    from encoderscope.report import (
        Figure,
        Legend,
        Note,
        Panel,
        PanelRow,
        Section,
        Table,
        concept_palette,
        save_png,
        side_by_side,
    )

    names = comparison.names
    n_results = len(names)
    table = Table(
        [{"result": names[m], **{f"ARI vs {b}": float(comparison.mean_ari[m, b]) for b in range(n_results)}}
         for m in range(n_results)],
        caption="Mean adjusted Rand index between the maps (1 = identical partitions, 0 = chance)",
    )
    key_table = Table([{"#": m, "result": name, "settings": _describe(comparison.results[m])}
                       for m, name in enumerate(names)], caption="Results (column numbers in the ARI table)")
    top = max(int(np.max(comparison.mappings[m][i])) for m in range(n_results) for i in range(len(comparison.keys)))
    palette = concept_palette(top + 1)
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
    blocks: list[Any] = [Legend([f"concept {c}" for c in range(top + 1)]), *rows]
    if len(comparison.keys) > MAX_REPORT_IMAGES:
        blocks.append(Note(f"{len(comparison.keys) - MAX_REPORT_IMAGES} more images: see compare/ and overlays/."))
    sections = [Section("Agreement", [key_table, table]), Section("Concept maps", blocks, intro=intro)]
    for result in comparison.results:
        figure = gallery_figure(result)
        if figure is not None:
            sections.append(Section(f"Concept gallery · {result.name}", [Figure(figure)]))
    return sections


def write_pictures(
    results: Sequence[NaveResult], folder: str | Path, comparison: Comparison | None = None, title: str = ""
) -> Path:
    """Write overlays, galleries and ``report.html`` into ``folder``; returns the report's path."""
    from encoderscope.report import write_report

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
