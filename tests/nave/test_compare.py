import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from encoderscope._io import read_json
from encoderscope.nave import NaveRecord, NaveResult
from encoderscope.nave.compare import adjusted_rand, compare, compare_results


def result_of(grid: np.ndarray, name: str) -> NaveResult:
    hw = grid.shape
    record = NaveRecord("a", 0, grid.astype(np.int16), int(grid.max()) + 1, hw, hw, hw)
    return NaveResult(name, [record], {"seed": 0})


def test_hungarian_matching_makes_colours_agree_and_ari_is_label_free():
    reference = np.array([[0, 0, 1, 1], [0, 0, 2, 2]])
    renamed = np.array([[2, 2, 0, 0], [2, 2, 1, 1]])  # same partition, other ids
    coarser = np.array([[1, 1, 0, 0], [1, 1, 0, 0]])
    comparison = compare_results([result_of(reference, "ref"), result_of(renamed, "b"), result_of(coarser, "c")])
    assert np.array_equal(comparison.aligned_map(1, "a"), reference)
    assert np.array_equal(comparison.aligned_map(2, "a"), np.array([[0, 0, 1, 1], [0, 0, 1, 1]]))
    assert comparison.ari[0, 0, 1] == 1.0
    expected = adjusted_rand_score(reference.ravel(), coarser.ravel())
    assert comparison.ari[0, 0, 2] == comparison.ari[0, 2, 0] == expected
    assert comparison.mean_ari.shape == (3, 3)


def test_compare_models_and_a_baseline_end_to_end(make_image, tiny_vit, tmp_path):
    images = [make_image(64, 96, seed=0), make_image(48, 48, seed=1)]
    comparison = compare([tiny_vit, tiny_vit], images, k=3, baselines=["slic"], progress=False)
    assert len(comparison.results) == 3 and comparison.keys == ["image-000", "image-001"]
    assert np.allclose(comparison.ari[:, 0, 1], 1.0)  # the same model twice agrees fully
    figure = comparison.figure("image-001")
    assert type(figure).__name__ == "Figure" and len(figure.axes) == 1
    assert "Mean adjusted Rand index" in comparison._repr_html_()
    out = comparison.save(tmp_path / "cmp")
    info = read_json(out / "run.json")
    assert info["kind"] == "compare" and len(info["details"]["mean_ari"]["matrix"]) == 3
    assert info["config"]["baselines"] == ["slic"] and info["config"]["nave"]["k"] == 3
    assert (out / "compare" / "image-000.png").exists() and (out / "report.html").exists()
    assert (out / "ari.csv").read_text().splitlines()[-1].startswith("mean,")


def test_adjusted_rand_matches_sklearn():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (30, 20))
    b = (a + (rng.random((30, 20)) < 0.3)) % 4
    assert adjusted_rand(a, b) == pytest.approx(adjusted_rand_score(a.ravel(), b.ravel()), abs=1e-12)
    assert adjusted_rand(np.zeros((2, 2), int), np.zeros((2, 2), int)) == 1.0
