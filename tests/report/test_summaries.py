"""Figures and notebook views of results that are mostly numbers."""

from __future__ import annotations

from encoderscope.report.summaries import flat_numbers, study_figure, study_html
from encoderscope.results import StudyResult


def test_flat_numbers_keeps_numeric_leaves_by_dotted_path() -> None:
    numbers = {"rows": [{"acc": 0.5, "ok": True, "name": "vit"}], "k": 3, "nan": float("nan")}
    flat = flat_numbers(numbers)
    assert list(flat) == ["rows.0.acc", "k", "nan"] and flat["k"] == 3.0


def test_study_figure_has_one_bar_per_number_up_to_the_limit() -> None:
    result = StudyResult("demo", {f"n{i}": float(i) for i in range(40)})
    assert len(study_figure(result, max_bars=10).axes[0].patches) == 10
    html = study_html(result)
    assert "StudyResult(demo" in html and "20 more rows not shown." in html
