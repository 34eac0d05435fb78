"""The alluvial figure of a concept flow: colours follow persisting concepts, labels, errors, the HTML report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.report.flow import chain_colours, figure_png, flow_figure, write_flow_report
from encoderscope.report.palette import concept_palette, hex_colors, match_counts

SPLIT_AND_MERGE = np.array([[0, 0, 8, 0], [2, 2, 0, 0], [0, 0, 0, 2], [0, 0, 0, 2]])


def test_match_counts_agrees_with_match_labels() -> None:
    from encoderscope.report.palette import match_labels, overlap_matrix

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, (6, 6)), rng.integers(0, 4, (6, 6))
    assert match_counts(overlap_matrix(a, b, 3, 4)).tolist() == match_labels(a, b, 3, 4).tolist()


def test_a_persisting_concept_keeps_its_colour_and_new_ones_get_unused_colours() -> None:
    first, second = chain_colours([SPLIT_AND_MERGE])
    assert first.tolist() == [0, 1, 2, 3]
    assert second[2] == 0  # concept 0 persists as concept 2 of the next depth
    assert sorted(second.tolist()) == sorted(set(second.tolist()))  # no colour twice within a depth
    grow = chain_colours([np.array([[3, 1, 0]])])[1]  # one concept becomes three: two new colours
    assert grow.tolist()[0] == 0 and sorted(grow.tolist()[1:]) == [1, 2]


def _texts(fig) -> list[str]:
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def test_figure_draws_boxes_in_concept_colours_with_names_and_notes() -> None:
    from matplotlib.colors import to_hex

    fig = flow_figure(["blocks.3", "blocks.7"], [SPLIT_AND_MERGE],
                      names=[["sky", "dog", "grass", "road"], ["a", "b", "sky'", "ground"]], notes=["persist 1"])
    texts = _texts(fig)
    assert {"blocks.3", "blocks.7", "sky", "dog", "sky'", "ground", "persist 1"} <= set(texts)
    boxes = [patch for patch in fig.axes[0].patches]
    assert len(boxes) == 8  # every concept of both depths has positions
    palette = hex_colors(concept_palette(4))
    assert {to_hex(box.get_facecolor()) for box in boxes} == set(palette)
    assert figure_png(fig)[:4] == b"\x89PNG"


def test_three_depths_and_a_written_png(tmp_path: Path) -> None:
    tables = [np.array([[4, 0], [1, 3]]), np.array([[2, 2, 0], [0, 0, 4]])]
    fig = flow_figure(["l1", "l2", "l3"], tables)
    assert {"l1", "l2", "l3", "c0", "c2"} <= set(_texts(fig))
    data = figure_png(fig, dpi=60, path=tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes() == data


@pytest.mark.parametrize(
    ("layers", "tables", "message"),
    [(["a"], [np.ones((2, 2))], "one more layer"),
     (["a", "b", "c"], [np.ones((2, 3)), np.ones((2, 2))], "has 2 rows, the previous one 3 columns")],
)
def test_mismatched_inputs_are_one_line(layers: list[str], tables: list[np.ndarray], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        flow_figure(layers, tables)


def test_flow_report_is_one_page_with_the_table(tmp_path: Path) -> None:
    png = figure_png(flow_figure(["a", "b"], [SPLIT_AND_MERGE]), dpi=40)
    page = write_flow_report(tmp_path / "report.html", "Concept flow", png, [{"from": "a", "to": "b", "split": 1}],
                             caption="one step")
    text = page.read_text()
    assert "data:image/png;base64," in text and "Per depth step" in text and "one step" in text


def test_boxes_follow_the_concepts_they_come_from() -> None:
    from encoderscope.report.flow import column_orders

    orders = column_orders([SPLIT_AND_MERGE])
    assert orders[0].tolist() == [0, 1, 2, 3]
    assert orders[1].tolist() == [2, 0, 1, 3]  # 2 comes from 0 (top), 0 and 1 from 1, 3 from 2 and 3 (bottom)
