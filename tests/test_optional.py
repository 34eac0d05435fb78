"""Optional dependencies: a missing extra is one line that names it."""

from __future__ import annotations

import sys

import pytest

from encoderscope._optional import require
from encoderscope.errors import EncoderscopeError, MissingExtraError


def test_an_installed_module_is_returned() -> None:
    assert require("json", "hf") is sys.modules["json"]


def test_a_missing_module_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "open_clip", None)  # import open_clip raises ImportError
    with pytest.raises(MissingExtraError) as err:
        require("open_clip", "clip")
    expected = "this needs the 'clip' extra (open_clip is not installed): pip install 'encoderscope[clip]'"
    assert str(err.value) == expected
    assert issubclass(MissingExtraError, EncoderscopeError)


def test_a_broken_install_is_one_line_too(monkeypatch, tmp_path) -> None:
    (tmp_path / "broken_extra_module.py").write_text("import no_such_dependency_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError, match=r"^broken_extra_module cannot be imported \(No module named"):
        require("broken_extra_module", "text")


def test_the_scorer_and_concept_words_use_it(monkeypatch) -> None:
    from encoderscope.dissect.concepts import common_words
    from encoderscope.dissect.scorers import ClipScorer

    monkeypatch.setitem(sys.modules, "open_clip", None)
    monkeypatch.setitem(sys.modules, "wordfreq", None)
    with pytest.raises(MissingExtraError, match="'clip' extra"):
        ClipScorer.from_spec("ViT-B-32")
    common_words.cache_clear()  # the word lists are cached
    with pytest.raises(MissingExtraError, match="'text' extra"):
        common_words(10)
    common_words.cache_clear()
