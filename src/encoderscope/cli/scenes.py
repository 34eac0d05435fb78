"""``encoderscope scenes``: write the seeded annotated-scenes benchmark as a PASCAL VOC folder.

The options are the fields of :class:`~encoderscope.data.scenes.ScenesConfig` and its
:class:`~encoderscope.data.scenes.SceneConfig`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import out_option
from encoderscope.cli.options import config_command
from encoderscope.data.scenes import ScenesConfig


@config_command(app, "scenes", ScenesConfig, kind="scenes")
def scenes(
    config: ScenesConfig,
    out: Path = out_option("Output folder (VOC layout: JPEGImages, Annotations, ...)."),
) -> None:
    """Generate N annotated scenes (object cut-outs with exact boxes and masks on natural backgrounds)."""
    from encoderscope.data.scenes import write_scenes

    summary = write_scenes(out, n=config.n, seed=config.seed, config=config.scene)
    n_objects = sum(summary.class_counts.values())
    typer.echo(f"wrote {summary.n} scenes with {n_objects} objects to {summary.root} (seed {summary.seed})")
    typer.echo("objects per class: " + ", ".join(f"{k} {v}" for k, v in summary.class_counts.items()))
