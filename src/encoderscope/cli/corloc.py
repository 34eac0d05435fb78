"""``encoderscope corloc``: how well NAVE concept maps localise objects (CorLoc, docs/methods/corloc.md).

The options are the fields of :class:`~encoderscope.nave.config.CorLocConfig` and of its NAVE configuration.
"""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option
from encoderscope.cli.options import config_command, require_inputs
from encoderscope.nave.config import NAMING_FIELDS, CorLocConfig


@config_command(app, "corloc", CorLocConfig, kind="corloc", arguments=("model", "dataset"),
                exclude=("images", *NAMING_FIELDS), loads_models=True)
def corloc_command(
    config: CorLocConfig,
    out: Path = out_option("Folder for corloc.csv (per image), masks.csv, scores.json.", default=None),
    device: str = DEVICE,
) -> None:
    """Print CorLoc (and mask mIoU where masks exist) of NAVE maps on an annotated dataset."""
    from encoderscope.nave.evaluate import evaluate_corloc

    require_inputs(config.nave, "model")
    require_inputs(config, "dataset")
    scores = evaluate_corloc(config=config, device=device)
    summary = scores.summary()
    line = f"CorLoc {summary['corloc']:.1f} % on {summary['n_images']} images ({scores.result.name})"
    if summary["miou"] is not None:
        line += f"; mask mIoU {summary['miou']:.3f}, best-match IoU {summary['best_iou']:.3f}"
    typer.echo(line)
    if out is not None:
        typer.echo(f"per-image scores -> {scores.save(out)}")
