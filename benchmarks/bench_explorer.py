"""Explorer benchmark (issue 12): page size, build time and load time in headless Chromium at 100 and 1,000 images.

For each size N, N seeded 224 px crops of the zoo photos (JPEG files, as ``bench_nave.py`` writes them) get two
dataset-scope results of K = 8 concepts on 16 x 16 grids (seeded Voronoi regions: the page's cost does not depend
on where the labels came from), shown side by side as two models with matched colours; each concept's gallery lists
8 images. The page is written by :func:`encoderscope.report.explorer.write_explorer` and opened from ``file://`` in
headless Chromium (Playwright driving the Debian ``/usr/bin/chromium``), ``--rounds`` times in fresh pages; the
fastest round is kept. Times are the page's own ``performance.now()`` from navigation start:

* ready: the JSON parsed and the first view's DOM built (every tile, canvases undrawn);
* painted: the maps of the first screen drawn (thumbnails decoded, label grids drawn over them);
* click: a concept clicked until every visible map is redrawn highlighted and its gallery built.

Then a dissection page: 2048 units on 1,000 probe crops (seeded random activations and concept scores), its ready
time and one search over its unit table.

Usage: ``python benchmarks/bench_explorer.py [--sizes 100,1000] [--rounds 3] [--no-write]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import _sections  # the benchmarks folder is on sys.path when a script runs
import numpy as np

K = 8
GRID = 16
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _labels(rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """A 16 x 16 grid of Voronoi regions around ``centres`` moved a little (the same K concepts in every image)."""
    moved = centres + rng.normal(0, 2.0, centres.shape)
    yy, xx = np.mgrid[0:GRID, 0:GRID]
    distance = (yy[..., None] - moved[:, 0]) ** 2 + (xx[..., None] - moved[:, 1]) ** 2
    return distance.argmin(axis=-1).astype(np.int16)


def make_results(folder: Path, n: int, seed: int = 0) -> list:
    """Two dataset-scope NaveResults of ``n`` images written into ``folder``."""
    from bench_nave import write_crops

    from encoderscope.data.images import ImageItem
    from encoderscope.nave.result import NaveRecord, NaveResult

    folder.mkdir(parents=True, exist_ok=True)
    write_crops(folder, n, size=224, seed=seed)
    paths = sorted(folder.glob("*.jpg"))
    results = []
    for model in range(2):
        rng = np.random.default_rng([seed, model])
        centres = rng.uniform(0, GRID, (K, 2))
        records = [NaveRecord(p.stem, i, _labels(rng, centres), K, (224, 224), (224, 224), (224, 224), str(p),
                              item=ImageItem(p.stem, None, p)) for i, p in enumerate(paths)]
        gallery = {c: sorted(((r.key, float(r.coverage()[c])) for r in records), key=lambda e: -e[1])[:8]
                   for c in range(K)}
        results.append(NaveResult(f"model-{model} · blocks.11", records, {"model": f"model-{model}", "scope": "dataset",
                                                                            "layers": ["blocks.11"], "k": K},
                                  gallery=gallery))
    return results


def measure(page_path: Path, rounds: int) -> dict[str, float]:
    """Fastest ready / painted / click times (ms) over ``rounds`` fresh pages, and console problems."""
    from playwright.sync_api import sync_playwright

    best: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for _ in range(rounds):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m, problems=problems: problems.append(m.text))
            page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_selector("body[data-painted='1']", timeout=120000)
            stats = page.evaluate("window.esExplorer.stats")
            click = page.evaluate("""() => new Promise(resolve => {
                const start = performance.now();
                document.querySelector('.es-concept[data-slot="1"]').click();
                const wait = () => window.esExplorer.stats.pending === 0
                    ? resolve(performance.now() - start) : setTimeout(wait, 1);
                // two frames: the gallery's canvases are seen by the observer and start drawing
                requestAnimationFrame(() => requestAnimationFrame(wait));
            })""")
            if problems:
                raise SystemExit(f"console problems: {problems[:3]}")
            times = {"ready": stats["readyAt"], "painted": stats["firstPaintAt"], "click": click}
            best = {k: min(v, best.get(k, float("inf"))) for k, v in times.items()}
            page.close()
        browser.close()
    return best


def dissection_page(folder: Path, n_images: int, units: int, concepts: int = 500, seed: int = 0) -> Path:
    """The explorer of a dissection of ``units`` units on ``n_images`` probe crops (seeded random activations and
    concept scores, cosine similarity): its unit table is the page's cost."""
    import torch
    from bench_nave import write_crops

    from encoderscope.data.images import ImageItem
    from encoderscope.dissect.activations import activations_from_tensor
    from encoderscope.dissect.describe import describe_units
    from encoderscope.report.explorer import write_explorer

    images = folder / "probe"
    images.mkdir(parents=True, exist_ok=True)
    write_crops(images, n_images, size=224, seed=seed)
    paths = sorted(images.glob("*.jpg"))
    generator = torch.Generator().manual_seed(seed)
    acts = activations_from_tensor(torch.rand(n_images, units, generator=generator), "fc", keys=[p.stem for p in paths])
    acts.items = [ImageItem(p.stem, None, p) for p in paths]
    scores = torch.rand(n_images, concepts, generator=generator)
    result = describe_units(acts, scores, [f"word{i}" for i in range(concepts)], similarity="cos_similarity")
    return write_explorer([result], folder / "dissection.html")


def measure_search(page_path: Path) -> dict[str, float]:
    """Ready time (ms) of a dissection page and the time of one search ('word42') over its unit table."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-painted='1']", timeout=120000)
        ready = page.evaluate("window.esExplorer.stats.readyAt")
        search = page.evaluate("""() => { const start = performance.now(), box = document.querySelector('.es-search');
            box.value = 'word42'; box.dispatchEvent(new Event('input')); return performance.now() - start; }""")
        browser.close()
    return {"ready": ready, "search": search}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from encoderscope.report.explorer import write_explorer

    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp:
            results = make_results(Path(tmp) / "images", n)
            start = time.perf_counter()
            page = write_explorer(results, Path(tmp) / "explorer.html")
            build = time.perf_counter() - start
            size = page.stat().st_size / 1e6
            times = measure(page, args.rounds)
        rows.append((n, size, build, times))
        print(f"{n} images: {size:.2f} MB, built in {build:.1f} s, ready {times['ready']:.0f} ms, painted "
              f"{times['painted']:.0f} ms, click {times['click']:.0f} ms", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp:
        page = dissection_page(Path(tmp), 1000, 2048)
        dissect = {"size": page.stat().st_size / 1e6, **measure_search(page)}
    print(f"dissection: {dissect}", flush=True)
    table = ["| images | page size (MB) | written in (s) | ready (ms) | first screen drawn (ms) | click to highlight "
             "(ms) |", "|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {n} | {size:.2f} | {build:.1f} | {t['ready']:.0f} | {t['painted']:.0f} | {t['click']:.0f} |"
              for n, size, build, t in rows]
    text = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `benchmarks/bench_explorer.py` on "
        f"{os.cpu_count()} CPU cores ({platform.machine()}), headless Debian Chromium through Playwright, load average "
        f"{os.getloadavg()[0]:.1f} at the end (the machine was shared); fastest of {args.rounds} fresh pages.\n\n"
        f"Two dataset-scope results side by side (K = {K}, {GRID} x {GRID} grids), 224 px JPEG crops of the zoo "
        "photos, 128 px thumbnails. Ready: JSON parsed and every tile built; first screen drawn: the visible maps "
        "decoded and drawn; click: a concept highlighted in every visible map and its gallery built.\n\n"
        + "\n".join(table)
        + f"\n\nA dissection of 2048 units on 1000 probe crops (500 concepts; each unit's 6 top images): "
        f"{dissect['size']:.2f} MB, ready in {dissect['ready']:.0f} ms, one search over the unit table "
        f"{dissect['search']:.1f} ms."
    )
    if not args.no_write:
        _sections.write_section("Explorer", text)
    print(text)


if __name__ == "__main__":
    main()
