"""``encoderscope scenes``: write the seeded annotated-scenes benchmark as a PASCAL VOC folder."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import SEED, split_list


@app.command()
def scenes(
    out: Path = typer.Option(..., "--out", help="Output folder (VOC layout: JPEGImages, Annotations, ...)."),
    n: int = typer.Option(100, "--n", help="Number of scenes."),
    seed: int = SEED,
    kinds: str = typer.Option(
        None, "--kinds", help="Object kinds, comma-separated: fashion, horse, shape, face (default: all)."
    ),
    min_side: int = typer.Option(224, "--min-side", help="Smallest image side in pixels."),
    max_side: int = typer.Option(448, "--max-side", help="Largest image side in pixels."),
    max_objects: int = typer.Option(3, "--max-objects", help="At most this many objects per scene (at least 1)."),
) -> None:
    """Generate N annotated scenes (object cut-outs with exact boxes and masks on natural backgrounds)."""
    from encoderscope.data.scenes import OBJECT_KINDS, SceneConfig, write_scenes

    chosen = tuple(split_list(kinds) or OBJECT_KINDS)
    config = SceneConfig(min_side=min_side, max_side=max_side, max_objects=max_objects, kinds=chosen)
    summary = write_scenes(out, n=n, seed=seed, config=config)
    n_objects = sum(summary.class_counts.values())
    typer.echo(f"wrote {summary.n} scenes with {n_objects} objects to {summary.root} (seed {summary.seed})")
    typer.echo("objects per class: " + ", ".join(f"{k} {v}" for k, v in summary.class_counts.items()))
