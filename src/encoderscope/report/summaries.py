"""Figures and notebook views of the results that are mostly numbers: an LWTA training run (its loss curve and
evaluation), the written scenes (objects per class) and a study's numbers.

The results are passed in; this module imports none of the modules that define them.

Example:
    >>> flat_numbers({"a": {"b": 1.5, "c": "text"}, "d": [2, 3]})
    {'a.b': 1.5, 'd.0': 2.0, 'd.1': 3.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from encoderscope.report.figures import bar_figure, new_figure
from encoderscope.report.notebook import result_html, table_html
from encoderscope.report.palette import concept_palette, hex_colors

if TYPE_CHECKING:
    from encoderscope.data.scenes import ScenesSummary
    from encoderscope.lwta.train import TrainResult
    from encoderscope.results import StudyResult


def flat_numbers(numbers: Any, prefix: str = "") -> dict[str, float]:
    """The numeric leaves of nested dicts and lists, by dotted path (booleans and text left out)."""
    if isinstance(numbers, bool):
        return {}
    if isinstance(numbers, int | float):
        return {prefix: float(numbers)}
    if isinstance(numbers, Mapping):
        items = [(str(k), v) for k, v in numbers.items()]
    elif isinstance(numbers, list | tuple):
        items = [(str(i), v) for i, v in enumerate(numbers)]
    else:
        return {}
    found: dict[str, float] = {}
    for key, value in items:
        found |= flat_numbers(value, f"{prefix}.{key}" if prefix else key)
    return found


def loss_figure(result: TrainResult) -> Any:
    """Training loss per step."""
    figure, ax = new_figure(figsize=(4.0, 3.0))
    ax.plot(result.losses, lw=0.8, color=hex_colors(concept_palette(1))[0])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(f"{result.config.model.arch}, U={result.config.model.U}")
    figure.tight_layout()
    return figure


def train_html(result: TrainResult) -> str:
    """The evaluation's numbers and the per-layer active fractions."""
    evaluation = result.evaluation.as_dict()
    scalars = [[k, v] for k, v in evaluation.items() if not isinstance(v, dict)]
    layers = [[name, value, result.evaluation.expected_fraction[name]]
              for name, value in result.evaluation.active_fraction.items()]
    return result_html(repr(result), table_html(["number", "value"], scalars, digits=4),
                       table_html(["layer", "active fraction", "expected 1/U"], layers, digits=4))


def scenes_figure(summary: ScenesSummary) -> Any:
    """Objects per class in the written scenes."""
    return bar_figure(dict(summary.class_counts), ylabel="objects", title=f"{summary.n} scenes, seed {summary.seed}")


def scenes_html(summary: ScenesSummary) -> str:
    """Objects per class and images per object count."""
    return result_html(repr(summary), table_html(["class", "objects"], list(summary.class_counts.items())),
                       table_html(["objects per image", "images"], list(summary.objects_per_image.items())))


def study_figure(result: StudyResult, max_bars: int = 30) -> Any:
    """The study's numeric results as bars (the first ``max_bars``, by their dotted path in numbers.json)."""
    numbers = flat_numbers(result.numbers)
    return bar_figure(numbers or {"(no numbers)": 0.0}, title=f"study {result.name}", max_bars=max_bars)


def study_html(result: StudyResult) -> str:
    """The study's numbers as a table (dotted paths)."""
    return result_html(repr(result), table_html(["number", "value"], list(flat_numbers(result.numbers).items())))
