"""Fixtures for the report tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def crash_writes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make every ``Path.write_bytes`` write half its data and fail (``monkeypatch.undo()`` ends it)."""

    def arm() -> None:
        original = Path.write_bytes

        def crash_half_way(self: Path, data: bytes) -> int:
            original(self, data[: len(data) // 2])
            raise OSError("disk full")

        monkeypatch.setattr(Path, "write_bytes", crash_half_way)

    return arm
