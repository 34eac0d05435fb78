"""``encoderscope flow``: concept flow across depths (docs/flow.md).

The options are the fields of :class:`~encoderscope.nave.config.FlowConfig` and of its NAVE configuration (the
scope is always ``dataset`` and attention heads are no clustering, so ``--scope`` and ``--heads`` are not options).
"""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option
from encoderscope.cli.options import config_command, require_inputs
from encoderscope.nave.config import FlowConfig


@config_command(app, "flow", FlowConfig, kind="flow", arguments=("model", "images"), exclude=("scope", "heads"),
                loads_models=True)
def flow_command(
    config: FlowConfig,
    out: Path = out_option(),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html beside the figure."),
    device: str = DEVICE,
) -> None:
    """Concept flow: a dataset-scope clustering at each of --layers, and how concepts persist, split and merge."""
    from encoderscope.nave.flow import flow

    require_inputs(config.nave, "model", "images")
    result = flow(config=config, device=device)
    folder = result.save(out, report=report)
    for row in result.summary():
        typer.echo(f"{row['from']} -> {row['to']}: persist {row['persist']}, split {row['split']}, merge "
                   f"{row['merge']}, MI {row['MI (nats)']:.3f} nats (NMI {row['NMI']:.3f})")
    typer.echo(f"{len(result.results[0])} images ({len(result.skipped)} skipped) -> {folder}")
