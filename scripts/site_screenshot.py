"""Screenshot of a page of the built documentation site in headless Chromium (after ``make docs``).

    python scripts/site_screenshot.py site/nave.html docs/images/site-nave.png

Uses the same headless Chromium as the report check (``encoderscope.report.browser``); prints the page's console
messages, if any.
"""

from __future__ import annotations

import sys
from pathlib import Path

from encoderscope.report.browser import check_page
from PIL import Image


def main(page: str, out: str, width: int = 1280, height: int = 860) -> None:
    check = check_page(page, window=(width, height))
    if check.blank:
        raise SystemExit(f"{page} rendered blank")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(check.screenshot).save(out, optimize=True)
    for line in check.console:
        print(line)
    print(f"wrote {out} ({Path(out).stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
