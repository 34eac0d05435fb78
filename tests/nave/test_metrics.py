"""Hand-computed cases for CorLoc (docs/methods/corloc.md) and the mask metrics."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from encoderscope._io import read_json
from encoderscope.errors import ParameterError
from encoderscope.nave.metrics import (
    RELATIVE_BORDER,
    RELATIVE_MIN_AREA,
    CorLocThresholds,
    best_match_iou,
    box_iou,
    component_boxes,
    connected_components,
    corloc,
    hungarian_miou,
    localise_image,
    mask_scores,
)


def _yolo_iou(a, b, eps=1e-7):
    """The YOLOv5 formula written out for scalars."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1] + eps) + (b[2] - b[0]) * (b[3] - b[1] + eps) - inter + eps
    return inter / union


def test_box_iou_matches_yolo_formula():
    assert box_iou(np.array([0, 0, 10, 10]), np.array([[5, 0, 15, 10]]))[0] == pytest.approx(50 / 150, abs=1e-8)
    assert box_iou(np.array([0, 0, 10, 10]), np.array([[20, 20, 30, 30]]))[0] == 0.0
    a, b = [3.0, 4.0, 17.0, 9.0], [5.0, 1.0, 12.0, 30.0]
    assert box_iou(np.array(a), np.array([b]))[0] == pytest.approx(_yolo_iou(a, b), rel=1e-12)


def test_single_object_box_and_iou():
    sppx = np.zeros((128, 160), dtype=int)
    sppx[40:80, 50:100] = 1  # 40 x 50 = 2000 px > 784
    gt_voc = np.array([[51, 41, 100, 80]], dtype=float)  # VOC 1-based inclusive box of those pixels
    gt = gt_voc - np.array([1, 1, 0, 0])  # LOST convention: xmin, ymin shifted by -1
    boxes = component_boxes(sppx)
    assert [50.0, 40.0, 99.0, 79.0] in boxes.tolist()
    result = localise_image(sppx, gt)
    assert result.box == (50.0, 40.0, 99.0, 79.0)
    assert result.iou == pytest.approx((49 * 39) / 2000, abs=1e-6)  # 0.9555
    assert result.correct


def test_area_threshold_is_strict_and_counted_before_border():
    sppx = np.zeros((100, 100), dtype=int)
    sppx[30:58, 30:58] = 1  # 28 x 28 = 784: not larger than 784, dropped
    assert len(connected_components(sppx, 784, 0)) == 1  # only the background ring
    sppx[58, 30] = 1  # 785 px: kept
    assert len(connected_components(sppx, 784, 0)) == 2
    band = np.zeros((100, 100), dtype=int)
    band[0:14, 0:100] = 1  # 1400 px, all inside the 14 px border band: emptied and dropped
    masks = connected_components(band, 784, 14)
    assert len(masks) == 1 and not masks[0][:14].any()
    crossing = np.zeros((100, 100), dtype=int)
    crossing[5:40, 5:40] = 1  # area counted before clearing (1225 px), box starts at the band's edge
    assert [14.0, 14.0, 39.0, 39.0] in component_boxes(crossing, CorLocThresholds(min_area=784, border=14)).tolist()


def test_four_connectivity_splits_diagonal_touch():
    sppx = np.zeros((200, 200), dtype=int)
    sppx[20:50, 20:50] = 1
    sppx[50:80, 50:80] = 1  # touches the first square only at a corner
    gt = np.array([[20.0, 20.0, 80.0, 80.0]])
    result = localise_image(sppx, gt)
    assert result.n_components == 3  # two squares (4-connectivity) + the background
    assert result.iou == pytest.approx(_yolo_iou([20, 20, 49, 49], gt[0]), rel=1e-9)  # 29*29 / 3600 = 0.234
    assert not result.correct


def test_best_component_over_several_gt_boxes():
    sppx = np.zeros((120, 120), dtype=int)
    sppx[20:60, 20:60] = 1
    sppx[70:110, 70:110] = 2
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [70.0, 70.0, 111.0, 111.0]])
    result = localise_image(sppx, gt)
    assert result.gt_index == 1
    assert result.box == (70.0, 70.0, 105.0, 105.0)  # rows/cols 106..109 fall in the 14 px border band
    assert result.iou == pytest.approx(_yolo_iou([70, 70, 105, 105], gt[1]), rel=1e-9)


def test_split_boxes_uses_strict_threshold():
    sppx = np.zeros((100, 100), dtype=int)
    sppx[20:60, 20:60] = 1
    gt = np.array([[20.0, 20.0, 70.0, 70.0], [0.0, 0.0, 5.0, 5.0]])
    iou = _yolo_iou([20, 20, 59, 59], gt[0])
    at = CorLocThresholds(iou_threshold=iou)
    assert localise_image(sppx, gt, at).correct  # default rule: IoU >= threshold
    split = localise_image(sppx, gt, CorLocThresholds(iou_threshold=iou, split_boxes=True))
    assert not split.correct and split.iou == pytest.approx(iou) and split.gt_index == 0  # split: IoU > threshold


def test_corloc_percentage_and_skips():
    good = np.zeros((100, 100), dtype=int)
    good[20:70, 20:70] = 1
    gt_good = np.array([[20.0, 20.0, 70.0, 70.0]])
    gt_bad = np.array([[80.0, 0.0, 100.0, 15.0]])
    result = corloc([good, good, good, good], [gt_good, gt_good, gt_bad, np.zeros((0, 4))], keys=list("abcd"))
    assert result.corloc == pytest.approx(200 / 3)
    assert result.n_images == 3 and result.skipped == [("d", "no ground-truth box")]
    with pytest.raises(ParameterError):
        corloc([good], [gt_good, gt_good])


def test_no_surviving_component_is_wrong():
    tiny = np.zeros((40, 40), dtype=int)  # one cluster, but all of it inside the border band after clearing
    result = localise_image(tiny, np.array([[0.0, 0.0, 40.0, 40.0]]), CorLocThresholds(border=20))
    assert result.n_components == 0 and result.iou == 0.0 and not result.correct


def test_relative_thresholds():
    config = CorLocThresholds.relative_default()
    assert config.pixel_thresholds((375, 500)) == (pytest.approx(784.0), 14)
    area, border = config.pixel_thresholds((224, 224))
    assert area == pytest.approx(784 * 224 * 224 / (375 * 500))
    assert border == round(14 / 375 * 224) == 8
    assert abs(RELATIVE_MIN_AREA - 784 / 187500) < 1e-15 and abs(RELATIVE_BORDER - 14 / 375) < 1e-15
    with pytest.raises(ParameterError):
        CorLocThresholds(min_area=-1).pixel_thresholds((10, 10))


def test_save_writes_csv_and_run_json(tmp_path):
    sppx = np.zeros((100, 100), dtype=int)
    sppx[20:70, 20:70] = 1
    result = corloc([sppx], [np.array([[20.0, 20.0, 70.0, 70.0]])], keys=["img1"])
    result.save(tmp_path)
    rows = list(csv.DictReader((tmp_path / "corloc.csv").open()))
    assert rows[0]["key"] == "img1" and rows[0]["correct"] == "1" and rows[0]["xmin"] == "20.0"
    run = read_json(tmp_path / "run.json")
    assert run["details"]["corloc"]["corloc"] == 100.0 and run["config"]["min_area"] == 784.0


def _stripes():
    segments = np.zeros((4, 10), dtype=int)
    segments[:, 4:7] = 1
    segments[:, 7:10] = 2
    clusters = np.zeros((4, 10), dtype=int)
    clusters[:, 5:10] = 1
    return clusters, segments


def test_hungarian_miou_hand_case():
    clusters, segments = _stripes()
    # IoU: A(cols 0-4) vs bg 4/5, vs obj1 1/7, vs obj2 0; B(cols 5-9) vs bg 0, vs obj1 2/6, vs obj2 3/5
    with_bg = hungarian_miou(clusters, segments)
    assert with_bg.miou == pytest.approx((0.8 + 0.0 + 0.6) / 3)
    assert with_bg.matches == ((0, 0, pytest.approx(0.8)), (1, None, 0.0), (2, 1, pytest.approx(0.6)))
    objects_only = hungarian_miou(clusters, segments, include_background=False)
    assert objects_only.miou == pytest.approx((1 / 7 + 0.6) / 2)


def test_best_match_iou_and_void_pixels():
    clusters, segments = _stripes()
    assert best_match_iou(clusters, segments) == {1: pytest.approx(1 / 3), 2: pytest.approx(0.6)}
    segments[:, 4] = 255  # void column: left out of every IoU
    assert best_match_iou(clusters, segments) == {1: pytest.approx(2 / 5), 2: pytest.approx(3 / 5)}
    assert best_match_iou(clusters, segments, background=None)[0] == pytest.approx(1.0)  # A = bg exactly
    with pytest.raises(ParameterError, match="differ in size"):
        best_match_iou(clusters[:, :5], segments)


def test_mask_scores_average_and_skip(tmp_path):
    clusters, segments = _stripes()
    perfect = segments.copy()
    scores = mask_scores([clusters, perfect, perfect], [segments, segments, None], keys=["a", "b", "c"])
    assert scores.miou == pytest.approx(((0.8 + 0.0 + 0.6) / 3 + 1.0) / 2)
    assert scores.best_iou == pytest.approx((1 / 3 + 0.6 + 1.0 + 1.0) / 4)  # averaged over the 4 objects
    assert scores.images[0][3] == 2 and scores.skipped == [("c", "no object mask")]
    scores.save(tmp_path)
    assert (tmp_path / "masks.csv").read_text().splitlines()[0] == "key,miou,best_iou,n_objects"
    assert read_json(tmp_path / "masks.json")["n_images"] == 2
    with pytest.raises(ParameterError):
        mask_scores([clusters], [None])
