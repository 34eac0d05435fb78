import numpy as np
import pytest

from encoderscope.errors import ParameterError
from encoderscope.nave.baselines import baseline_maps, felzenszwalb_regions, slic_regions


def quadrants() -> np.ndarray:
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[:30, :40] = (255, 0, 0)
    rgb[:30, 40:] = (0, 255, 0)
    rgb[30:, :40] = (0, 0, 255)
    rgb[30:, 40:] = (255, 255, 0)
    return rgb


@pytest.mark.parametrize("k", [3, 4, 6])
def test_felzenszwalb_scale_search_matches_the_region_count(k):
    labels = felzenszwalb_regions(quadrants(), k)
    assert len(np.unique(labels)) == k
    assert np.bincount(labels.ravel()).tolist() == sorted(np.bincount(labels.ravel()).tolist(), reverse=True)


def test_slic_recovers_four_flat_quadrants():
    labels = slic_regions(quadrants(), 4)
    assert len(np.unique(labels)) == 4
    # each quadrant is mostly one region, and the four regions differ
    majority = [np.bincount(labels[r + 5 : r + 25, c + 5 : c + 35].ravel()).argmax() for r in (0, 30) for c in (0, 40)]
    assert len(set(majority)) == 4


def test_baseline_maps_are_results_at_image_resolution(make_image):
    result = baseline_maps([make_image(64, 96), make_image(300, 200)], "slic", k=5, progress=False)
    assert [result.label_map(i).shape for i in range(2)] == [(64, 96), (300, 200)]
    assert result.records[1].labels.shape == (256, 171)  # worked at 256 px on the longer side
    assert result.config["model"] == "baseline:slic"
    with pytest.raises(ParameterError, match="unknown baseline"):
        baseline_maps([make_image(8, 8)], "sam")
