"""``encoderscope nave``, ``compare`` and ``demo``: NAVE concept maps from the command line.

The options of ``nave`` and ``compare`` are the fields of :class:`~encoderscope.nave.config.NaveConfig` and
:class:`~encoderscope.nave.config.CompareConfig` (see :mod:`encoderscope.cli.options`); ``nave --name-concepts``
names the concepts (:class:`~encoderscope.nave.names.NamingConfig`, docs/names.md), ``compare`` does not.
"""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option
from encoderscope.cli.options import config_command, field_option, require_inputs
from encoderscope.nave.config import NAMING_FIELDS, CompareConfig, NaveConfig


@config_command(app, "nave", NaveConfig, kind="nave", arguments=("model", "images"), loads_models=True)
def nave_command(
    config: NaveConfig,
    out: Path = out_option(),
    report: bool = typer.Option(True, "--report/--no-report", help="Write overlays, galleries and report.html."),
    device: str = DEVICE,
) -> None:
    """NAVE concept maps: cluster the activations of a frozen encoder, per image or across the dataset."""
    from encoderscope.nave.pipeline import nave

    require_inputs(config, "model", "images")
    result = nave(config=config, device=device)
    folder = result.save(out, report=report)
    typer.echo(f"{len(result.records)} concept maps ({len(result.skipped)} skipped) -> {folder}")
    names = result.concept_names
    if names is not None:
        typer.echo(f"named {len(names.entries)} concept(s) with {names.scorer} over {names.concepts} -> "
                   f"{folder / 'names.csv'}")
    if report:
        typer.echo(str(folder / "report.html"))


@config_command(app, "compare", CompareConfig, kind="compare", arguments=("models",),
                exclude=("model", *NAMING_FIELDS), loads_models=True)
def compare_command(
    config: CompareConfig,
    out: Path = out_option(),
    device: str = DEVICE,
) -> None:
    """Concept maps of several models on the same images, colours matched, with agreement (ARI) scores."""
    from encoderscope.devices import resolve_device
    from encoderscope.nave.compare import compare

    require_inputs(config, "models")
    require_inputs(config.nave, "images")
    comparison = compare(config=config, device=resolve_device(device))
    folder = comparison.save(out)
    for m, name in enumerate(comparison.names[1:], start=1):
        typer.echo(f"mean ARI vs {comparison.names[0]}: {comparison.mean_ari[0, m]:.3f}  {name}")
    typer.echo(str(folder / "report.html"))


@app.command("demo")
def demo_command(
    out: Path = out_option(default=Path("demo-output")),
    seed: int = field_option(NaveConfig, "seed"),
    limit: int = typer.Option(None, "--limit", help="Use only the first N zoo photos."),
    device: str = DEVICE,
    autocast: bool = field_option(NaveConfig, "autocast"),
) -> None:
    """NAVE on zoo:photos: DINOv2 (last block; several depths), EfficientNet-Lite0, random-init DINOv2, SLIC."""
    from encoderscope.nave.demo import run_demo

    typer.echo(str(run_demo(out, seed=seed, limit=limit, device=device, autocast=autocast)))

