"""Scale benchmark (issue 13): the input pipeline by number of workers, NAVE with a cold and a warm activation store,
and the store's size and read speed against the per-image ``.npz`` cache it replaced.

In ONE run, on VOC-sized JPEGs (500 x 375, quality 90) cut from ``zoo:photos`` with seeded random crops into a
temporary folder:

1. **input pipeline alone**: decode + preprocess (``zoo:dinov2-vits14``'s dense preprocessing: shorter side 224,
   padded to a multiple of 14) of ``--pipeline-images`` JPEGs through :func:`encoderscope.capture.inputs.iter_prepared`,
   no model, with 0 (in-process), 1 and 2 worker processes: images per second;
2. **NAVE with the store**: ``zoo:dinov2-vits14``, ``blocks.11``, K = 5, image scope, batch 8, default workers, on
   ``--nave-images`` of the JPEGs: without a store, with a cold (empty) store that it fills, and with the warm store;
3. **store vs per-image .npz**: bytes per image of the warm store against the same activations written as one
   uncompressed ``.npz`` per image (the layout of the cache this store replaced), and the time to read all of them
   back.

Each timing is repeated ``--rounds`` times, interleaved, and the fastest round is kept (the machine may be shared).
The rows are written to the "Scale" section of BENCHMARKS.md (other sections kept).

Usage: ``python benchmarks/bench_scale.py [--rounds 2] [--pipeline-images 200] [--nave-images 300] [--no-write]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import _sections  # the benchmarks folder is on sys.path when a script runs
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MODEL = "zoo:dinov2-vits14"
LAYER = "blocks.11"
K = 5
BATCH = 8
SECTION = "Scale"
VOC_SIZE = (500, 375)  # width, height


def make_jpegs(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` 500 x 375 JPEGs: seeded random crops (40-100 % of the shorter side, 4:3) of the zoo photos."""
    from PIL import Image

    from encoderscope.data.images import open_images

    photos = [item.load() for item in open_images("zoo:photos").items]
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        width, height = photo.size
        crop_w = min(width, round(height * 4 / 3))
        crop_w = max(16, round(crop_w * rng.uniform(0.4, 1.0)))
        crop_h = max(12, round(crop_w * 3 / 4))
        left = int(rng.integers(0, max(1, width - crop_w + 1)))
        top = int(rng.integers(0, max(1, height - crop_h + 1)))
        picture = photo.crop((left, top, left + crop_w, top + crop_h)).resize(VOC_SIZE, Image.Resampling.BICUBIC)
        path = folder / f"{i:04d}.jpg"
        picture.save(path, quality=90)
        paths.append(path)
    return paths


def pipeline_rate(items, preprocess, workers: int) -> float:
    """1. Decode + preprocess every item through the input pipeline; seconds."""
    from encoderscope.capture.inputs import iter_prepared

    start = time.perf_counter()
    count = sum(1 for _ in iter_prepared(items, preprocess.dense, workers=workers))
    assert count == len(items)
    return time.perf_counter() - start


def nave_run(encoder, folder: Path, cache: Path | None, workers: int | None) -> float:
    """2. NAVE image scope on the folder; seconds."""
    from encoderscope.nave import nave

    start = time.perf_counter()
    result = nave(encoder, folder, [LAYER], k=K, batch_size=BATCH, progress=False, cache=cache or False,
                  workers=workers)
    assert len(result.records) > 0
    return time.perf_counter() - start


def npz_comparison(store_dir: Path, npz_dir: Path) -> dict[str, float]:
    """3. Bytes and read time of the store against one uncompressed .npz per image (the old cache's layout)."""
    from encoderscope._io import read_npz, write_npz
    from encoderscope.capture.store import ActivationStore

    (model,) = [p.name for p in store_dir.iterdir() if (p / "model.json").is_file()]
    store = ActivationStore(store_dir, model)
    keys = sorted(store.index)
    stored = store.read(keys)
    npz_dir.mkdir(parents=True, exist_ok=True)
    for key, image in stored.items():
        arrays = {}
        for index, output in enumerate(image.outputs.values()):
            for part in ("grid", "prefix", "vector", "raw"):
                tensor = getattr(output, part)
                if tensor is not None:
                    arrays[f"{index}.{part}"] = tensor.numpy()
        arrays["__meta__"] = np.frombuffer(b'{"blocks.11": {"kind": "tokens"}}', dtype=np.uint8)
        write_npz(npz_dir / f"{key}.npz", arrays, compressed=False)
    store_bytes = sum(p.stat().st_size for p in (store_dir / model / "shards").iterdir())
    npz_bytes = sum(p.stat().st_size for p in npz_dir.iterdir())
    _drop_page_cache_hint(store_dir, npz_dir)
    start = time.perf_counter()
    assert len(ActivationStore(store_dir, model).read(keys)) == len(keys)
    store_read = time.perf_counter() - start
    start = time.perf_counter()
    for key in keys:
        arrays = read_npz(npz_dir / f"{key}.npz")
        {name: torch.from_numpy(value) for name, value in arrays.items()}
    npz_read = time.perf_counter() - start
    grid = next(iter(stored.values())).outputs[LAYER].grid
    return {
        "grid": "x".join(str(n) for n in grid.shape[1:]), "images": len(keys), "store_bytes": store_bytes,
        "npz_bytes": npz_bytes, "store_read": store_read,
        "npz_read": npz_read, "store_files": len(store.shards),
    }


def _drop_page_cache_hint(*folders: Path) -> None:
    """Ask the kernel to drop these files from the page cache (best effort; both reads then start alike)."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and hasattr(os, "posix_fadvise"):
                with open(path, "rb") as handle:
                    os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pipeline-images", type=int, default=200)
    parser.add_argument("--nave-images", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from encoderscope.capture.inputs import default_workers
    from encoderscope.data.images import open_images
    from encoderscope.zoo import load_model

    work = Path(tempfile.mkdtemp(prefix="encoderscope-bench-scale-"))
    try:
        photos = work / "photos"
        photos.mkdir()
        make_jpegs(photos, max(args.pipeline_images, args.nave_images))
        encoder = load_model(MODEL)
        items = open_images(photos, limit=args.pipeline_images).items
        nave_folder = work / "nave"
        nave_folder.mkdir()
        for path in sorted(photos.iterdir())[: args.nave_images]:
            os.link(path, nave_folder / path.name)
        workers = default_workers()

        pipeline: dict[int, list[float]] = {0: [], 1: [], 2: []}
        runs: dict[str, list[float]] = {"no store": [], "cold store": [], "warm store": []}
        for round_index in range(args.rounds):
            for n_workers in pipeline:
                pipeline[n_workers].append(pipeline_rate(items, encoder.preprocess, n_workers))
                print(f"round {round_index + 1} pipeline, {n_workers} workers: {pipeline[n_workers][-1]:.2f} s",
                      flush=True)
            store_dir = work / f"store-{round_index}"
            for name, cache, n_workers in (
                ("no store", None, workers),
                ("cold store", store_dir, workers),
                ("warm store", store_dir, workers),
            ):
                runs[name].append(nave_run(encoder, nave_folder, cache, n_workers))
                print(f"round {round_index + 1} nave, {name}: {runs[name][-1]:.2f} s", flush=True)
        npz = npz_comparison(work / "store-0", work / "npz")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    best_pipe = {n: min(v) for n, v in pipeline.items()}
    rate = {n: args.pipeline_images / s for n, s in best_pipe.items()}
    best = {name: min(values) for name, values in runs.items()}
    n_nave = args.nave_images
    load = os.getloadavg()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `benchmarks/bench_scale.py` on "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch {torch.__version__}; "
        f"load average {load[0]:.1f} / {load[1]:.1f} (1 / 5 min) at the end: the machine was shared with other "
        f"jobs, so absolute figures are noisy; fastest of {args.rounds} interleaved rounds.",
        "",
        f"Input pipeline alone: decode + dense preprocessing (`{MODEL}`: shorter side 224, padded to 14) of "
        f"{args.pipeline_images} JPEGs of 500 x 375, no model:",
        "",
        "| workers | seconds | images / s | vs in-process |",
        "|---:|---:|---:|---:|",
        *[
            f"| {n}{' (in-process)' if n == 0 else ''} | {best_pipe[n]:.2f} | {rate[n]:.0f} | "
            f"{rate[n] / rate[0]:.2f} |"
            for n in sorted(rate)
        ],
        "",
        f"NAVE, `{MODEL}`, `{LAYER}`, K = {K}, image scope, batch {BATCH}, {n_nave} of those JPEGs "
        f"(default workers here: {workers}):",
        "",
        "| run | seconds | ms / image | ratio |",
        "|---|---:|---:|---:|",
        f"| a. no store | {best['no store']:.2f} | {1000 * best['no store'] / n_nave:.0f} | 1.00 |",
        f"| b. cold store (computes and writes every shard) | {best['cold store']:.2f} | "
        f"{1000 * best['cold store'] / n_nave:.0f} | b/a = {best['cold store'] / best['no store']:.2f} |",
        f"| c. warm store (reads every shard, no decoding, no forward) | {best['warm store']:.2f} | "
        f"{1000 * best['warm store'] / n_nave:.0f} | b/c = {best['cold store'] / best['warm store']:.1f} |",
        "",
        _sections.all_rounds(runs),
        "",
        f"Store against one uncompressed .npz per image (the cache it replaced), {npz['images']} images of "
        f"`{LAYER}` (patch grid C x h x w = {npz['grid']} for most images, plus the CLS token; float32):",
        "",
        "| layout | files | MB | KB / image | read all (s) |",
        "|---|---:|---:|---:|---:|",
        f"| safetensors shards + manifest | {npz['store_files']} | {npz['store_bytes'] / 1e6:.1f} | "
        f"{npz['store_bytes'] / npz['images'] / 1e3:.1f} | {npz['store_read']:.3f} |",
        f"| per-image .npz | {npz['images']} | {npz['npz_bytes'] / 1e6:.1f} | "
        f"{npz['npz_bytes'] / npz['images'] / 1e3:.1f} | {npz['npz_read']:.3f} |",
        "",
        f"Size ratio store / npz: {npz['store_bytes'] / npz['npz_bytes']:.3f}; read time ratio npz / store: "
        f"{npz['npz_read'] / npz['store_read']:.2f} (store reads include the checksum of every shard).",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        print(f"wrote {_sections.write_section(SECTION, markdown)}")


if __name__ == "__main__":
    main()
