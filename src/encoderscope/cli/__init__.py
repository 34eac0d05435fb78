"""The ``encoderscope`` command."""

from __future__ import annotations

from encoderscope.cli.app import app, main

__all__ = ["app", "main"]
