"""Screenshot of an explorer page in headless Chromium (Playwright on the Debian chromium), e.g. for the README:

    python scripts/explorer_screenshot.py demo-out/explorer.html docs/images/explorer.png --click 1 --hover

``--click SLOT`` clicks a concept of the legend first (highlight and gallery); ``--hover`` rests the pointer on the
first map so the tooltip shows. The PNG is reduced to 256 colours so that it stays small; prints its size and any
console message of the page.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page")
    parser.add_argument("out")
    parser.add_argument("--click", type=int, default=None, help="legend concept (colour slot) to click first")
    parser.add_argument("--hover", action="store_true", help="rest the pointer on the first map")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=860)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    messages: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.on("console", lambda message: messages.append(message.text))
        page.goto(Path(args.page).resolve().as_uri())
        page.wait_for_selector("body[data-painted='1']", timeout=60000)
        if args.click is not None:
            page.click(f'.es-view:not([hidden]) .es-concept[data-slot="{args.click}"]')
        if args.hover:
            box = page.locator(".es-view:not([hidden]) .es-grid canvas").nth(1).bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
        page.wait_for_function("window.esExplorer.stats.pending === 0")
        page.wait_for_timeout(300)
        shot = page.screenshot()
        browser.close()
    image = Image.open(io.BytesIO(shot)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    for message in messages:
        print(message)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
