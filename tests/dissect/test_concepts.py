"""Concept sets: built-ins and user files."""

from __future__ import annotations

from pathlib import Path

import pytest

from encoderscope.dissect.concepts import NON_NOUNS, load_concepts
from encoderscope.errors import ParameterError


def test_builtin_sets() -> None:
    assert len(load_concepts("imagenet")) == 1000
    assert load_concepts("fashion-mnist")[-1] == "Ankle boot"
    words = load_concepts("words-1k")
    assert len(words) == len(set(words)) == 1000
    assert all(w.isalpha() and len(w) >= 3 and w not in NON_NOUNS for w in words)
    assert load_concepts("words-3k")[:1000] == words  # the same ranking, longer


def test_user_file(tmp_path: Path) -> None:
    file = tmp_path / "c.txt"
    file.write_text("# mine\nstripes\n\ndots\nstripes\n", encoding="utf-8")
    assert load_concepts(file) == ["stripes", "dots"]
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="no concept"):
        load_concepts(tmp_path / "empty.txt")
    with pytest.raises(ParameterError, match="neither a built-in"):
        load_concepts(tmp_path / "missing.txt")
