"""Concept flow across depths: transitions, persist / split / merge, mutual information, the pipeline end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.nave.config import FlowConfig
from encoderscope.nave.flow import (
    FlowResult,
    common_grids,
    flow,
    flow_from_results,
    flow_step,
    mutual_information,
    transition_counts,
)
from encoderscope.nave.result import NaveRecord, NaveResult

# Depth A (4 x 4): concept 0 on the top half, 1 on the bottom-left quarter, 2 and 3 on the bottom-right quarter.
DEEP_FROM = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 2, 2], [1, 1, 3, 3]])
# Depth B: 0 persists (as 2), 1 splits in two (into 0 and 1), 2 and 3 merge (into 3).
DEEP_TO = np.array([[2, 2, 2, 2], [2, 2, 2, 2], [0, 1, 3, 3], [0, 1, 3, 3]])


def _result(grids: list[np.ndarray], layer: str, k: int, scope: str = "dataset",
            content: tuple[int, int] | None = None, keys: list[str] | None = None) -> NaveResult:
    records = []
    for index, grid in enumerate(grids):
        padded = (grid.shape[0] * 8, grid.shape[1] * 8)
        key = keys[index] if keys else f"img{index}"
        records.append(NaveRecord(key, index, np.asarray(grid, np.int16), k, content or padded, content or padded,
                                  padded))
    return NaveResult(f"model · {layer}", records, {"scope": scope, "layers": [layer], "model": "model"})


def test_a_persisting_a_splitting_and_two_merging_concepts() -> None:
    step = flow_step(transition_counts([DEEP_FROM], [DEEP_TO], 4, 4), "a", "b")
    assert step.counts.tolist() == [[0, 0, 8, 0], [2, 2, 0, 0], [0, 0, 0, 2], [0, 0, 0, 2]]
    assert step.persist == [(0, 2)]
    assert step.splits == {1: [0, 1]}
    assert step.merges == {3: [2, 3]}
    assert np.allclose(step.forward.sum(axis=1), 1) and np.allclose(step.backward.sum(axis=0)[[0, 1, 2, 3]], 1)


def test_a_half_and_half_split_is_not_a_persistence_and_thresholds_move_the_counts() -> None:
    counts = np.array([[6, 4, 0], [0, 0, 5]])  # concept 0: 60 % -> 0, 40 % -> 1; concept 1 -> 2
    step = flow_step(counts, "a", "b")
    assert step.persist == [(0, 0), (1, 2)] and step.splits == {0: [0, 1]} and step.merges == {}
    strict = flow_step(counts, "a", "b", persist_share=0.7, branch_share=0.45)
    assert strict.persist == [(1, 2)] and strict.splits == {}
    half = flow_step(np.array([[5, 5]]), "a", "b")
    assert half.persist == [] and half.splits == {0: [0, 1]}


def test_mutual_information_by_hand_and_against_scikit_learn() -> None:
    from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

    counts = np.array([[2, 0], [1, 1]])  # p = [[1/2, 0], [1/4, 1/4]], p_from = [1/2, 1/2], p_to = [3/4, 1/4]
    by_hand = 0.5 * math.log(0.5 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / (0.5 * 0.75)) + 0.25 * math.log(2.0)
    h_from, h_to = math.log(2), -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    mi, nmi, hf, ht = mutual_information(counts)
    assert mi == pytest.approx(by_hand) and hf == pytest.approx(h_from) and ht == pytest.approx(h_to)
    assert nmi == pytest.approx(by_hand / ((h_from + h_to) / 2))
    a, b = [0, 0, 1, 1], [0, 0, 0, 1]
    assert mi == pytest.approx(mutual_info_score(a, b)) and nmi == pytest.approx(normalized_mutual_info_score(a, b))

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 500), rng.integers(0, 3, 500)
    table = np.zeros((4, 3), int)
    np.add.at(table, (x, y), 1)
    mi, nmi, _, _ = mutual_information(table)
    assert mi == pytest.approx(mutual_info_score(x, y)) and nmi == pytest.approx(normalized_mutual_info_score(x, y))


def test_trivial_partitions_follow_scikit_learn() -> None:
    assert mutual_information(np.array([[7]]))[1] == 1.0  # both one concept: the same partition
    assert mutual_information(np.array([[3, 4]]))[:2] == (0.0, 0.0)  # one side one concept: no information
    with pytest.raises(ParameterError, match="no positions in common"):
        mutual_information(np.zeros((2, 2)))


def test_common_grid_is_the_finer_one_by_default_or_the_coarser() -> None:
    coarse = np.array([[0, 1], [2, 3]])
    fine = np.repeat(np.repeat(np.array([[0, 1], [1, 1]]), 2, axis=0), 2, axis=1)
    a, b = common_grids(coarse, fine)
    assert a.shape == b.shape == (4, 4)
    assert transition_counts([coarse], [fine], 4, 2).tolist() == [[4, 0], [0, 4], [0, 4], [0, 4]]
    assert transition_counts([coarse], [fine], 4, 2, grid="coarser").tolist() == [[1, 0], [0, 1], [0, 1], [0, 1]]
    assert transition_counts([fine], [coarse], 2, 4).tolist() == [[4, 0, 0, 0], [0, 4, 4, 4]]  # either order


def test_padding_is_left_out_and_counts_add_over_images() -> None:
    grid = np.array([[0, 1], [5, 5]])  # bottom row: padding (content is the top half), holding a junk id
    a, b = _result([grid, grid], "a", 6, content=(8, 16)), _result([grid, grid], "b", 6, content=(8, 16))
    step = flow_from_results([a, b]).steps[0]
    assert step.counts.sum() == 4 and step.counts[5].sum() == 0 and step.counts[0, 0] == step.counts[1, 1] == 2


def test_flow_from_results_checks_scope_depths_and_images() -> None:
    a = _result([DEEP_FROM], "a", 4)
    with pytest.raises(ParameterError, match="not a dataset-scope result"):
        flow_from_results([a, _result([DEEP_TO], "b", 4, scope="image")])
    with pytest.raises(ParameterError, match="at least two depths"):
        flow_from_results([a])
    two = _result([DEEP_FROM, DEEP_FROM], "a", 4, keys=["x", "y"])
    result = flow_from_results([two, _result([DEEP_TO], "b", 4, keys=["x"])])
    assert result.skipped == [{"key": "y", "reason": "not mapped at every depth"}]
    assert result.steps[0].counts.sum() == 16 and result.layers == ["a", "b"]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"persist_share": 0.4}, "persist_share must be in"), ({"branch_share": 0.6}, "branch_share must be in"),
     ({"grid": "middle"}, "unknown flow grid"), ({"method": "attention"}, "method 'attention'")],
)
def test_config_errors_are_one_line(options: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        FlowConfig().replace(**options)


def test_config_always_uses_the_dataset_scope() -> None:
    assert FlowConfig().nave.scope == "dataset"
    assert FlowConfig.from_json({"nave": {"k": 3}}).nave.scope == "dataset"


def test_saved_flow_loads_back(tmp_path: Path) -> None:
    from encoderscope.results import load_result

    result = flow_from_results([_result([DEEP_FROM], "a", 4), _result([DEEP_TO], "b", 4)])
    folder = result.save(tmp_path / "flow")
    assert (folder / "flow.png").read_bytes()[:4] == b"\x89PNG" and (folder / "report.html").is_file()
    loaded = load_result(folder)
    assert isinstance(loaded, FlowResult) and loaded.flow_json() == result.flow_json()
    assert loaded.transitions_csv() == (folder / "transitions.csv").read_text()
    lines = (folder / "transitions.csv").read_text().splitlines()
    assert lines[0] == "step,layer_from,layer_to,concept_from,concept_to,positions,share_of_from,share_of_to"
    assert "0,a,b,1,0,2,0.500000,1.000000" in lines


def test_figure_and_notebook_view() -> None:
    from matplotlib.figure import Figure

    result = flow_from_results([_result([DEEP_FROM], "a", 4), _result([DEEP_TO], "b", 4)])
    assert isinstance(result.figure(), Figure)
    page = result._repr_html_()
    assert "data:image/png;base64," in page and "<td>a</td>" in page


def _images(make_image, n: int = 3) -> list:
    return [make_image(64, 64, seed=i) for i in range(n)]


def test_flow_end_to_end_with_one_forward_pass_per_batch_for_all_depths(tiny_resnet, make_image) -> None:
    calls = []
    handle = tiny_resnet.module.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        result = flow(tiny_resnet, _images(make_image), "layer1,layer2,layer3", k=3, size=64, progress=False)
    finally:
        handle.remove()
    assert len(calls) == 2  # the dataset scope's sample pass and assignment pass, each capturing all three layers
    assert result.layers == ["layer1", "layer2", "layer3"] and len(result.steps) == 2
    assert [step.counts.shape for step in result.steps] == [(3, 3), (3, 3)]
    assert result.steps[0].counts.sum() == 3 * 16 * 16  # layer1's grid (stride 4 of 64 px) is the finer one
    assert result.run is not None and result.run.kind == "flow" and result.run.config["nave"]["scope"] == "dataset"
    assert all(r.config["scope"] == "dataset" and r.config["seed"] == 0 for r in result.results)
    assert "FlowResult(" in repr(result) and "3 depths" in repr(result)


def test_same_seed_same_flow_for_any_batch_size(tiny_resnet, make_image) -> None:
    images = _images(make_image)
    first = flow(tiny_resnet, images, ["layer2", "layer3"], k=3, seed=4, batch_size=1, size=64,
                 progress=False)
    again = flow(tiny_resnet, images, ["layer2", "layer3"], k=3, seed=4, batch_size=3, size=64,
                 progress=False)
    assert first.flow_json() == again.flow_json()


@pytest.mark.parametrize(
    ("options", "message"),
    [({"layers": None}, "needs layers"), ({"layers": "layer3"}, "at least two layers"),
     ({"layers": "layer2,layer3", "scope": "image"}, "uses the dataset scope")],
)
def test_flow_input_errors_are_one_line(tiny_resnet, make_image, options: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        flow(tiny_resnet, _images(make_image, 1), size=64, progress=False, **options)


def test_unreadable_images_are_skipped_and_recorded(tiny_resnet, make_image, tmp_path: Path) -> None:
    import encoderscope as es

    make_image(64, 64, seed=0).save(tmp_path / "good.png")
    make_image(64, 64, seed=1).save(tmp_path / "fine.png")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    result = es.nave.flow(tiny_resnet, str(tmp_path), "layer2,layer3", k=2, size=64, progress=False)
    assert es.flow is es.nave.flow and len(result.results[0]) == 2
    assert [entry["key"] for entry in result.skipped] == ["broken.png"]
    assert result.run is not None and result.run.skipped == result.skipped
    assert result.run.config["nave"]["images"] == [str(tmp_path)]


def test_a_named_flow_labels_its_depths_and_keeps_the_names(tmp_path: Path, tiny_resnet) -> None:
    from encoderscope.data.scenes import SceneConfig, write_scenes
    from encoderscope.nave.flow import depth_labels
    from encoderscope.results import load_result

    root = write_scenes(tmp_path / "scenes", n=2, seed=0, config=SceneConfig(kinds=("shape",), min_side=64,
                        max_side=64), progress=False).root
    result = flow(tiny_resnet, str(root / "JPEGImages"), "layer2,layer3", k=2, size=64, progress=False, workers=0,
                  name_concepts=True, scorer=f"annotations:{root}")
    assert all(r.concept_names is not None and r.concept_names.scorer == "annotations:scenes" for r in result.results)
    labels = depth_labels(result.results)
    assert labels is not None and len(labels) == 2 and any(label.endswith(" · shape") for label in labels[0])
    assert "names" in result.run.stages
    folder = result.save(tmp_path / "flow", report=False)
    assert (folder / "depths" / "00" / "names.csv").is_file()
    loaded = load_result(folder)
    assert [r.concept_names for r in loaded.results] == [r.concept_names for r in result.results]
    assert depth_labels([_result([DEEP_FROM], "a", 4)]) is None
