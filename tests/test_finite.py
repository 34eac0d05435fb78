import pytest
import torch

from encoderscope._finite import all_finite


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("shape", [(7,), (5, 6), (3, 4, 5)])
def test_one_bad_value_anywhere_is_found(bad, shape):
    for position in (0, -1):
        x = torch.randn(shape)
        x.view(-1)[position] = bad
        assert not all_finite(x)
        assert not all_finite(x, chunk_elements=4)  # element by element in small blocks


def test_an_overflowing_sum_of_finite_values_is_still_finite():
    x = torch.full((64, 8), 3.0e38)
    assert not torch.isfinite(x.sum())
    assert all_finite(x) and all_finite(x, chunk_elements=16)
    x[40, 3] = float("nan")
    assert not all_finite(x, chunk_elements=16)


def test_half_precision_integers_and_empty():
    assert all_finite(torch.full((10,), 60000.0, dtype=torch.float16))  # its sum overflows float16
    assert all_finite(torch.arange(10)) and all_finite(torch.zeros(0)) and all_finite(torch.ones(3, dtype=torch.bool))
