"""``encoderscope dissect MODEL --layer L --probe IMAGES --concepts SET --scorer SPEC --out DIR``.

The options are the fields of :class:`~encoderscope.dissect.config.DissectConfig`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option
from encoderscope.cli.options import config_command, require_inputs
from encoderscope.dissect.config import DissectConfig


@config_command(app, "dissect", DissectConfig, kind="dissect", arguments=("model",), loads_models=True)
def dissect(
    config: DissectConfig,
    out: Path = out_option(),
    device: str = DEVICE,
) -> None:
    """Name every unit of a layer with its best-matching concept (CLIP-Dissect / DISCOVER)."""
    from encoderscope.dissect import dissect as run_dissect

    require_inputs(config, "model", "layer", "probe")
    result = run_dissect(config=config, device=device)
    result.save(out, galleries=config.galleries)
    skipped = result.activations.skipped
    typer.echo(f"described {result.n_units} units of {result.layer} with {len(result.concepts)} concepts; wrote {out}")
    if skipped:
        typer.echo(f"skipped {len(skipped)} unreadable probe image(s)")
