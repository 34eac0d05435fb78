"""``encoderscope study NAME --out DIR [--quick]``: run one of the registered studies (encoderscope.studies)."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app


@app.command()
def study(
    name: str = typer.Argument(..., help="Study name (see encoderscope.studies.STUDIES), e.g. lwta."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    quick: bool = typer.Option(False, "--quick", help="The under-a-minute variant."),
) -> None:
    """Run a study of the papers' experiments and write its numbers and figures to --out."""
    from encoderscope.studies import get_study

    get_study(name)(out, quick)
