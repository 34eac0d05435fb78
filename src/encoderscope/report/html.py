"""A self-contained HTML report: one file that opens from disk, with no network, scripts, fonts or external CSS.

A report is a title, a list of :class:`Section` s, and the run configuration. A section holds blocks, shown in
order: :class:`PanelRow` (captioned pictures side by side, e.g. one image: the photo, then its maps per model and
layer set), :class:`Legend` (concept colour swatches with ids and names), :class:`Table` (a list of dicts),
:class:`Figure` (one large picture, e.g. a gallery or a plot) and :class:`Note` (a paragraph of text).

Pictures are downscaled (panels to ``thumb_side`` pixels on the longer side, figures to ``figure_side`` wide) and
embedded as base64 data URIs (``embed=True``, one file) or written beside the page in ``<name>_files/``
(``embed=False``). Each picture is stored as PNG or JPEG, whichever suits it (flat label maps: PNG; photos: JPEG).
All text is HTML-escaped. The page is written atomically.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> photo = np.zeros((32, 32, 3), np.uint8)
    >>> page = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", "Demo", [
    ...     Section("Images", [PanelRow([Panel(photo, "photo")], title="a <cat>"), Legend(["sky", "cat"])])])
    >>> "a &lt;cat&gt;" in page.read_text()
    True
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from encoderscope._io import write_bytes, write_text
from encoderscope.errors import ParameterError
from encoderscope.report.encoding import jpeg_bytes, png_bytes
from encoderscope.report.overlay import ImageLike, thumbnail, to_rgb_array
from encoderscope.report.palette import concept_palette, hex_colors

__all__ = ["Figure", "Legend", "Note", "Panel", "PanelRow", "Section", "Table", "render_report", "write_report"]


@dataclass
class Panel:
    """One captioned picture. ``caption`` is shown under it; ``tooltip`` on hover (both plain text)."""

    image: ImageLike
    caption: str = ""
    tooltip: str = ""


@dataclass
class PanelRow:
    """Pictures side by side with an optional row title (e.g. the image key) above them."""

    panels: Sequence[Panel]
    title: str = ""


@dataclass
class Legend:
    """Concept colour swatches: ``names[i]`` is concept id ``i``; ``colors`` default to ``concept_palette``."""

    names: Sequence[str]
    colors: np.ndarray | None = None
    title: str = "Concepts"
    ids: Sequence[int | str] | None = None


@dataclass
class Table:
    """A table from a list of dicts; columns in order of first appearance unless ``columns`` is given.

    Floats are shown with ``float_digits`` significant digits; numbers are right-aligned.
    """

    rows: Sequence[Mapping[str, Any]]
    caption: str = ""
    columns: Sequence[str] | None = None
    float_digits: int = 4


@dataclass
class Figure:
    """One large picture (a gallery, a grid figure or a plot) with a caption.

    ``width`` is the displayed width in CSS pixels (never beyond the page). By default a PNG/JPEG given as bytes
    or a path that records its resolution (matplotlib does) is shown at its physical size (``pixels * 96 / dpi``),
    so a 200-dpi plot is not blown up to twice its intended size; other pictures are shown at one CSS pixel per
    pixel.
    """

    image: ImageLike
    caption: str = ""
    width: int | None = None


@dataclass
class Note:
    """A paragraph of plain text (escaped; blank lines separate paragraphs)."""

    text: str


Block = PanelRow | Legend | Table | Figure | Note


@dataclass
class Section:
    """A titled part of the report: an optional introduction, then its blocks in order."""

    title: str
    blocks: Sequence[Block] = field(default_factory=list)
    intro: str = ""


_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; --panel: var(--panel-m); }
header { border-bottom: 1px solid var(--line); margin-bottom: 18px; }
h1 { font-size: 26px; margin: 0 0 4px; font-weight: 650; }
.subtitle { color: var(--muted); margin: 0 0 14px; }
h2 { font-size: 20px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; font-weight: 600; overflow-wrap: anywhere; }
nav ol { margin: 0 0 14px; padding-left: 22px; columns: 2; }
nav a, a { color: var(--accent); text-decoration: none; }
p.note, .intro { max-width: 860px; }
.intro { color: var(--muted); }
.row { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; margin-bottom: 6px; }
figure.panel { margin: 0; width: var(--panel); }
figure.panel img { width: 100%; height: auto; display: block; border-radius: 3px; background: var(--soft);
  image-rendering: auto; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 3px; line-height: 1.35;
  overflow-wrap: anywhere; }
figure.figure { margin: 10px 0 16px; }
figure.figure img { max-width: 100%; height: auto; display: block; }
figure.figure figcaption { font-size: 13.5px; max-width: 860px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 6px 0 12px; padding: 8px 10px;
  background: var(--soft); border-radius: 6px; position: sticky; top: 0; z-index: 1;
  box-shadow: 0 1px 0 var(--line); }
.sizes { font-size: 13px; color: var(--muted); margin: 0 0 12px; }
.sizes label { margin-left: 8px; cursor: pointer; }
main:has(#size-s:checked) { --panel: calc(var(--panel-m) * 2 / 3); }
main:has(#size-l:checked) { --panel: calc(var(--panel-m) * 3 / 2); }
@media print { .sizes, nav { display: none; } .legend { position: static; }
  figure, tr, .legend { break-inside: avoid; } h2, h3 { break-after: avoid; } }
.legend .title { font-weight: 600; width: 100%; font-size: 13px; }
.legend span.item { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; }
.swatch { width: 14px; height: 14px; border-radius: 3px; display: inline-block; border: 1px solid rgba(0,0,0,.25); }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13.5px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
details { margin-top: 28px; }
summary { cursor: pointer; font-weight: 600; }
pre { background: var(--soft); padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 12.5px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12.5px; }
"""


# Report thumbnails are shown at about 2/3 of their pixel size; at this quality and 4:2:0 chroma the difference
# from 4:4:4 at quality 88 is not visible there, and files are a third smaller.
_JPEG_QUALITY = 84
_JPEG_QUALITY_TEXT = 90  # figures with text: 4:4:4 chroma, a higher quality
_FLAT_FOR_PNG = 0.5


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


class _ImageStore:
    """Turns pictures into ``src`` attributes: data URIs, or files in a folder beside the page."""

    def __init__(self, page: Path | None, embed: bool, image_format: str) -> None:
        if image_format not in ("auto", "png", "jpeg"):
            raise ParameterError(f"image_format must be 'auto', 'png' or 'jpeg', got {image_format!r}")
        self.page, self.embed, self.image_format = page, embed, image_format
        self.folder = page.with_name(page.stem + "_files") if page is not None and not embed else None
        self.total_bytes = 0

    def _encode(self, rgb: np.ndarray, figure: bool) -> tuple[bytes, str]:
        kind = self.image_format
        if kind == "auto" and figure:
            # Figures are few and hold text: encode both, keep PNG unless it is much larger (photo-heavy galleries).
            png, jpg = png_bytes(rgb), jpeg_bytes(rgb, quality=_JPEG_QUALITY_TEXT)
            return (png, "png") if len(png) <= 1.3 * len(jpg) else (jpg, "jpeg")
        if kind == "auto":
            # Panels are many: flat colours (label maps) go to PNG, photos and overlays to JPEG, decided cheaply by
            # the share of pixels equal to their left neighbour instead of encoding twice.
            flat = float(np.all(rgb[:, 1:] == rgb[:, :-1], axis=-1).mean()) if rgb.shape[1] > 1 else 1.0
            kind = "png" if flat >= _FLAT_FOR_PNG else "jpeg"
        if kind == "png":
            return png_bytes(rgb), "png"
        return jpeg_bytes(rgb, quality=_JPEG_QUALITY, subsampling=2), "jpeg"

    def src(self, image: ImageLike, max_side: int, width_only: bool = False) -> str:
        """``src`` for a picture downscaled to ``max_side`` (its width only, for tall figures such as galleries)."""
        if width_only:
            rgb = to_rgb_array(image)
            if rgb.shape[1] > max_side:
                rgb = thumbnail(rgb, round(max_side * max(rgb.shape[:2]) / rgb.shape[1]))
        else:
            rgb = thumbnail(image, max_side)
        data, kind = self._encode(rgb, figure=width_only)
        self.total_bytes += len(data)
        if self.folder is None:
            return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"
        name = f"{hashlib.sha256(data).hexdigest()[:16]}.{'png' if kind == 'png' else 'jpg'}"
        target = self.folder / name
        if not target.exists():
            write_bytes(target, data)
        return f"{self.folder.name}/{name}"


def _format_cell(value: Any, digits: int) -> tuple[str, bool]:
    """(text, is_number) for a table cell."""
    if value is None:
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), False
    if isinstance(value, (int, np.integer)):
        return str(int(value)), True
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            return str(value), True
        return f"{value:.{digits}g}", True
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_cell(v, digits)[0] for v in value), False
    return str(value), False


def _render_table(table: Table) -> str:
    columns = list(table.columns) if table.columns is not None else []
    if table.columns is None:
        for row in table.rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
    parts = ['<div class="table-wrap"><table>']
    if table.caption:
        parts.append(f"<caption>{_esc(table.caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in columns) + "</tr></thead><tbody>")
    for row in table.rows:
        cells = []
        for column in columns:
            text, numeric = _format_cell(row.get(column), table.float_digits)
            cells.append(f'<td class="num">{_esc(text)}</td>' if numeric else f"<td>{_esc(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _render_legend(legend: Legend) -> str:
    names = list(legend.names)
    if not names:
        return ""
    colours = hex_colors(concept_palette(len(names)) if legend.colors is None else legend.colors)
    if len(colours) < len(names):
        raise ParameterError(f"legend has {len(names)} names but only {len(colours)} colours")
    ids = list(legend.ids) if legend.ids is not None else list(range(len(names)))
    items = []
    for concept_id, name, colour in zip(ids, names, colours, strict=False):
        label = f"{concept_id}" if str(name) in ("", str(concept_id)) else f"{concept_id} · {name}"
        items.append(f'<span class="item"><span class="swatch" style="background:{colour}"></span>{_esc(label)}</span>')
    title = f'<span class="title">{_esc(legend.title)}</span>' if legend.title else ""
    return f'<div class="legend">{title}{"".join(items)}</div>'


def _paragraphs(text: str, css_class: str) -> str:
    chunks = [c.strip() for c in str(text).split("\n\n") if c.strip()]
    return "".join(f'<p class="{css_class}">{_esc(c)}</p>' for c in chunks)


def _physical_width(image: ImageLike) -> int | None:
    """CSS width of an encoded picture that records a resolution above screen resolution, else None."""
    if not isinstance(image, (bytes, bytearray, str, os.PathLike)):
        return None
    try:
        with Image.open(io.BytesIO(image) if isinstance(image, (bytes, bytearray)) else image) as opened:
            dpi = opened.info.get("dpi")
            width = opened.width
    except OSError:
        return None  # reading fails later with the usual one-line error
    if not dpi or float(dpi[0]) < 120:
        return None
    return round(width * 96 / float(dpi[0]))


def _render_block(block: Block, store: _ImageStore, thumb_side: int, figure_side: int) -> str:
    if isinstance(block, PanelRow):
        title = f"<h3>{_esc(block.title)}</h3>" if block.title else ""
        figures = []
        for panel in block.panels:
            tip = f' title="{_esc(panel.tooltip)}"' if panel.tooltip else ""
            caption = f"<figcaption>{_esc(panel.caption)}</figcaption>" if panel.caption else ""
            figures.append(
                f'<figure class="panel"{tip}><img src="{store.src(panel.image, thumb_side)}" '
                f'alt="{_esc(panel.caption)}" loading="lazy">{caption}</figure>'
            )
        return f'{title}<div class="row">{"".join(figures)}</div>'
    if isinstance(block, Legend):
        return _render_legend(block)
    if isinstance(block, Table):
        return _render_table(block)
    if isinstance(block, Figure):
        caption = f"<figcaption>{_esc(block.caption)}</figcaption>" if block.caption else ""
        width = block.width if block.width is not None else _physical_width(block.image)
        style = f' style="width:{int(width)}px"' if width else ""
        return (
            f'<figure class="figure"><img src="{store.src(block.image, figure_side, width_only=True)}"{style} '
            f'alt="{_esc(block.caption)}">{caption}</figure>'
        )
    if isinstance(block, Note):
        return _paragraphs(block.text, "note")
    raise ParameterError(f"unknown report block {type(block).__name__}")


def _anchor(index: int, title: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:40]
    return f"s{index}-{slug}" if slug else f"s{index}"


def render_report(
    title: str,
    sections: Sequence[Section],
    config: Mapping[str, Any] | None = None,
    subtitle: str = "",
    thumb_side: int = 360,
    figure_side: int = 1600,
    panel_px: int = 240,
    image_format: str = "auto",
    _store: _ImageStore | None = None,
) -> str:
    """The report as an HTML string with every picture embedded (see :func:`write_report` for the arguments).

    Example:
        >>> "<h1>A &amp; B</h1>" in render_report("A & B", [Section("empty")])
        True
    """
    store = _store or _ImageStore(None, True, image_format)
    toc = ""
    if len(sections) > 1:
        links = "".join(
            f'<li><a href="#{_anchor(i, s.title)}">{_esc(s.title)}</a></li>' for i, s in enumerate(sections)
        )
        toc = f"<nav><ol>{links}</ol></nav>"
    body = []
    for i, section in enumerate(sections):
        body.append(f'<section id="{_anchor(i, section.title)}"><h2>{_esc(section.title)}</h2>')
        if section.intro:
            body.append(_paragraphs(section.intro, "intro"))
        body.extend(_render_block(b, store, thumb_side, figure_side) for b in section.blocks)
        body.append("</section>")
    config_html = ""
    if config is not None:
        text = json.dumps(config, indent=2, default=str, sort_keys=False)
        config_html = f"<details><summary>Run configuration</summary><pre>{_esc(text)}</pre></details>"
    from encoderscope import __version__

    sub = f'<p class="subtitle">{_esc(subtitle)}</p>' if subtitle else ""
    has_panels = any(isinstance(b, PanelRow) for s in sections for b in s.blocks)
    sizes = (
        (
            '<div class="sizes">Panel size:'
            + "".join(
                f'<label><input type="radio" name="size" id="size-{key}"{" checked" if key == "m" else ""}>'
                f"{name}</label>"
                for key, name in (("s", "small"), ("m", "medium"), ("l", "large"))
            )
            + "</div>"
        )
        if has_panels
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data: 'self' file:; "
        "style-src 'unsafe-inline'\">"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n"
        f'<body><main style="--panel-m:{int(panel_px)}px"><header><h1>{_esc(title)}</h1>{sub}{toc}{sizes}</header>\n'
        + "\n".join(body)
        + f"\n{config_html}<footer>Made with encoderscope {_esc(__version__)}.</footer></main></body></html>\n"
    )


def write_report(
    path: str | os.PathLike[str],
    title: str,
    sections: Sequence[Section],
    config: Mapping[str, Any] | None = None,
    subtitle: str = "",
    embed: bool = True,
    thumb_side: int = 360,
    figure_side: int = 1600,
    panel_px: int = 240,
    image_format: str = "auto",
) -> Path:
    """Write a self-contained HTML report to ``path`` (atomically) and return the path.

    Args:
        path: the ``.html`` file to write.
        title: the page heading (plain text).
        subtitle: the line under the heading (plain text).
        sections: :class:`Section` s in order.
        config: the resolved run configuration, shown folded at the end as JSON.
        embed: pictures as data URIs in the page (one file); ``False`` writes them to ``<name>_files/`` beside it.
        thumb_side: longest side in pixels of panel pictures (downscaled, never upscaled).
        figure_side: largest width in pixels of figures (tall figures such as galleries keep their height).
        panel_px: displayed panel width in CSS pixels ("medium" in the page's small / medium / large switch, which
            works without scripts).
        image_format: ``"auto"`` (PNG or JPEG, whichever suits each picture), ``"png"`` or ``"jpeg"``.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_report(pathlib.Path(tempfile.mkdtemp()) / "r.html", "T", [Section("S", [Note("hi")])])
        >>> p.read_text().count("<section")
        1
    """
    page = Path(path)
    store = _ImageStore(page, embed, image_format)
    text = render_report(
        title,
        sections,
        config=config,
        subtitle=subtitle,
        thumb_side=thumb_side,
        figure_side=figure_side,
        panel_px=panel_px,
        image_format=image_format,
        _store=store,
    )
    write_text(page, text)
    return page
