"""``encoderscope explore RUN_DIR [RUN_DIR ...] [--out FILE]``: the interactive explorer of run folders.

One self-contained HTML page (docs/explorer.md) for the folders of ``nave``, ``compare``, ``flow`` and ``dissect``;
by default ``explorer.html`` in the first folder.
"""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import out_option


@app.command("explore")
def explore_command(
    runs: list[Path] = typer.Argument(..., help="Run folders written by nave, compare, flow or dissect."),
    out: Path = out_option("The page to write (default: explorer.html in the first folder).", default=None,
                           folder=False),
    title: str = typer.Option(None, "--title", help="The page's title (default: encoderscope explorer)."),
) -> None:
    """Browse NAVE maps, comparisons, flows and dissections in one self-contained HTML page (no server)."""
    from encoderscope.results import explore

    page = explore(runs, out=out, title=title)
    typer.echo(f"{page} ({page.stat().st_size / 1e6:.1f} MB)")
