"""NAVE benchmarks (issues 3, 10): overhead over the forward pass, the pipeline without the encoder, clustering, memory.

Parts (``--parts``, default all; each writes its own section of BENCHMARKS.md unless ``--no-write``):

1. ``overhead`` (section "NAVE"): in ONE run, on 32 JPEG files (the 21 ``zoo:photos`` and the first 11 of them
   mirrored, written to a temporary folder) and ``zoo:dinov2-vits14`` at 224 x 224 (16 x 16 patches), ``blocks.11``:

   a. floor: the bare forward pass to ``blocks.11``, batch 8, tensors prepared in advance;
   b. encoderscope NAVE, image scope, K = 5, batch 8, default back-end (``auto``: batched k-means on the encoder's
      device), and the same with the per-image ``faiss`` back-end: loading, preprocessing, forward, combining,
      clustering, maps;
   c. a reference-style pipeline written plainly: batch 1, the block's patch tokens, per-position L2
      normalisation, ``sklearn.cluster.KMeans(n_clusters=5)`` with its defaults per image, nearest resize.

   Each is timed ``--rounds`` times, interleaved, and the fastest round is kept (the machine may be shared).
2. ``pipeline`` (section "NAVE pipeline without the encoder"): a near-free encoder (one stride-14 convolution from
   RGB to 384 channels, seeded random weights) on 512 JPEG files of 224 x 224 px (seeded random crops of the zoo
   photos) in a temporary folder; NAVE image scope, K = 5, the default number of k-means++ starts
   (``DEFAULT_N_INIT``), no report; images/s for batch sizes 8, 16, 32 and 64, back-ends ``auto`` and ``faiss``.
   ``--device cuda`` runs the same on a GPU.
3. ``clustering`` (section "Clustering"): k-means with K = 5 and the default number of starts of the 16 x 16 x 384
   grids of the 32 images of part 1 (DINOv2 ``blocks.11`` features): batched torch
   (:func:`encoderscope.cluster.fit_clusters_batch`, batches of 8 and 32) against per-image faiss and per-image torch
   (:func:`encoderscope.cluster.fit_clusters`); images/s.
4. ``rss`` (section "NAVE dataset-scope memory"): the dataset scope's peak RSS (VmHWM, reset once the model is
   loaded), each in a fresh subprocess, for 200 and 2000 images of ``zoo:fashion-mnist`` at 84 px (6 x 6 patches;
   same model and layer, K = 5), where memory, not speed, is the question.

Usage: ``python benchmarks/bench_nave.py [--parts overhead,pipeline,clustering,rss] [--rounds 3] [--device cpu]
[--rss 200,2000] [--no-write]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import _sections  # the benchmarks folder is on sys.path when a script runs
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MODEL = "zoo:dinov2-vits14"
LAYER = "blocks.11"
K = 5
BATCH = 8
N_OVERHEAD = 32
N_PIPELINE = 512
PIPELINE_BATCHES = (8, 16, 32, 64)
PARTS = ("overhead", "pipeline", "clustering", "rss")


def _square(encoder, size: int):
    return dataclasses.replace(encoder, preprocess=dataclasses.replace(encoder.preprocess, size=size, fixed_size=True))


def _encoder(size: int, device: str = "cpu"):
    from encoderscope.zoo import load_model

    return _square(load_model(MODEL), size).to(device)


def _machine(rounds: int | None) -> str:
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `benchmarks/bench_nave.py` on "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (the machine was shared)"
        + (f"; fastest of {rounds} interleaved rounds." if rounds else ".")
    )


def _best(steps: dict[str, Callable[[], None]], rounds: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Time every step ``rounds`` times, interleaved; the fastest round of each."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
            print(f"round {round_index + 1} {name}: {times[name][-1]:.2f} s", flush=True)
    return {name: min(values) for name, values in times.items()}, times


# -- part 1: overhead over the forward pass ----------------------------------------------------------------------


def write_photos(folder: Path, n: int) -> Path:
    """The zoo photos (and mirrored copies up to ``n``) as JPEG files in ``folder``."""
    from PIL import ImageOps

    from encoderscope.data.images import open_images

    photos = [item.load() for item in open_images("zoo:photos").items]
    for i in range(n):
        image = photos[i % len(photos)] if i < len(photos) else ImageOps.mirror(photos[i % len(photos)])
        image.save(folder / f"photo-{i:03d}.jpg", quality=90)
    return folder


def floor_forward(encoder, pixels: list[torch.Tensor], layer: str = LAYER, batch_size: int = BATCH) -> None:
    """a. The bare forward pass up to ``layer`` on prepared tensors."""
    from encoderscope.capture.hooks import run_captured

    for start in range(0, len(pixels), batch_size):
        batch = torch.stack(pixels[start : start + batch_size]).to(encoder.device)
        with torch.inference_mode():
            run_captured(encoder.module, batch, [layer], stop_early=True)
    if encoder.device.type == "cuda":
        torch.cuda.synchronize()


def encoderscope_nave(encoder, images, backend: str, batch_size: int = BATCH, layer: str = LAYER) -> None:
    """b. encoderscope NAVE, image scope."""
    from encoderscope.nave import nave

    result = nave(encoder, images, [layer], k=K, batch_size=batch_size, backend=backend, progress=False)
    assert len(result.records) == len(images) and all(labels.max() < K for _, labels in result.label_maps())


def reference_style(encoder, images) -> None:
    """c. The reference pipeline written plainly: batch 1, sklearn KMeans defaults, one image at a time."""
    from PIL import Image
    from sklearn.cluster import KMeans

    block = dict(encoder.module.named_modules())[LAYER]
    for item in images.items:
        image = item.load()
        x = encoder.preprocess.dense(image).tensor[None].to(encoder.device)
        captured: list[torch.Tensor] = []
        handle = block.register_forward_hook(lambda m, i, o, store=captured: store.append(o))
        with torch.inference_mode():
            encoder.module(x)
        handle.remove()
        z = captured[0][0, 1:]  # drop CLS
        h, w = x.shape[-2] // 14, x.shape[-1] // 14
        z = z / z.norm(dim=1, keepdim=True)
        labels = KMeans(n_clusters=K).fit(z.cpu().numpy()).labels_.reshape(h, w)
        Image.fromarray(labels.astype(np.uint8)).resize(image.size, Image.Resampling.NEAREST)


def overhead(args: argparse.Namespace, folder: Path) -> str:
    from encoderscope.data.images import open_images

    encoder = _encoder(224, args.device)
    images = open_images(write_photos(folder, N_OVERHEAD))
    pixels = [encoder.preprocess.dense(item.load()).tensor for item in images.items]
    floor_forward(encoder, pixels[:BATCH])  # warm-up
    steps = {
        "floor": lambda: floor_forward(encoder, pixels),
        "nave": lambda: encoderscope_nave(encoder, images, "auto"),
        "nave-faiss": lambda: encoderscope_nave(encoder, images, "faiss"),
        "reference": lambda: reference_style(encoder, images),
    }
    best, times = _best(steps, args.rounds)
    ms = {name: 1000 * value / len(images) for name, value in best.items()}
    return "\n".join([
        f"`{MODEL}`, `{LAYER}`, {len(images)} JPEG photos (the 21 `zoo:photos`, 11 of them also mirrored) at "
        f"224 x 224 (16 x 16 patches), K = {K}, device {args.device}:",
        "",
        "| step | seconds | ms / image | ratio |",
        "|---|---:|---:|---:|",
        f"| a. floor: bare forward to `{LAYER}`, batch {BATCH} | {best['floor']:.2f} | {ms['floor']:.0f} | 1.00 |",
        f"| b. encoderscope NAVE, image scope, batch {BATCH}, back-end auto (load, preprocess, forward, cluster, "
        f"maps) | {best['nave']:.2f} | {ms['nave']:.0f} | b/a = {best['nave'] / best['floor']:.3f} "
        "(target <= 1.10) |",
        f"| b'. the same with the per-image faiss back-end | {best['nave-faiss']:.2f} | {ms['nave-faiss']:.0f} | "
        f"b'/a = {best['nave-faiss'] / best['floor']:.3f} |",
        f"| c. reference style: batch 1, sklearn `KMeans(5)` defaults per image | {best['reference']:.2f} | "
        f"{ms['reference']:.0f} | c/b = {best['reference'] / best['nave']:.2f} |",
        "",
        _sections.all_rounds(times),
    ])


# -- part 2: the pipeline without the encoder --------------------------------------------------------------------


def write_crops(folder: Path, n: int, size: int = 224, seed: int = 0) -> Path:
    """``n`` seeded random ``size``-px crops of the zoo photos as JPEG files in ``folder``."""
    from encoderscope.data.images import open_images

    rng = np.random.default_rng(seed)
    photos = [item.load() for item in open_images("zoo:photos").items]
    for i in range(n):
        photo = photos[int(rng.integers(len(photos)))]
        scale = max(size / min(photo.size), float(rng.uniform(1.0, 1.6)) * size / min(photo.size))
        resized = photo.resize((max(size, round(photo.width * scale)), max(size, round(photo.height * scale))))
        left = int(rng.integers(resized.width - size + 1))
        top = int(rng.integers(resized.height - size + 1))
        resized.crop((left, top, left + size, top + size)).save(folder / f"crop-{i:04d}.jpg", quality=90)
    return folder


def near_free_encoder(device: str):
    """One stride-14 convolution from RGB to 384 channels (seeded random weights), fed 224 x 224 inputs."""
    from torch import nn

    from encoderscope.zoo import load_model

    torch.manual_seed(0)
    module = nn.Sequential(OrderedDict(proj=nn.Conv2d(3, 384, kernel_size=14, stride=14)))
    return _square(load_model(module), 224).to(device)


def pipeline(args: argparse.Namespace, folder: Path) -> str:
    from encoderscope.data.images import open_images

    encoder = near_free_encoder(args.device)
    images = open_images(write_crops(folder, N_PIPELINE))
    pixels = [encoder.preprocess.dense(item.load()).tensor for item in images.items]
    encoderscope_nave(encoder, open_images(images, limit=16), "auto", layer="proj")  # warm-up
    steps = {
        f"{backend} batch {size}": (lambda b=backend, s=size: encoderscope_nave(encoder, images, b, s, "proj"))
        for size in PIPELINE_BATCHES
        for backend in ("auto", "faiss")
    }
    steps |= {
        f"convolution batch {size}": (lambda s=size: floor_forward(encoder, pixels, "proj", s))
        for size in PIPELINE_BATCHES
    }
    best, _ = _best(steps, args.rounds)
    rate = {name: len(images) / seconds for name, seconds in best.items()}
    rows = [
        f"| {s} | {rate[f'auto batch {s}']:.0f} | {rate[f'faiss batch {s}']:.0f} "
        f"| {rate[f'convolution batch {s}']:.0f} |"
        for s in PIPELINE_BATCHES
    ]
    return "\n".join([
        f"A near-free encoder (one stride-14 convolution to 384 channels) on {len(images)} JPEG files of 224 x 224 "
        f"px, K = {K}, image scope, {_starts()}, no report, device {args.device}: decoding, preprocessing, the "
        "convolution, combining, clustering and maps. Images/s (target >= 400 with back-end auto); the last column is "
        "the convolution alone on tensors prepared in advance, this machine's ceiling for the other columns:",
        "",
        "| batch size | images/s, back-end auto (batched torch) | images/s, back-end faiss (per image) "
        "| images/s, the convolution alone |",
        "|---:|---:|---:|---:|",
        *rows,
    ])


def _starts() -> str:
    """The default number of k-means++ starts, in words."""
    from encoderscope.cluster import DEFAULT_N_INIT

    return f"{DEFAULT_N_INIT} k-means++ start{'s' if DEFAULT_N_INIT > 1 else ''} (the default n_init)"


# -- part 3: clustering alone --------------------------------------------------------------------------------------


def dino_grids(device: str, folder: Path) -> torch.Tensor:
    """``(32, 256, 384)`` combined ``blocks.11`` features of the part-1 photos."""
    from encoderscope.capture.extract import iter_batches
    from encoderscope.data.images import open_images
    from encoderscope.nave.combine import combine_depths

    encoder = _encoder(224, device)
    images = open_images(write_photos(folder, N_OVERHEAD))
    parts = [
        combine_depths([batch.outputs[LAYER].grid])
        for batch in iter_batches(encoder, images, [LAYER], batch_size=BATCH, progress=False, to_host=False)
    ]
    grids = torch.cat(parts)
    return grids.reshape(grids.shape[0], -1, grids.shape[-1])


def clustering(args: argparse.Namespace, folder: Path) -> str:
    from encoderscope.cluster import fit_clusters, fit_clusters_batch

    x = dino_grids(args.device, folder)
    n = x.shape[0]
    host = x.cpu().numpy()

    def batched(size: int) -> None:
        for start in range(0, n, size):
            fit_clusters_batch(x[start : start + size], K, seed=0, indices=range(start, min(n, start + size)))

    steps = {
        "batched torch, batches of 8": lambda: batched(8),
        "batched torch, batches of 32": lambda: batched(32),
        "per-image faiss": lambda: [fit_clusters(host[i], K, seed=0, backend="faiss") for i in range(n)],
        "per-image torch": lambda: [fit_clusters(x[i], K, seed=0, backend="torch", device=x.device) for i in range(n)],
    }
    batched(8)  # warm-up
    best, times = _best(steps, args.rounds)
    return "\n".join([
        f"k-means, K = {K}, {_starts()}, of the {n} grids of 16 x 16 positions x 384 channels (`{MODEL}` "
        f"`{LAYER}` features of the part-1 photos), device {args.device}, labels to the host included:",
        "",
        "| back-end | seconds | images/s | speed-up over per-image faiss |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {best[name]:.3f} | {n / best[name]:.0f} | {best['per-image faiss'] / best[name]:.2f} |"
            for name in steps
        ],
        "",
        "All rounds (s): " + "; ".join(f"{name} " + ", ".join(f"{v:.3f}" for v in values)
                                       for name, values in times.items()) + ".",
    ])


# -- part 4: dataset-scope memory ----------------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_child(n_images: int, size: int, device: str) -> None:
    """Fresh process: dataset-scope NAVE on n_images Fashion-MNIST images; prints memory figures as JSON.

    Loading the model has its own, higher, transient peak (parsing the ONNX file), so the peak of the NAVE run itself
    is measured by resetting the kernel's high-water mark (``/proc/self/clear_refs`` = 5) once the model is loaded.
    """
    import gc

    from encoderscope.data.images import open_images
    from encoderscope.nave import nave

    encoder = _encoder(size, device)
    images = open_images("zoo:fashion-mnist", limit=n_images)
    gc.collect()
    load_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _status_mb("VmRSS")
    start = time.perf_counter()
    result = nave(encoder, images, [LAYER], k=K, scope="dataset", batch_size=32, progress=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(result.records), "peak_mb": _status_mb("VmHWM"), "baseline_mb": baseline,
                      "load_peak_mb": load_peak, "seconds": seconds}))


def rss(args: argparse.Namespace) -> str:
    counts = [int(c) for c in args.rss.split(",")]
    found = {}
    for count in counts:
        command = [sys.executable, __file__, "--rss-child", str(count), "--rss-px", str(args.rss_px),
                   "--device", args.device]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        found[count] = json.loads(output.strip().splitlines()[-1])
        print(f"dataset scope, {count} images: peak RSS {found[count]['peak_mb']:.0f} MB", flush=True)
    first, last = counts[0], counts[-1]
    return "\n".join([
        f"Dataset scope (fit on a 20000-position sample, streaming assignment), `zoo:fashion-mnist` at "
        f"{args.rss_px} px, batch 32, each in a fresh process:",
        "",
        "| images | RSS before the run (MB) | peak RSS during the run (MB) | growth (MB) | seconds |",
        "|---:|---:|---:|---:|---:|",
        *[
            f"| {c} | {found[c]['baseline_mb']:.0f} | {found[c]['peak_mb']:.0f} | "
            f"{found[c]['peak_mb'] - found[c]['baseline_mb']:.0f} | {found[c]['seconds']:.0f} |"
            for c in counts
        ],
        "",
        f"Peak RSS ratio {last} / {first} images: {found[last]['peak_mb'] / found[first]['peak_mb']:.3f} (target: "
        "equal within 10 %). The peak is the kernel's high-water mark (VmHWM) reset after the model is loaded; "
        f"loading the model alone peaks higher ({found[first]['load_peak_mb']:.0f} MB, the ONNX file being parsed).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rss", default="200,2000", help="image counts for the dataset-scope memory runs")
    parser.add_argument("--rss-px", type=int, default=84)
    parser.add_argument("--rss-child", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.rss_child is not None:
        rss_child(args.rss_child, args.rss_px, args.device)
        return
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    sections: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-nave-") as tmp:
        for part in parts:
            folder = Path(tmp) / part
            folder.mkdir()
            if part == "overhead":
                sections["NAVE"] = [overhead(args, folder)]
            elif part == "pipeline":
                sections["NAVE pipeline without the encoder"] = [pipeline(args, folder)]
            elif part == "clustering":
                sections["Clustering"] = [clustering(args, folder)]
            else:
                sections["NAVE dataset-scope memory"] = [rss(args)]
    for section, blocks in sections.items():
        markdown = "\n\n".join([_machine(None if section.endswith("memory") else args.rounds), *blocks])
        print(f"## {section}\n\n{markdown}\n", flush=True)
        if not args.no_write:
            print(f"wrote {_sections.write_section(section, markdown)}")


if __name__ == "__main__":
    main()
