"""``encoderscope layers`` and ``encoderscope models``: what a model has, and what the offline zoo offers."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from encoderscope import devices
from encoderscope.capture.layers import list_layers
from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, TRUST_PICKLE, parse_size
from encoderscope.cli.options import field_option
from encoderscope.configs import HELP_MODEL
from encoderscope.nave.config import NaveConfig
from encoderscope.zoo import load_model

RANDOM_INIT = field_option(NaveConfig, "random_init")


@app.command()
def layers(
    model: str = typer.Argument(..., help=HELP_MODEL),
    random_init: bool = RANDOM_INIT,
    input_size: str = typer.Option(None, "--input-size", help="Probe input H or HxW (default: the model's)."),
    filter_glob: str = typer.Option(None, "--filter", help="Only layers matching this glob, e.g. 'blocks.*'."),
    arch: str = field_option(NaveConfig, "arch"),
    device: str = DEVICE,
    autocast: bool = field_option(NaveConfig, "autocast"),
    trust_pickle: bool = TRUST_PICKLE,
) -> None:
    """List every layer: type, output shape, and how it maps to a (C, h, w) grid plus prefix tokens."""
    encoder = load_model(model, random_init=random_init, arch=arch, device=device, trust_pickle=trust_pickle)
    size = parse_size(input_size)
    with devices.autocast(encoder.device, enabled=autocast):
        infos = list_layers(encoder, input_size=size, pattern=filter_glob)
    probe = size or encoder.preprocess.padded_size((encoder.preprocess.size or 224,) * 2)
    console = Console(width=None if Console().is_terminal else 200)
    blocks = f"{encoder.depth_layers[0]} ... {encoder.depth_layers[-1]}" if encoder.depth_layers else "-"
    console.print(
        f"[bold]{encoder.spec}[/bold]  {encoder.architecture}  weights: {encoder.weights}\n"
        f"tokens: {encoder.layout.describe()}  probe input: {probe[0]}x{probe[1]}  blocks: {blocks}  "
        f"device: {devices.describe(encoder.device)}",
        highlight=False,
    )
    table = Table(show_lines=False, header_style="bold")
    for column in ("layer", "type", "output shape", "kind", "C", "grid h x w", "prefix", "depth"):
        table.add_column(column, no_wrap=True)
    for info in infos:
        table.add_row(
            info.name,
            info.type,
            "x".join(str(s) for s in info.shape) or "-",
            info.kind,
            str(info.channels) if info.channels is not None else "",
            f"{info.grid[0]}x{info.grid[1]}" if info.grid else "",
            info.prefix,
            str(info.depth) if info.depth is not None else "",
        )
    console.print(table)


@app.command()
def models() -> None:
    """List the offline zoo (models that work without a network) and whether each is installed."""
    from encoderscope.zoo.offline import zoo_models

    table = Table(header_style="bold")
    for column in ("spec", "available", "description"):
        table.add_column(column)
    for info in zoo_models():
        table.add_row(f"zoo:{info.name}", "yes" if info.available else f"no: {info.reason}", info.description)
    Console().print(table)
