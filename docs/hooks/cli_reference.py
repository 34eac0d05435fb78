"""mkdocs hook: fill the command line reference (``cli.md``) with every command's ``--help``, rendered at build time.

The page in the repository holds the introduction and a marker line; this hook replaces the marker with one section
per command (groups first, then their sub-commands), so the reference always matches the installed command.

Example:
    >>> "encoderscope nave" in [" ".join(path) for path in command_paths()]
    True
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import Any

import typer.main
import typer.rich_utils

from encoderscope.cli import app, main

MARKER = "<!-- cli-reference -->"
PAGE = "cli.md"
WIDTH = 100


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():  # a group's sub-commands, in registration order
        if not sub.hidden:
            yield from _walk(sub, (*path, name))


def command_paths() -> list[tuple[str, ...]]:
    """Every visible command as its words, ``("encoderscope",)`` first, in the order ``--help`` lists them."""
    render_help(())  # registers the command modules, as the entry point does
    return list(_walk(typer.main.get_command(app), ("encoderscope",)))


def render_help(words: tuple[str, ...]) -> str:
    """The plain-text ``--help`` of ``encoderscope WORDS...``, WIDTH columns wide, without colour."""
    out = io.StringIO()
    saved = typer.rich_utils.MAX_WIDTH, typer.rich_utils.FORCE_TERMINAL, sys.argv[0]
    typer.rich_utils.MAX_WIDTH, typer.rich_utils.FORCE_TERMINAL, sys.argv[0] = WIDTH, False, "encoderscope"
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*words, "--help"])
    finally:
        typer.rich_utils.MAX_WIDTH, typer.rich_utils.FORCE_TERMINAL, sys.argv[0] = saved
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip() + "\n"


def reference_markdown() -> str:
    """One section per command: its words as the heading, its help as a text block."""
    sections = []
    for path in command_paths():
        title = " ".join(path)
        level = "#" * min(2 + max(len(path) - 2, 0), 4)
        sections.append(f"{level} `{title}`\n\n```text\n{render_help(path[1:])}```\n")
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace the marker of the command line page with the generated reference."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its marker line {MARKER!r}")
    return markdown.replace(MARKER, reference_markdown())
