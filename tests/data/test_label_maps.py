"""Matching concept ids across label maps: nearest resize, overlap counts, Hungarian matching, alignment."""

from __future__ import annotations

import numpy as np
import pytest

from encoderscope.data.label_maps import align_labels, align_many, match_labels, overlap_matrix, resize_labels
from encoderscope.errors import ParameterError


def test_resize_labels_nearest_at_pixel_centres() -> None:
    labels = np.array([[0, 1, 2]])
    assert resize_labels(labels, (2, 6)).tolist() == [[0, 0, 1, 1, 2, 2]] * 2
    assert resize_labels(np.arange(4).reshape(2, 2), (1, 1)).tolist() == [[3]]
    with pytest.raises(ParameterError, match="2-D"):
        resize_labels(np.zeros(3, int), (2, 2))


def test_overlap_matrix_hand_computed() -> None:
    ref = np.array([[0, 0, 1, 1], [0, 2, 2, -1]])
    oth = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
    # ref 0 at (0,0),(0,1),(1,0): other 1,1,1; ref 1 at (0,2),(0,3): other 0,0; ref 2 at (1,1),(1,2): 0,0.
    assert overlap_matrix(ref, oth).tolist() == [[0, 3], [2, 0], [2, 0]]
    # A list of maps sums the counts.
    assert overlap_matrix([ref, ref], [oth, oth]).tolist() == [[0, 6], [4, 0], [4, 0]]


def test_overlap_matrix_errors() -> None:
    with pytest.raises(ParameterError, match="cannot match"):
        overlap_matrix([np.zeros((2, 2), int)], [np.zeros((2, 2), int)] * 2)
    with pytest.raises(ParameterError, match="beyond"):
        overlap_matrix(np.array([[0, 3]]), np.array([[0, 1]]), k_ref=2)


def test_align_recovers_a_permutation(rng: np.random.Generator) -> None:
    ref = rng.integers(0, 6, size=(20, 30))
    perm = rng.permutation(6)
    assert np.array_equal(align_labels(ref, perm[ref]), ref)
    mapping = match_labels(ref, perm[ref])
    assert sorted(mapping.tolist()) == list(range(6))


def test_match_maximises_total_overlap_not_greedy() -> None:
    # Greedy would pair other-0 with ref-0 (overlap 5) and leave other-1 with ref-1 (0): total 5.
    # The best pairing is other-0 -> ref-1 (4) and other-1 -> ref-0 (4): total 8.
    ref = np.array([[0] * 9 + [1] * 4])
    oth = np.array([[0] * 5 + [1] * 4 + [0] * 4])
    assert match_labels(ref, oth).tolist() == [1, 0]


def test_extra_clusters_get_new_ids_by_decreasing_size() -> None:
    ref = np.array([[0, 0, 0, 0, 0, 0]])
    oth = np.array([[2, 2, 2, 0, 1, 1]])
    # other-2 overlaps most and takes id 0; the others get 1 (other-1, size 2) and 2 (other-0, size 1).
    assert match_labels(ref, oth).tolist() == [2, 1, 0]


def test_fewer_clusters_and_negative_labels_are_kept() -> None:
    ref = np.array([[0, 1, 2, 2]])
    oth = np.array([[-1, 0, 0, 0]])
    assert align_labels(ref, oth).tolist() == [[-1, 2, 2, 2]]


def test_align_different_resolutions() -> None:
    ref = np.zeros((8, 8), int)
    ref[:, 4:] = 1
    coarse = np.array([[1, 0], [1, 0]])
    assert align_labels(ref, coarse).tolist() == [[0, 1], [0, 1]]


def test_align_many_keeps_reference() -> None:
    ref = np.array([[0, 1]])
    out = align_many([np.array([[1, 0]]), ref], reference=1)
    assert out[1] is ref and out[0].tolist() == [[0, 1]]
    assert align_many([]) == []
