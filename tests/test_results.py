"""The result contract, over every result type: ``save`` writes a schema-numbered run.json with the record's keys,
``load_result`` returns the same type, ``.save()`` of the loaded result writes the same arrays and tables (byte for
byte; run.json identical but for timings), ``repr`` is one short line, ``figure()`` is a matplotlib Figure and
``_repr_html_()`` a bounded notebook view.

Each case builds a tiny result in well under a second or two (random-init models, the synthetic generator, matrices
given directly).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import encoderscope as es
from encoderscope.runs import SCHEMA, TIMING_FIELDS

RECORD_KEYS = {"schema", "encoderscope", "kind", "command", "config", "seed", "versions", "skipped", "seconds",
               "stages", "details"}
COMPARED = (".csv", ".json", ".md", ".txt", ".npz")  # pictures (.png, .jpg, .html) and checkpoints (.pt) are not


def _nave(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    images = [make_image(48, 64, seed=0), make_image(40, 40, seed=1)]
    return es.nave(tiny_resnet, images, layers="layer3", k=2, size=48, progress=False)


def _nave_dataset(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    images = [tmp / f"{i}.png" for i in range(3)]
    for i, path in enumerate(images):
        make_image(48, 64, seed=i).save(path)
    return es.nave(tiny_resnet, [str(p) for p in images], layers="layer3", k=3, scope="dataset", size=48,
                   progress=False)


def _nave_named(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.dissect.scorers import MaskAnnotationScorer

    result = _nave_dataset(tmp, make_image, tiny_resnet)
    stripes = np.zeros((48, 64), np.int64)
    stripes[:, 32:] = 1
    truth = MaskAnnotationScorer({f"{i}.png": stripes for i in range(3)}, ["sky", "grass"])
    return result.name_concepts(truth)


def _compare(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    images = [make_image(48, 64, seed=0)]
    return es.compare([tiny_resnet, "baseline:slic"], images, layers="layer3", k=2, size=48, progress=False)


def _flow(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    images = [make_image(48, 64, seed=0), make_image(40, 40, seed=1)]
    return es.flow(tiny_resnet, images, "layer2,layer3", k=2, size=48, progress=False)


def _scenes_maps(tmp: Path) -> tuple[Any, Any]:
    from encoderscope.data.scenes import SceneConfig
    from encoderscope.nave.result import NaveRecord, NaveResult

    es.write_scenes(tmp / "scenes", n=2, seed=1, config=SceneConfig(kinds=("shape",)), progress=False)
    dataset = es.open_voc(tmp / "scenes")
    records = []
    for index, entry in enumerate(dataset):
        objects = entry.object_map().astype(np.int16)
        records.append(NaveRecord(entry.key, index, objects, int(objects.max()) + 1, *(objects.shape,) * 3))
    return dataset, NaveResult("ground truth", records, config={"method": "given"})


def _corloc(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.nave.evaluate import score_maps

    dataset, result = _scenes_maps(tmp)
    return score_maps(result, dataset)


def _corloc_metric(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    maps = np.zeros((60, 60), int)
    maps[10:40, 10:40] = 1
    return es.corloc([maps, maps], [np.array([[10.0, 10, 40, 40]]), np.zeros((0, 4))], keys=["a", "b"],
                     config=es.CorLocThresholds(min_area=50, border=2))


def _dissect(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.dissect import activations_from_tensor

    acts = activations_from_tensor(torch.tensor([[2.0, 0.0, 0.5, 0.0], [0.0, 3.0, 0.0, 1.0], [1.5, 0.1, 0.2, 0.0]]),
                                   "fc", keys=["x", "y", "z"])
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    result = es.describe_units(acts, scores, ["stripes", "dots"], top_images=2, similarity="cos_similarity")
    result.explain_images, result.block_size = 2, 2
    return result


def _synthetic() -> tuple[Any, Any, Any]:
    from encoderscope.linking import as_classifier, load_generator

    gen, clf = load_generator("synthetic:linear"), as_classifier("synthetic:linear")
    return gen, clf, es.make_pairs(gen, clf, n_per_class=12, progress=False)


def _pairs(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    return _synthetic()[2]


def _link_fit(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    pairs = _synthetic()[2]
    return es.fit_link(pairs.features, pairs.latents, method="ridge", meta=pairs.meta)


def _sweep(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    gen, clf, pairs = _synthetic()
    link = es.fit_link(pairs.features, pairs.latents).network
    return es.sweep_units(link, gen, clf, pairs.features[:2], units=[0, 3], progress=False)


def _quantify(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.linking import fit_part_model, quantify_sweep

    sweep = _sweep(tmp, make_image, tiny_resnet)
    sweep.save(tmp / "sweep")
    parts = fit_part_model(sweep.images.reshape(-1, *sweep.images.shape[3:]), k=2, source="pixels")
    return quantify_sweep(sweep, parts, progress=False, sweep_dir=tmp / "sweep")


def _counterfactual(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    gen, clf, pairs = _synthetic()
    link = es.fit_link(pairs.features, pairs.latents).network
    return es.counterfactuals(pairs.features[:2], [0, 0], [1, 2], link, clf, gen, progress=False)


def _lwta(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.lwta.models import ModelConfig
    from encoderscope.lwta.train import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (16,), generator=g)
    x = torch.randn(16, 3, 32, 32, generator=g) * 0.1 + y.view(-1, 1, 1, 1).float()
    model = ModelConfig(arch="vit", U=2, embed_dim=16, depth=1, num_heads=2, num_classes=3, class_names=["a", "b", "c"])
    config = TrainConfig(model=model, epochs=1, batch_size=8, device="cpu")
    return train(config, data=(x[:8], y[:8], x[8:], y[8:]), passes=2, progress=False)


def _scenes(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.data.scenes import SceneConfig

    return es.write_scenes(tmp / "written", n=1, seed=2, config=SceneConfig(kinds=("shape",)), progress=False)


def _study(tmp: Path, make_image: Callable[..., Any], tiny_resnet: Any) -> Any:
    from encoderscope.results import StudyResult
    from encoderscope.studies._common import StudySummary

    summary = StudySummary(tmp / "study", "demo", quick=True, config={"k": 3}, seed=0)
    summary.table("scores", ["model", "score"], [["a", 1.0]])
    summary.numbers["a"] = 1.0
    return StudyResult.load(summary.finish())


CASES: dict[str, tuple[Callable[..., Any], str, str]] = {
    # name: (builder, kind, result class name)
    "nave": (_nave, "nave", "NaveResult"),
    "nave-dataset": (_nave_dataset, "nave", "NaveResult"),
    "nave-named": (_nave_named, "nave", "NaveResult"),
    "compare": (_compare, "compare", "Comparison"),
    "flow": (_flow, "flow", "FlowResult"),
    "corloc": (_corloc, "corloc", "LocalisationScores"),
    "corloc-metric": (_corloc_metric, "corloc", "CorLocResult"),
    "dissect": (_dissect, "dissect", "Dissection"),
    "link-pairs": (_pairs, "link-pairs", "PairedData"),
    "link-fit": (_link_fit, "link-fit", "LinkFit"),
    "link-tune": (_sweep, "link-tune", "SweepResult"),
    "link-quantify": (_quantify, "link-quantify", "QuantifyResult"),
    "link-counterfactual": (_counterfactual, "link-counterfactual", "CounterfactualResult"),
    "lwta-train": (_lwta, "lwta-train", "TrainResult"),
    "scenes": (_scenes, "scenes", "ScenesSummary"),
    "study": (_study, "study", "StudyResult"),
}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in COMPARED and p.name != "run.json"}


def _as_json(value: Any) -> Any:
    """What a value reads back as from JSON (tuples become lists, integer keys strings)."""
    return json.loads(json.dumps(value))


def _record(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "run.json").read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_save_load_save_round_trip(case: str, tmp_path: Path, make_image, tiny_resnet) -> None:
    builder, kind, type_name = CASES[case]
    result = builder(tmp_path, make_image, tiny_resnet)
    first = Path(result.save(tmp_path / "first"))
    folder = first.parent if first.suffix == ".npz" else first
    record = _record(folder)
    assert set(record) == RECORD_KEYS and record["schema"] == SCHEMA and record["kind"] == kind
    assert record["encoderscope"] == es.__version__ and "python" in record["versions"]

    loaded = es.load_result(folder)
    assert type(loaded).__name__ == type_name
    text = repr(loaded)
    assert "\n" not in text and len(text) < 200 and text.startswith(type_name)
    assert repr(result) == text  # what was computed and what was loaded describe themselves the same way

    second = Path(loaded.save(tmp_path / "second"))
    second = second.parent if second.suffix == ".npz" else second
    assert _files(second) == _files(folder)
    again = _record(second)
    assert {k: v for k, v in again.items() if k not in TIMING_FIELDS} == {
        k: v for k, v in record.items() if k not in TIMING_FIELDS
    }


MAX_HTML = 1_000_000  # characters of a notebook view, whatever the size of the result


@pytest.mark.parametrize("case", list(CASES))
def test_figure_and_notebook_view(case: str, tmp_path: Path, make_image, tiny_resnet) -> None:
    """``figure()`` returns a matplotlib Figure with something drawn; ``_repr_html_()`` starts with the repr and
    stays bounded."""
    from matplotlib.figure import Figure

    result = CASES[case][0](tmp_path, make_image, tiny_resnet)
    figure = result.figure()
    assert isinstance(figure, Figure) and figure.axes
    assert any(ax.images or ax.patches or ax.lines or ax.collections for ax in figure.axes)
    html = result._repr_html_()
    assert html.startswith("<div") and len(html) < MAX_HTML
    assert repr(result).split("(")[0] in html


def test_every_run_kind_has_a_case() -> None:
    from encoderscope.runs import KINDS

    assert {kind for _, kind, _ in CASES.values()} == set(KINDS)


def test_a_pairs_file_loads_with_its_embedded_record(tmp_path: Path) -> None:
    pairs = _synthetic()[2]
    path = pairs.save(tmp_path / "pairs.npz")
    loaded = es.load_result(path)
    assert loaded.run is not None and loaded.run.kind == "link-pairs"
    assert np.array_equal(loaded.latents, pairs.latents) and loaded.meta == _as_json(pairs.meta)


def test_loaded_nave_maps_equal_the_computed_ones(tmp_path: Path, make_image, tiny_resnet) -> None:
    result = _nave(tmp_path, make_image, tiny_resnet)
    loaded = es.load_result(result.save(tmp_path / "run", report=False))
    for (key, computed), (key2, read) in zip(result.label_maps(), loaded.label_maps(), strict=True):
        assert key == key2 and np.array_equal(computed, read)
    assert loaded.config == _as_json(result.config) and loaded.run.config == result.run.config


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no run.json"),
        ({"k": 5}, "not an encoderscope run record"),
        ({"kind": "nave", "config": {}}, "no schema number"),
        ({"kind": "nave", "schema": SCHEMA + 1}, f"schema {SCHEMA + 1}, newer than"),
        ({"kind": "painting", "schema": SCHEMA}, "unknown kind 'painting'"),
    ],
)
def test_unreadable_folders_are_one_line(tmp_path: Path, content: Any, message: str) -> None:
    if content is not None:
        (tmp_path / "run.json").write_text(json.dumps(content))
    with pytest.raises(es.EncoderscopeError, match=message) as info:
        es.load_result(tmp_path)
    assert "\n" not in str(info.value)


def test_a_study_without_numbers_is_one_line(tmp_path: Path) -> None:
    es.RunRecord.create("study", {}, details={"study": "x"}).write(tmp_path)
    with pytest.raises(es.EncoderscopeError, match=r"no numbers\.json"):
        es.load_result(tmp_path)
