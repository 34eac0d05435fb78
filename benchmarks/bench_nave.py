"""NAVE benchmark (issue 3): overhead over the bare forward pass, a reference-style pipeline, dataset-scope memory.

In ONE run, on the same images (``zoo:photos``, resized to 224 x 224) and model (``zoo:dinov2-vits14``, last block):

1. floor: the bare forward pass up to the deepest requested layer (``blocks.11``), batch 8, tensors prepared in
   advance, stopped by a hook after the block;
2. encoderscope NAVE, image scope, K = 5, batch 8: loading, preprocessing, forward, combining, clustering, maps;
3. a reference-style pipeline written plainly: batch 1, the block's patch tokens, per-position L2 normalisation,
   ``sklearn.cluster.KMeans(n_clusters=5)`` with its defaults per image, nearest resize to the image.

Each is timed ``--rounds`` times, interleaved, and the fastest round is kept (the machine may be shared). Then the
dataset scope's peak RSS (VmHWM, reset once the model is loaded) is measured in a fresh subprocess for 200 and
2000 images of ``zoo:fashion-mnist`` at 84 px (6 x 6 patches; same model and layer, K = 5), where memory, not
speed, is the question.
The rows are written to the "NAVE" section of BENCHMARKS.md (created if missing; other sections kept).

Usage: ``python benchmarks/bench_nave.py [--rounds 2] [--rss 200,2000] [--no-write]``
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
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MODEL = "zoo:dinov2-vits14"
LAYER = "blocks.11"
K = 5
BATCH = 8
SECTION = "NAVE"


def _encoder(size: int):
    from encoderscope.zoo import load_model

    encoder = load_model(MODEL)
    square = dataclasses.replace(encoder.preprocess, size=size, fixed_size=True)
    return dataclasses.replace(encoder, preprocess=square)


def floor_forward(encoder, pixels: list[torch.Tensor]) -> None:
    """1. The bare forward pass up to LAYER, batch BATCH, on prepared tensors."""
    from encoderscope.capture.hooks import run_captured

    for start in range(0, len(pixels), BATCH):
        run_captured(encoder.module, torch.stack(pixels[start : start + BATCH]), [LAYER], stop_early=True)


def encoderscope_nave(encoder, images) -> None:
    """2. encoderscope NAVE, image scope."""
    from encoderscope.nave import nave

    result = nave(encoder, images, [LAYER], k=K, batch_size=BATCH, progress=False)
    for _, labels in result.label_maps():
        assert labels.max() < K


def reference_style(encoder, images) -> None:
    """3. The reference pipeline written plainly: batch 1, sklearn KMeans defaults, one image at a time."""
    from PIL import Image
    from sklearn.cluster import KMeans

    block = dict(encoder.module.named_modules())[LAYER]
    for item in images.items:
        image = item.load()
        x = encoder.preprocess.dense(image).tensor[None]
        captured: list[torch.Tensor] = []
        handle = block.register_forward_hook(lambda m, i, o, store=captured: store.append(o))
        with torch.inference_mode():
            encoder.module(x)
        handle.remove()
        z = captured[0][0, 1:]  # drop CLS
        h, w = x.shape[-2] // 14, x.shape[-1] // 14
        z = z / z.norm(dim=1, keepdim=True)
        labels = KMeans(n_clusters=K).fit(z.numpy()).labels_.reshape(h, w)
        Image.fromarray(labels.astype(np.uint8)).resize(image.size, Image.Resampling.NEAREST)


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_child(n_images: int, size: int) -> None:
    """Fresh process: dataset-scope NAVE on n_images Fashion-MNIST images; prints memory figures as JSON.

    Loading the model has its own, higher, transient peak (parsing the ONNX file), so the peak of the NAVE run itself
    is measured by resetting the kernel's high-water mark (``/proc/self/clear_refs`` = 5) once the model is loaded.
    """
    import gc

    from encoderscope.nave import nave

    encoder = _encoder(size)
    images = _fashion(n_images)
    gc.collect()
    load_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _status_mb("VmRSS")
    start = time.perf_counter()
    result = nave(encoder, images, [LAYER], k=K, scope="dataset", batch_size=32, progress=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(result.records), "peak_mb": _status_mb("VmHWM"), "baseline_mb": baseline,
                      "load_peak_mb": load_peak, "seconds": seconds}))


def _fashion(n: int):
    from encoderscope.data.images import open_images

    return open_images("zoo:fashion-mnist", limit=n)


def measure_rss(n_images: int, size: int) -> dict:
    command = [sys.executable, __file__, "--rss-child", str(n_images), "--rss-px", str(size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss", default="200,2000", help="image counts for the dataset-scope memory runs")
    parser.add_argument("--rss-px", type=int, default=84)
    parser.add_argument("--rss-child", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.rss_child is not None:
        rss_child(args.rss_child, args.rss_px)
        return

    from encoderscope.data.images import open_images

    encoder = _encoder(224)
    images = open_images("zoo:photos")
    pixels = [encoder.preprocess.dense(item.load()).tensor for item in images.items]
    steps = {
        "floor": lambda: floor_forward(encoder, pixels),
        "nave": lambda: encoderscope_nave(encoder, images),
        "reference": lambda: reference_style(encoder, images),
    }
    floor_forward(encoder, pixels[:BATCH])  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
            print(f"round {round_index + 1} {name}: {times[name][-1]:.2f} s", flush=True)
    best = {name: min(values) for name, values in times.items()}
    n = len(images)
    rss = {count: measure_rss(count, args.rss_px) for count in (int(c) for c in args.rss.split(","))}
    for count, row in rss.items():
        print(f"dataset scope, {count} images: peak RSS {row['peak_mb']:.0f} MB, {row['seconds']:.0f} s", flush=True)

    counts = sorted(rss)
    load = os.getloadavg()[0]
    ms = {name: 1000 * value / n for name, value in best.items()}
    peaks = [rss[c]["peak_mb"] for c in counts]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `benchmarks/bench_nave.py` on "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), torch {torch.__version__}, "
        f"load average {load:.1f} at the end (the machine was shared); fastest of {args.rounds} interleaved rounds.",
        "",
        f"`{MODEL}`, `{LAYER}`, {n} `zoo:photos` at 224 x 224 (16 x 16 patches), K = {K}:",
        "",
        "| step | seconds | ms / image | ratio |",
        "|---|---:|---:|---:|",
        f"| 1. floor: bare forward to `{LAYER}`, batch {BATCH} | {best['floor']:.2f} | {ms['floor']:.0f} | 1.00 |",
        f"| 2. encoderscope NAVE, image scope, batch {BATCH} (load, preprocess, forward, cluster, maps) | "
        f"{best['nave']:.2f} | {ms['nave']:.0f} | 2/1 = {best['nave'] / best['floor']:.3f} (target <= 1.15) |",
        f"| 3. reference style: batch 1, sklearn `KMeans(5)` defaults per image | {best['reference']:.2f} | "
        f"{ms['reference']:.0f} | 3/2 = {best['reference'] / best['nave']:.2f} |",
        "",
        "All rounds (s): " + "; ".join(f"{name} " + ", ".join(f"{v:.2f}" for v in values)
                                       for name, values in times.items()) + ".",
        "",
        f"Dataset scope (fit on a 20000-position sample, streaming assignment), `zoo:fashion-mnist` at "
        f"{args.rss_px} px, batch 32, each in a fresh process:",
        "",
        "| images | RSS before the run (MB) | peak RSS during the run (MB) | growth (MB) | seconds |",
        "|---:|---:|---:|---:|---:|",
        *[
            f"| {c} | {rss[c]['baseline_mb']:.0f} | {rss[c]['peak_mb']:.0f} | "
            f"{rss[c]['peak_mb'] - rss[c]['baseline_mb']:.0f} | {rss[c]['seconds']:.0f} |"
            for c in counts
        ],
        "",
        f"Peak RSS ratio {counts[-1]} / {counts[0]} images: {peaks[-1] / peaks[0]:.3f} (target: equal within 10 %). "
        "The peak is the kernel's high-water mark (VmHWM) reset after the model is loaded; loading the model alone "
        f"peaks higher ({rss[counts[0]]['load_peak_mb']:.0f} MB, the ONNX file being parsed).",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _sections import write_section

        print(f"wrote {write_section(SECTION, markdown)}")


if __name__ == "__main__":
    main()
