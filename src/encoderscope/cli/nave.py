"""``encoderscope nave``, ``compare`` and ``demo``: NAVE concept maps from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import ARCH, RANDOM_INIT, SEED, split_list
from encoderscope.errors import ParameterError

K = typer.Option("5", "--k", help="Concepts per map: an integer >= 2, 'auto' (reference inertia-drop rule, k=3..10) "
                 "or 'silhouette'.")
METHOD = typer.Option("kmeans", "--method", help="kmeans | pca | agglomerative | attention (ViT heads).")
LAYERS = typer.Option(None, "--layers", help="Layers shallow to deep, comma-separated names, globs or depth "
                      "indices (default: the last block or stage).")
BACKEND = typer.Option("auto", "--backend", help="Clustering back-end: auto (all images of a batch at once in torch "
                       "on the encoder's device) | faiss (per image, CPU) | torch (per image) | sklearn.")
MAX_SIDE = typer.Option(1024, "--max-side", help="Downscale images whose longer side would exceed this (px).")
SIZE = typer.Option("default", "--size", help="Shorter side fed to the encoder in px, 'native' (no resize, as "
                    "the reference), or 'default' (the encoder's, 224 for the zoo).")
BATCH = typer.Option(8, "--batch-size", help="Images per forward pass.")


def _size(text: str) -> int | str | None:
    if text == "default":
        return "default"
    if text == "native":
        return None
    if not text.isdigit() or int(text) < 1:
        raise ParameterError(f"--size must be a number of pixels, 'native' or 'default', got {text!r}")
    return int(text)


def _k(text: str) -> int | str:
    from encoderscope.cluster._checks import parse_k

    return parse_k(text)


@app.command("nave")
def nave_command(
    model: str = typer.Argument(..., help="Model spec: zoo:NAME, timm:NAME, tv:NAME, hf:ORG/NAME or file:PATH."),
    images: list[str] = typer.Argument(..., help="Image files, folders, .txt lists or zoo:photos."),
    layers: str = LAYERS,
    k: str = K,
    method: str = METHOD,
    scope: str = typer.Option("image", "--scope", help="image (one clustering per image, the paper) | dataset "
                              "(one shared clustering, fitted on a sample, streamed)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    random_init: bool = RANDOM_INIT,
    seed: int = SEED,
    max_side: int = MAX_SIDE,
    size: str = SIZE,
    backend: str = BACKEND,
    resample: str = typer.Option("bicubic", "--resample", help="bicubic (reference: to the first layer's grid) | "
                                 "bilinear-input (departure: to the input resolution)."),
    batch_size: int = BATCH,
    n_init: int = typer.Option(4, "--n-init", help="k-means restarts."),
    fit_positions: int = typer.Option(20000, "--fit-positions", help="Dataset scope: positions in the fit sample."),
    heads: str = typer.Option(None, "--heads", help="Attention method: comma-separated head indices (default all)."),
    arch: str = ARCH,
    report: bool = typer.Option(True, "--report/--no-report", help="Write overlays, galleries and report.html."),
    autocast: bool = typer.Option(False, "--autocast", help="Run the encoder in bfloat16 (faster; activations are "
                                  "clustered in float32). Maps can differ slightly from the float32 run."),
) -> None:
    """NAVE concept maps: cluster the activations of a frozen encoder, per image or across the dataset."""
    from encoderscope.nave.pipeline import nave
    from encoderscope.zoo import load_model

    encoder = load_model(model, random_init=random_init, arch=arch, seed=seed)
    head_list = [int(h) for h in split_list(heads) or []] or None
    result = nave(
        encoder, images, split_list(layers), k=_k(k), method=method, scope=scope, seed=seed, backend=backend,
        resample=resample, batch_size=batch_size, n_init=n_init, fit_positions=fit_positions, heads=head_list,
        size=_size(size), max_side=max_side, autocast=autocast,
    )
    folder = result.save(out, report=report)
    typer.echo(f"{len(result.records)} concept maps ({len(result.skipped)} skipped) -> {folder}")
    if report:
        typer.echo(str(folder / "report.html"))


@app.command("compare")
def compare_command(
    models: list[str] = typer.Argument(..., help="Two or more model specs; 'random-init:SPEC' builds SPEC without "
                                       "weights; 'baseline:slic' / 'baseline:felzenszwalb' are superpixel maps."),
    images: list[str] = typer.Option(..., "--images", help="Images (repeat the option for several sources)."),
    layers: str = LAYERS,
    k: str = K,
    method: str = METHOD,
    baseline: list[str] = typer.Option([], "--baseline", help="Add a baseline: slic | felzenszwalb (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    seed: int = SEED,
    max_side: int = MAX_SIDE,
    size: str = SIZE,
    backend: str = BACKEND,
    batch_size: int = BATCH,
) -> None:
    """Concept maps of several models on the same images, colours matched, with agreement (ARI) scores."""
    from encoderscope.nave.compare import compare

    comparison = compare(
        models, images, split_list(layers), k=_k(k), seed=seed, baselines=baseline, method=method, backend=backend,
        batch_size=batch_size, size=_size(size), max_side=max_side,
    )
    folder = comparison.save(out)
    for m, name in enumerate(comparison.names[1:], start=1):
        typer.echo(f"mean ARI vs {comparison.names[0]}: {comparison.mean_ari[0, m]:.3f}  {name}")
    typer.echo(str(folder / "report.html"))


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Output folder."),
    seed: int = SEED,
    limit: int = typer.Option(None, "--limit", help="Use only the first N zoo photos."),
) -> None:
    """NAVE on zoo:photos: DINOv2 (last block; several depths), EfficientNet-Lite0, random-init DINOv2, SLIC."""
    from encoderscope.nave.demo import run_demo

    typer.echo(str(run_demo(out, seed=seed, limit=limit)))
