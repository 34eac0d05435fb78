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

4. **Ray engine** (``--parts ray``): NAVE as in 2 (no store) on ``--ray-images`` of the JPEGs with ``engine="local"``
   and ``engine="ray"`` (a local cluster started and stopped by the run, as a command does: default actors, and 2
   actors), the cluster's start and stop timed alone; and the **driver's peak memory** (peak RSS of the process
   that calls ``nave``: ``VmHWM`` after a reset, each run in a fresh process) of a dataset-scope run with
   ``engine="ray"`` on 200 and 2000 small generated images (64 x 64 PNGs) under a tiny random-init ViT (near-free
   forward passes, so the 2000 run takes minutes), beside the local engine's.

Each timing is repeated ``--rounds`` times, interleaved, and the fastest round is kept (the machine may be shared).
The rows are written to the "Scale" section of BENCHMARKS.md (other sections kept); part 4 is its "Ray engine"
subsection, so ``--parts ray`` rewrites only that.

Usage: ``python benchmarks/bench_scale.py [--parts store,ray] [--rounds 2] [--pipeline-images 200]
[--nave-images 300] [--ray-images 240] [--ray-rounds 1] [--memory-sizes 200,2000] [--no-write]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
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
RAY_TITLE = "Ray engine"
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


def make_small_pngs(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` seeded 64 x 64 PNGs (a gradient with a bright square at a random place)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    for i in range(n):
        pixels = np.stack([xx * 4, yy * 4, np.full_like(xx, 128)], axis=-1).astype(np.uint8)
        top, left = rng.integers(0, 40, size=2)
        pixels[top : top + 24, left : left + 24] = rng.integers(0, 256, size=3)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")


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


def store_part(args: argparse.Namespace) -> str:
    """Parts 1 to 3: the markdown of the section (without the Ray subsection)."""
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
    return "\n".join(lines)


def _header(rounds: int) -> str:
    load = os.getloadavg()
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `benchmarks/bench_scale.py --parts ray` on "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, ray {_ray_version()}; load average {load[0]:.1f} / "
        f"{load[1]:.1f} (1 / 5 min) at the end (shared machine); fastest of {rounds} round(s)."
    )


def _ray_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("ray")


def ray_nave_run(encoder, folder: Path, engine: str, actors: int | None) -> float:
    """4. NAVE image scope with one engine, the Ray cluster started and stopped inside; seconds."""
    from encoderscope.nave import nave

    start = time.perf_counter()
    result = nave(encoder, folder, [LAYER], k=K, batch_size=BATCH, progress=False, engine=engine, ray_actors=actors)
    assert len(result.records) > 0
    return time.perf_counter() - start


def cluster_start_stop() -> float:
    """Seconds to start a local Ray cluster and shut it down again (what every --engine ray command pays)."""
    from encoderscope.capture.ray_engine import ray_session

    start = time.perf_counter()
    with ray_session() as ray:
        ray.cluster_resources()
    return time.perf_counter() - start


def memory_child(folder: Path, n_images: int, engine: str) -> None:
    """(In a fresh process) a dataset-scope NAVE run on the first ``n_images`` of ``folder``; prints the peak RSS."""
    from encoderscope.data.images import open_images
    from encoderscope.nave import nave
    from encoderscope.zoo import load_model

    encoder = load_model("timm:vit_small_patch14_reg4_dinov2", random_init=True, seed=0, img_size=56, depth=2,
                         embed_dim=32, num_heads=2)
    images = open_images(folder, limit=n_images)
    # the peak RSS a process inherits over fork/exec (ru_maxrss) is its parent's: reset it (Linux), then read VmHWM
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    result = nave(encoder, images, k=4, scope="dataset", batch_size=32, progress=False, engine=engine,
                  **({"ray_actors": 2} if engine == "ray" else {}))
    assert len(result.records) == n_images
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
    print(json.dumps({"peak_mb": peak_kb / 1024, "seconds": time.perf_counter() - start}))


def peak_memory(folder: Path, n_images: int, engine: str) -> dict[str, float]:
    """The driver's peak RSS (MB) and seconds of one dataset-scope run, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("RAY_ADDRESS", None)
    run = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(folder), str(n_images), engine], env=env, check=True,
        capture_output=True, text=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def ray_part(args: argparse.Namespace) -> str:
    """Part 4: the markdown of the Ray subsection."""
    from encoderscope.zoo import load_model

    work = Path(tempfile.mkdtemp(prefix="encoderscope-bench-ray-"))
    try:
        photos = work / "photos"
        photos.mkdir()
        make_jpegs(photos, args.ray_images)
        encoder = load_model(MODEL)
        speed: dict[str, list[float]] = {"local": [], "ray, default actors": [], "ray, 2 actors": [],
                                         "cluster start + stop": []}
        for round_index in range(args.ray_rounds):
            for name, engine, actors in (("local", "local", None), ("ray, default actors", "ray", None),
                                         ("ray, 2 actors", "ray", 2)):
                speed[name].append(ray_nave_run(encoder, photos, engine, actors))
                print(f"round {round_index + 1} {name}: {speed[name][-1]:.2f} s", flush=True)
            speed["cluster start + stop"].append(cluster_start_stop())
        small = work / "small"
        small.mkdir()
        sizes = [int(n) for n in args.memory_sizes.split(",")]
        make_small_pngs(small, max(sizes))
        memory = {}
        for engine in ("ray", "local"):
            for n in sizes:
                memory[engine, n] = peak_memory(small, n, engine)
                print(f"memory {engine} {n}: {memory[engine, n]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {name: min(values) for name, values in speed.items()}
    from encoderscope.capture.ray_engine import actor_plan

    plan = actor_plan({"CPU": float(os.cpu_count() or 1)})
    small_n, large_n = sizes
    ratio = {e: memory[e, large_n]["peak_mb"] / memory[e, small_n]["peak_mb"] for e in ("ray", "local")}
    lines = [
        _header(args.ray_rounds),
        "",
        f"NAVE, `{MODEL}`, `{LAYER}`, K = {K}, image scope, batch {BATCH}, {args.ray_images} JPEGs of 500 x 375; "
        f"the Ray runs start a local cluster and stop it, as `--engine ray` does (default here: {plan.size} actor(s) "
        f"of {plan.num_cpus} CPU, {plan.threads} torch thread(s) each; 2 actors: "
        f"{actor_plan({'CPU': float(os.cpu_count() or 1)}, 2).num_cpus} CPU and "
        f"{actor_plan({'CPU': float(os.cpu_count() or 1)}, 2).threads} thread each):",
        "",
        "| run | seconds | ms / image | vs local |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {best[name]:.2f} | {1000 * best[name] / args.ray_images:.0f} | "
            f"{best[name] / best['local']:.2f} |"
            for name in ("local", "ray, default actors", "ray, 2 actors")
        ],
        f"| (cluster start + stop alone) | {best['cluster start + stop']:.2f} | | |",
        "",
        _sections.all_rounds(speed),
        "",
        "Driver memory, dataset scope (K = 4, batch 32, fit sample 20000 positions), tiny random-init ViT (2 blocks, "
        "width 32, 56 px: a 4 x 4 grid), 64 x 64 PNGs; peak RSS of the process that calls `nave` (`VmHWM`, a "
        "fresh process per run; Ray: 2 actors):",
        "",
        f"| engine | {small_n} images: peak MB | {large_n} images: peak MB | ratio {large_n} / {small_n} | "
        f"seconds ({small_n} / {large_n}) |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {engine} | {memory[engine, small_n]['peak_mb']:.0f} | {memory[engine, large_n]['peak_mb']:.0f} | "
            f"{ratio[engine]:.3f} | {memory[engine, small_n]['seconds']:.1f} / "
            f"{memory[engine, large_n]['seconds']:.1f} |"
            for engine in ("ray", "local")
        ],
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="store,ray", help="comma-separated: store (parts 1-3), ray (part 4)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pipeline-images", type=int, default=200)
    parser.add_argument("--nave-images", type=int, default=300)
    parser.add_argument("--ray-images", type=int, default=240)
    parser.add_argument("--ray-rounds", type=int, default=1)
    parser.add_argument("--memory-sizes", default="200,2000", help="two image counts for the driver memory runs")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--memory-child", nargs=3, metavar=("FOLDER", "N", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        folder, n_images, engine = args.memory_child
        memory_child(Path(folder), int(n_images), engine)
        return
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if "store" in parts:
        markdown = store_part(args)
        kept = None if "ray" in parts else _sections.read_subsection(SECTION, RAY_TITLE)
        markdown += f"\n\n{kept}" if kept else ""
        print(markdown)
        if not args.no_write:
            print(f"wrote {_sections.write_section(SECTION, markdown)}")
    if "ray" in parts:
        markdown = ray_part(args)
        print(markdown)
        if not args.no_write:
            print(f"wrote {_sections.write_subsection(SECTION, RAY_TITLE, markdown)}")


if __name__ == "__main__":
    main()
