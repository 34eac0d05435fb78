"""Text on report pictures: the report font, line sizes, greedy word wrap and drawing blocks of lines.

Every composed figure (panels side by side, grids, galleries) lays out its titles, captions and labels with these
functions, so all of them share one font and one line height (1.3 x the font size).

Example:
    >>> from PIL import Image, ImageDraw
    >>> lines = wrap("a caption long enough to need a second line", 120, 13)
    >>> len(lines) > 1, text_height(lines, 13) == int(13 * 1.3) * len(lines)
    (True, True)
    >>> canvas = Image.new("RGB", (120, 60), (255, 255, 255))
    >>> draw_text(ImageDraw.Draw(canvas), lines, 0, 0, 120, TextStyle(13)) == text_height(lines, 13)
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

from encoderscope.errors import ParameterError

TEXT_COLOR = (30, 30, 30)
LINE_SPACING = 1.3
"""Line height as a multiple of the font size."""


@dataclass(frozen=True)
class TextStyle:
    """How a block of lines is drawn: font ``size`` in pixels, ``bold``, ``align`` ("center" or "left"), ``color``."""

    size: int
    bold: bool = False
    align: str = "center"
    color: tuple[int, int, int] = TEXT_COLOR

    def __post_init__(self) -> None:
        if self.align not in ("center", "left"):
            raise ParameterError(f"text align must be 'center' or 'left', got {self.align!r}")


@functools.lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's bundled fonts (always present here), else PIL's default font."""
    try:
        from matplotlib import font_manager

        path = font_manager.findfont(
            font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal"),
            fallback_to_default=True,
        )
        return ImageFont.truetype(path, size)
    except (OSError, ImportError, ValueError):  # pragma: no cover - matplotlib always ships DejaVu
        return ImageFont.load_default(size)


def text_size(text: str, size: int = 14, bold: bool = False) -> tuple[int, int]:
    """(width, height) in pixels of one line of ``text`` in the report font."""
    left, top, right, bottom = font(size, bold).getbbox(text or " ")
    return int(right - min(left, 0)), int(bottom - min(top, 0))


def wrap(text: str, width_px: int, size: int, bold: bool = False) -> list[str]:
    """Greedy word wrap to ``width_px``; words longer than a line are cut with an ellipsis."""
    lines: list[str] = []
    for paragraph in str(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if text_size(trial, size, bold)[0] <= width_px or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    fitted = []
    for line in lines:
        while len(line) > 1 and text_size(line, size, bold)[0] > width_px:
            line = line[:-2] + "…"
        fitted.append(line)
    return fitted


def text_height(lines: list[str], size: int) -> int:
    """Height in pixels of ``lines`` drawn at ``size`` (0 when there is no text)."""
    return int(size * LINE_SPACING) * len(lines) if lines and any(lines) else 0


def draw_text(draw: ImageDraw.ImageDraw, lines: list[str], x: int, y: int, width: int, style: TextStyle) -> int:
    """Draw ``lines`` in the box that starts at ``(x, y)`` and is ``width`` wide; returns the y below the block."""
    face = font(style.size, style.bold)
    line_height = int(style.size * LINE_SPACING)
    for line in lines:
        line_width = text_size(line, style.size, style.bold)[0]
        left = x + (width - line_width) // 2 if style.align == "center" else x
        draw.text((left, y), line, fill=style.color, font=face)
        y += line_height
    return y
