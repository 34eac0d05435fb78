"""The lazy links: ``import_object`` specs and every result's drawer resolve to real report functions."""

from __future__ import annotations

import pytest

from encoderscope.lazy import drawn_by, import_object
from encoderscope.results import LOADERS


def test_import_object_reads_a_module_attribute_and_rejects_a_bad_spec():
    assert import_object("encoderscope.results:LOADERS") is LOADERS
    with pytest.raises(ValueError, match="module:name"):
        import_object("encoderscope.results")
    with pytest.raises(AttributeError):
        import_object("encoderscope.results:no_such_name")


def test_drawn_by_calls_the_drawer_with_the_object_and_keeps_its_doc():
    class Word(str):
        shout = drawn_by("builtins:len", "The length.")

    assert Word("abc").shout() == 3
    assert Word.shout.__doc__ == "The length."
    assert Word.shout.__name__ == "len"
    assert Word.shout.drawer == "builtins:len"


def _drawn_methods():
    for spec in sorted(set(LOADERS.values())):
        cls = import_object(spec)
        for attr in ("figure", "_repr_html_"):
            drawer = getattr(getattr(cls, attr, None), "drawer", None)
            if drawer is not None:
                yield pytest.param(drawer, id=f"{cls.__name__}.{attr}")


@pytest.mark.parametrize("drawer", list(_drawn_methods()))
def test_every_result_drawer_names_a_report_function(drawer):
    assert drawer.startswith("encoderscope.report.")
    assert callable(import_object(drawer))


def test_the_drawn_methods_cover_the_results():
    assert len(list(_drawn_methods())) >= 12
