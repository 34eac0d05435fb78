"""The supervision study in its quick form (random-init tiny ViT; the zoo variant is marked zoo)."""

from __future__ import annotations

import json

import pytest

from encoderscope.studies.supervision import ModelPlan, SupervisionConfig, best_entry, layer_label, run


def test_layer_label_and_best_entry() -> None:
    assert layer_label(["blocks.3", "blocks.7", "blocks.11"]) == "blocks.3+7+11"
    assert layer_label(["a.1", "b.2"]) == "a.1+b.2"
    scores = {"x": {3: {"corloc": 5.0}, 4: {"corloc": 50.0}}, "y": {3: {"corloc": 40.0}}}
    assert best_entry(scores) == ("x", 4, 50.0)


def _check(out, n_models: int) -> None:
    numbers = json.loads((out / "numbers.json").read_text())
    assert len(numbers["models"]) == n_models
    for scores in numbers["models"].values():
        for by_k in scores.values():
            assert set(by_k) == {str(k) for k in numbers["ks"]}
            for values in by_k.values():
                assert 0.0 <= values["corloc"] <= 100.0 and 0.0 <= values["miou"] <= 100.0
    assert set(numbers["baselines"]) == {"slic", "felzenszwalb"}
    summary = (out / "summary.md").read_text()
    assert "Overview: CorLoc" in summary and (out / "corloc.png").stat().st_size > 1000


def test_quick_run_random_init(tmp_path) -> None:
    plan = ModelPlan("timm:vit_tiny_patch16_224", "none", True, ["blocks.10", "blocks.11"],
                     [["blocks.10", "blocks.11"]])
    config = SupervisionConfig(n_images=2, ks=(3, 4), size=64, plans=[plan])
    out = run(tmp_path, quick=True, config=config)
    _check(out, 1)
    numbers = json.loads((out / "numbers.json").read_text())
    assert set(numbers["models"][plan.name]) == {"blocks.10", "blocks.11", "blocks.10+11"}


@pytest.mark.zoo
def test_quick_run_zoo(tmp_path) -> None:
    _check(run(tmp_path, quick=True), 4)


def test_nave_runs_keep_input_order_across_sizes() -> None:
    from PIL import Image

    from encoderscope.nave import prepare_encoder
    from encoderscope.studies._common import maps_by_index, nave_runs

    encoder = prepare_encoder("timm:vit_tiny_patch16_224", random_init=True, size=32)
    images = [Image.new("RGB", (64, 32)), Image.new("RGB", (32, 32)), Image.new("RGB", (64, 32), "red")]
    runs = nave_runs(encoder, images, [["blocks.11"]], [2, 3])
    assert set(runs) == {(0, 2), (0, 3)}
    result = runs[(0, 2)]
    assert result.keys == ["image-000", "image-001", "image-002"] and result.config["backend"] == "faiss"
    assert [m.shape for m in maps_by_index(result).values()] == [(32, 64), (32, 32), (32, 64)]
    assert [r.labels.shape for r in result.records] == [(2, 4), (2, 2), (2, 4)]
    assert runs[(0, 3)].k == 3
