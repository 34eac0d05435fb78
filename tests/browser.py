"""Test helper: open a report in headless Chromium, a screenshot and the page's console messages (kept in the
tests, not shipped in the package).

The report page has no scripts, so any console message (an uncaught error, a refused resource) is a fault.
Chromium runs offline-minded (no background networking, component updates, sync or QUIC) with a fresh profile
in a temporary folder that is removed afterwards.

Example:
    >>> exe = find_chromium()
    >>> check = check_page("report.html") if exe else None   # doctest: +SKIP
    >>> check.errors, check.blank                              # doctest: +SKIP
    ([], False)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from encoderscope.errors import ParameterError

__all__ = ["BrowserCheck", "check_page", "find_chromium"]

CHROMIUM_ENV = "ENCODERSCOPE_CHROMIUM"
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def find_chromium() -> str | None:
    """The Chromium executable: ``$ENCODERSCOPE_CHROMIUM``, ``/usr/bin/chromium``, or one on ``PATH``; else None."""
    candidates = [os.environ.get(CHROMIUM_ENV, ""), "/usr/bin/chromium"]
    candidates += [shutil.which(name) or "" for name in _NAMES]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class BrowserCheck:
    """What Chromium saw: the screenshot ``(H, W, 3)`` uint8, console lines, and Chromium's own log."""

    screenshot: np.ndarray
    console: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def errors(self) -> list[str]:
        """Console messages (a script-free page should print none)."""
        return list(self.console)

    @property
    def blank(self) -> bool:
        """True when the screenshot is a single flat colour (nothing rendered)."""
        return float(self.screenshot.reshape(-1, 3).astype(np.float64).std(axis=0).max()) < 1.0

    def has_color(self, rgb: tuple[int, int, int] | np.ndarray, tolerance: int = 12, min_pixels: int = 50) -> bool:
        """True when at least ``min_pixels`` screenshot pixels are within ``tolerance`` of ``rgb`` (per channel)."""
        diff = np.abs(self.screenshot.astype(np.int32) - np.asarray(rgb, dtype=np.int32).reshape(1, 1, 3))
        return int((diff.max(axis=-1) <= tolerance).sum()) >= min_pixels


def check_page(
    path: str | os.PathLike[str],
    window: tuple[int, int] = (1200, 900),
    timeout: float = 60.0,
    chromium: str | None = None,
) -> BrowserCheck:
    """Render ``path`` (an HTML file) in headless Chromium; return the screenshot and console messages.

    Raises ``ParameterError`` when the file or Chromium is missing, or Chromium writes no screenshot.
    """
    page = Path(path).resolve()
    if not page.is_file():
        raise ParameterError(f"no such page: {page}")
    exe = chromium or find_chromium()
    if exe is None:
        raise ParameterError(f"Chromium not found (install Debian 'chromium' or set ${CHROMIUM_ENV})")
    with tempfile.TemporaryDirectory(prefix="encoderscope-chromium-") as tmp:
        shot = Path(tmp) / "shot.png"
        command = [
            exe,
            *_FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--window-size={int(window[0])},{int(window[1])}",
            f"--screenshot={shot}",
            page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if not shot.is_file():
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise ParameterError(f"Chromium wrote no screenshot (exit {done.returncode}): {tail}")
        with Image.open(shot) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return BrowserCheck(screenshot=pixels, console=console, log=done.stderr)
