"""The NAVE demo (``encoderscope demo``, ``make demo``): one report comparing encoders on the zoo photos.

Results, all with K = 5 on ``zoo:photos`` (each image resized to 224 px on the shorter side):

1. ``zoo:dinov2-vits14``, last block (``blocks.11``): the paper's default for ViTs, and the colour reference;
2. ``zoo:dinov2-vits14``, several depths (``blocks.5, blocks.8, blocks.11``), from the same forward pass;
3. ``zoo:efficientnet-lite0``, several depths (``_blocks.7`` and ``_blocks.10``, stride 16; ``_blocks.15``,
   stride 32), combined on the stride-16 grid (adding the stride-8 ``_blocks.4`` makes the maps speckled: its
   weight is 1 against 0.36 and 0.13 for the deeper two);
4. a random-init DINOv2 ViT-S/14, last block (what the architecture alone gives);
5. the SLIC baseline with about 5 regions.

Beside ``report.html`` it writes ``explorer.html``, the interactive explorer of the same comparison
(:func:`encoderscope.report.explorer.write_explorer`).
"""

from __future__ import annotations

import time
from pathlib import Path

from encoderscope import devices
from encoderscope._progress import console
from encoderscope.data.images import open_images
from encoderscope.nave.baselines import baseline_maps
from encoderscope.nave.compare import compare_results
from encoderscope.nave.pipeline import nave, nave_layer_sets
from encoderscope.zoo import load_model

DINO_DEPTHS = ["blocks.5", "blocks.8", "blocks.11"]
LITE_DEPTHS = ["_blocks.7", "_blocks.10", "_blocks.15"]
K = 5


def run_demo(
    out: str | Path,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = True,
    device: devices.DeviceSpec = None,
    autocast: bool = False,
) -> Path:
    """Compute the demo's results and write the report and the explorer; returns the path of ``report.html``.

    ``device``: where the encoders run (default: ``cuda`` when available, else ``cpu``); ``autocast``: their
    forward passes in mixed precision (:func:`~encoderscope.devices.autocast_dtype`).
    """
    start = time.perf_counter()
    target = devices.resolve_device(device)
    images = open_images("zoo:photos", limit=limit)
    common = dict(k=K, seed=seed, progress=progress, autocast=autocast)
    say = console().print
    say(f"NAVE demo on {len(images)} zoo photos", highlight=False)

    def lap(what: str) -> None:
        say(f"  {what}: {time.perf_counter() - start:.0f} s", highlight=False)

    dino = load_model("zoo:dinov2-vits14", device=target)
    last, depths = nave_layer_sets(dino, images, [["blocks.11"], DINO_DEPTHS], **common)
    lap("DINOv2 ViT-S/14, two layer sets")
    lite = nave(load_model("zoo:efficientnet-lite0", device=target), images, LITE_DEPTHS, **common)
    lap("EfficientNet-Lite0")
    random_dino = nave(
        load_model("zoo:dinov2-vits14", random_init=True, seed=seed, device=target), images, ["blocks.11"], **common
    )
    lap("random-init DINOv2")
    slic = baseline_maps(images, "slic", K, seed, progress=progress)
    lap("SLIC")
    comparison = compare_results([last, depths, lite, random_dino, slic])
    folder = comparison.save(Path(out), title="encoderscope demo: NAVE")
    lap("matching, ARI, pictures and report")
    from encoderscope.report.explorer import write_explorer

    write_explorer([comparison], folder / "explorer.html", title="encoderscope demo: NAVE explorer")
    lap("explorer.html")
    return folder / "report.html"
