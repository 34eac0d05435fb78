"""``encoderscope study NAME --out DIR [--quick]``: run one of the registered studies (encoderscope.studies)."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option, split_list
from encoderscope.cli.options import field_option
from encoderscope.errors import ParameterError
from encoderscope.nave.config import NaveConfig


@app.command()
def study(
    name: str = typer.Argument(..., help="Study name (see encoderscope.studies.STUDIES), e.g. lwta."),
    out: Path = out_option(),
    quick: bool = typer.Option(False, "--quick", help="The under-a-minute variant."),
    models: str = typer.Option(
        None, "--models", help="Comma-separated model specs, for studies that take them (registers)."
    ),
    random_init: bool = field_option(NaveConfig, "random_init"),
    device: str = DEVICE,
    autocast: bool = field_option(NaveConfig, "autocast"),
) -> None:
    """Run a study of the papers' experiments and write its numbers and figures to --out."""
    from encoderscope.studies import get_study

    function = get_study(name)
    accepted = inspect.signature(function).parameters
    extra: dict[str, object] = {}
    requested = (
        ("models", split_list(models), models is not None),
        ("random_init", True, random_init),
        ("device", device, device is not None),
        ("autocast", True, autocast),
    )
    for option, value, given in requested:
        if not given:
            continue
        if option not in accepted:
            raise ParameterError(f"study {name!r} does not take --{option.replace('_', '-')}")
        extra[option] = value
    function(out, quick, **extra)
    typer.echo(f"study {name} -> {out / 'summary.md'}")
