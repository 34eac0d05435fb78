"""Root of the ``encoderscope`` command: one Typer app; each concern registers its commands from its own module."""

from __future__ import annotations

import sys

import typer

from encoderscope import __version__
from encoderscope.errors import EncoderscopeError

app = typer.Typer(
    name="encoderscope",
    help="See what a vision encoder has learned: NAVE concept maps, DISCOVER dissection, Linking in Style.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"encoderscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """See what a vision encoder has learned: NAVE concept maps, DISCOVER dissection, Linking in Style."""


def _register_commands() -> None:
    """Import the command modules; each adds its commands to ``app``."""
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(f"encoderscope.cli.{module}")


# One module per concern. Add a name here when a command module lands.
COMMAND_MODULES: list[str] = [
    "layers", "link", "scenes", "nave", "lwta", "dissect", "study", "corloc", "flow", "cache", "explore",
]


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns :class:`EncoderscopeError` into one ``error:`` line and exit status 2.

    Every run record written meanwhile carries the command line (``encoderscope`` and ``argv``) as its command.
    """
    from encoderscope.runs import cli_command

    _register_commands()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with cli_command(["encoderscope", *args]):
            app(args=args, standalone_mode=True)
    except EncoderscopeError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
