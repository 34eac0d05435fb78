"""HTML for notebooks: what every result's ``_repr_html_`` returns, a title line, tables and thumbnail grids of a
bounded size (at most :data:`MAX_ROWS` table rows and :data:`MAX_PICTURES` thumbnails of at most
:data:`THUMB_SIDE` pixels, JPEG-encoded, whatever the size of the result).

Example:
    >>> import numpy as np
    >>> html = result_html("NaveResult('demo')", table_html(["a", "b"], [[1, 2.5]]),
    ...                    thumbnail_grid([(np.zeros((8, 8, 3), np.uint8), "x")]))
    >>> html.startswith("<div") and "<table" in html and "<img" in html
    True
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

from encoderscope.report.encoding import jpeg_bytes, png_bytes
from encoderscope.report.overlay import ImageLike, thumbnail

__all__ = ["MAX_PICTURES", "MAX_ROWS", "THUMB_SIDE", "picture_html", "result_html", "table_html", "thumbnail_grid"]

MAX_ROWS = 20
"""Rows of a table shown at most (a line says how many more there are)."""
MAX_PICTURES = 12
"""Thumbnails shown at most."""
THUMB_SIDE = 192
"""Longer side of a thumbnail in pixels (downscaled, never upscaled)."""

_STYLE = "font-family:sans-serif;font-size:13px;max-width:1100px"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left"


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return html.escape(str(value))


def table_html(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "", max_rows: int = MAX_ROWS,
               digits: int = 3) -> str:
    """A small HTML table (floats with ``digits`` decimals); rows beyond ``max_rows`` are counted, not shown.

    Example:
        >>> "2 more rows" in table_html(["n"], [[1], [2], [3]], max_rows=1)
        True
    """
    head = "".join(f"<th style='{_CELL}'>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'>{_cell(v, digits)}</td>" for v in row) + "</tr>"
        for row in rows[:max_rows]
    )
    caption = f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>" if title else ""
    more = f"<p>{len(rows) - max_rows} more rows not shown.</p>" if len(rows) > max_rows else ""
    return f"<table style='border-collapse:collapse'>{caption}<tr>{head}</tr>{body}</table>{more}"


def picture_html(picture: ImageLike, caption: str = "", side: int = THUMB_SIDE, jpeg: bool = True) -> str:
    """One thumbnail (at most ``side`` px, JPEG unless ``jpeg=False``) with its caption, as an inline figure."""
    small = thumbnail(picture, side)
    data, kind = (jpeg_bytes(small, quality=85), "jpeg") if jpeg else (png_bytes(small), "png")
    source = f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"
    text = f"<figcaption style='font-size:11px'>{html.escape(caption)}</figcaption>" if caption else ""
    return (f"<figure style='display:inline-block;margin:4px;vertical-align:top'>"
            f"<img src='{source}' width='{small.shape[1]}' height='{small.shape[0]}' alt='{html.escape(caption)}'>"
            f"{text}</figure>")


def thumbnail_grid(pictures: Sequence[tuple[ImageLike, str]], title: str = "", max_pictures: int = MAX_PICTURES,
                   total: int | None = None, side: int = THUMB_SIDE) -> str:
    """Captioned thumbnails in rows; only the first ``max_pictures`` of ``pictures`` are encoded. ``total``: how
    many there are in all (default ``len(pictures)``), to say how many are not shown."""
    shown = list(pictures[:max_pictures])
    count = len(pictures) if total is None else total
    head = f"<p style='font-weight:bold'>{html.escape(title)}</p>" if title else ""
    more = f"<p>{count - len(shown)} more not shown.</p>" if count > len(shown) else ""
    return head + "<div>" + "".join(picture_html(p, c, side) for p, c in shown) + "</div>" + more


def result_html(title: str, *blocks: str) -> str:
    """A result's notebook view: its ``repr`` as the title line, then the blocks (tables, thumbnail grids)."""
    return f"<div style='{_STYLE}'><p><code>{html.escape(title)}</code></p>{''.join(blocks)}</div>"
