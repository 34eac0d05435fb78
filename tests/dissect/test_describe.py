"""Descriptions, per-image explanations, saving, and the pipeline on a tiny random-init ViT."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import timm
import torch

from encoderscope.data.images import open_images
from encoderscope.dissect import AnnotationScorer, activations_from_tensor, describe_units, dissect
from encoderscope.dissect.similarity import soft_wpmi
from encoderscope.errors import ParameterError
from encoderscope.lwta import convert


def _toy() -> tuple:
    acts = torch.tensor([[3.0, 0.0, -0.5, 0.0], [0.0, 2.0, 0.0, 1.0], [2.5, 0.0, 0.0, 0.7], [0.1, 1.5, 0.4, 0.0]])
    P = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    return activations_from_tensor(acts, "blocks.0.mlp.act"), P


def test_descriptions_are_the_argmax_of_the_similarity() -> None:
    acts, P = _toy()
    result = describe_units(acts, P, ["stripes", "dots"], top_images=2, top_k=2)
    scores = soft_wpmi(P, acts.values, top_k=2)
    assert [row["concept"] for row in result.descriptions()] == [
        ["stripes", "dots"][int(i)] for i in scores.argmax(dim=1)
    ]
    assert torch.allclose(result.best_scores[:, 0], scores.max(dim=1).values)
    assert result.descriptions()[0]["top_images"] == "0;2"


def test_explanation_takes_the_nonzero_winner_even_when_negative() -> None:
    acts, P = _toy()
    result = describe_units(acts, P, ["stripes", "dots"], top_k=2)
    rows = result.explain(0, block_size=2)  # blocks: units (0,1) -> 3.0 wins; (2,3) -> -0.5 wins
    assert [(r.block, r.unit) for r in rows] == [(0, 0), (1, 2)]
    assert rows[1].activation == -0.5  # the released code's argmax would pick the zeroed unit 3
    with pytest.raises(ParameterError, match="does not divide"):
        result.explain(0, block_size=3)


def test_save_writes_descriptions_and_run_json(tmp_path: Path) -> None:
    acts, P = _toy()
    result = describe_units(acts, P, ["stripes", "dots"], top_k=2, config={"seed": 3})
    result.save(tmp_path, galleries=0)
    with (tmp_path / "descriptions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["unit"] for r in rows] == ["0", "1", "2", "3"] and set(rows[0]) >= {"layer", "concept", "score"}
    assert (tmp_path / "top_concepts.csv").read_text().count("\n") == 1 + 4 * 2
    assert '"similarity": "soft_wpmi"' in (tmp_path / "run.json").read_text()


def test_pipeline_on_tiny_lwta_vit_with_galleries(make_image, tmp_path: Path) -> None:
    torch.manual_seed(0)
    vit = timm.models.VisionTransformer(patch_size=32, embed_dim=16, depth=1, num_heads=2, num_classes=2)
    net = convert(vit, 4, seed=0)
    images = open_images([make_image(40, 40, seed=i) for i in range(6)])
    scorer = AnnotationScorer.from_labels([0, 1, 0, 1, 0, 1], ["red", "blue"])
    result = dissect(net, images, "blocks.0.mlp.act", ["red", "blue"], scorer, top_k=3, progress=False)
    assert result.activations.pool == "cls" and result.n_units == 64
    assert ((result.activations.values.reshape(6, 16, 4) != 0).sum(-1) == 1).all()  # CLS token LWTA outputs
    again = dissect(net, images, "blocks.0.mlp.act", ["red", "blue"], scorer, top_k=3, progress=False)
    assert torch.equal(result.activations.values, again.activations.values)  # seeded noise
    result.save(tmp_path, galleries=2, gallery_images=3)
    assert list((tmp_path / "galleries").glob("*.png"))
