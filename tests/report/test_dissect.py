"""Dissection pictures: unit galleries, or the units' scores when the probe images cannot be loaded."""

from __future__ import annotations

import torch

from encoderscope.dissect import activations_from_tensor, describe_units
from encoderscope.report.dissect import dissection_figure, dissection_html, write_galleries


def _dissection():
    acts = activations_from_tensor(torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 0.5]]), "fc", keys=["x", "y", "z"])
    return describe_units(acts, torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), ["stripes", "dots"],
                          top_images=2, similarity="cos_similarity")


def test_without_probe_images_the_figure_shows_the_scores(capsys) -> None:
    dissection = _dissection()
    figure = dissection_figure(dissection)
    assert len(figure.axes[0].patches) == dissection.n_units
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["0: stripes", "1: dots"]
    html = dissection_html(dissection)
    assert "stripes" in html and "<img" not in html


def test_galleries_are_skipped_with_a_warning_when_images_cannot_load(tmp_path, capsys) -> None:
    write_galleries(_dissection(), tmp_path / "galleries", [0, 1])
    assert not (tmp_path / "galleries").exists()
    assert "galleries skipped" in capsys.readouterr().err
