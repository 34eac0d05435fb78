"""``encoderscope cache info|clear DIR``: what an activation store holds, and removing it (all or one model)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from encoderscope.cli.app import app

cache_app = typer.Typer(no_args_is_help=True, help="Inspect or clear an activation store (the folder of --cache).")
app.add_typer(cache_app, name="cache")

STORE_DIR = typer.Argument(..., help="The store folder (what --cache DIR was given).")


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


@cache_app.command("info")
def info_cmd(directory: Path = STORE_DIR) -> None:
    """One row per model key: model and layers, shards, images and size on disk."""
    from encoderscope.capture.store import store_summary

    summary = store_summary(directory)
    console = Console(width=None if Console().is_terminal else 200)
    if not summary.models:
        console.print(f"{directory}: empty activation store", highlight=False)
        return
    table = Table(header_style="bold")
    for column in ("model key", "model", "layers", "mode", "shards", "images", "size"):
        table.add_column(column, no_wrap=True)
    for model in summary.models:
        table.add_row(
            model.key,
            str(model.settings.get("model") or model.settings.get("architecture") or "?"),
            model.layers(),
            str(model.settings.get("mode", "")),
            str(model.shards),
            str(model.images),
            _megabytes(model.bytes),
        )
    console.print(table)
    images = sum(m.images for m in summary.models)
    temporary = sum(m.temporary for m in summary.models)
    line = f"{len(summary.models)} model(s), {images} images, {_megabytes(summary.bytes)} in {directory}"
    if temporary:
        line += f"; {temporary} unfinished shard file(s) from interrupted runs (removed by `cache clear`)"
    console.print(line, highlight=False)


@cache_app.command("clear")
def clear_cmd(
    directory: Path = STORE_DIR,
    model: str = typer.Option(None, "--model", help="Only this model key (or a unique prefix of it)."),
) -> None:
    """Delete the stored activations of every model, or of one model key."""
    from encoderscope.capture.store import clear_store, store_summary

    sizes = {m.key: m.bytes for m in store_summary(directory).models}
    removed = clear_store(directory, model)
    freed = sum(sizes.get(key, 0) for key in removed)
    typer.echo(f"removed {len(removed)} model(s) ({_megabytes(freed)}) from {directory}")
