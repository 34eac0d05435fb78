"""Fixtures for the command-line tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli(*args)`` runs ``encoderscope ARGS`` in-process: ``(exit code, stdout, stderr)``."""
    from encoderscope.cli.app import main

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        captured = capsys.readouterr()
        return int(exit_info.value.code or 0), captured.out, captured.err

    return run
