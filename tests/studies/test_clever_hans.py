"""The clever-hans study in its quick form (Fashion-MNIST from the Debian package)."""

from __future__ import annotations

import json

import numpy as np

from encoderscope.studies.clever_hans import (
    CleverHansConfig,
    best_iou,
    capture_by_k,
    depth_metrics,
    first_capture_depth,
    nmi,
    poison,
    run,
)


def test_best_iou_and_nmi_hand_cases() -> None:
    labels = np.array([[0, 0, 1], [0, 0, 1]])
    mask = np.array([[False, False, True], [False, False, False]])
    assert best_iou(labels, mask) == 0.5
    assert nmi(labels, labels == 1) == 1.0
    assert abs(nmi(np.zeros((2, 3), dtype=int), mask)) < 1e-12


def test_depth_metrics_saturation_is_the_object_nmi_drop() -> None:
    obj = np.zeros((4, 4), dtype=bool)
    obj[1:3, 1:3] = True
    stamp = np.zeros((4, 4), dtype=bool)
    stamp[3, 3] = True
    clean = obj.astype(int)
    stamped = np.zeros((4, 4), dtype=int)
    stamped[3, 3] = 1  # the map spends its two concepts on the stamp
    m = depth_metrics([clean], [stamped], stamp[None], obj[None])
    assert m["wm_iou"] == 1.0 and m["wm_captured"] == 100.0
    assert m["nmi_obj_clean"] == 1.0 and m["saturation"] == m["nmi_obj_clean"] - m["nmi_obj_stamped"]
    assert first_capture_depth({"a": {"wm_captured": 10.0}, "b": {"wm_captured": 60.0}}) == "b"


def test_capture_by_k_hand_case() -> None:
    stamp = np.zeros((1, 4, 4), dtype=bool)
    stamp[0, 2:, 2:] = True
    coarse = np.zeros((4, 4), dtype=int)
    coarse[2:, :] = 1  # the stamp's concept also holds the bottom-left: IoU 4/8
    fine = coarse.copy()
    fine[2:, 2:] = 2  # a concept of its own: IoU 1
    out = capture_by_k({2: [coarse], 3: [fine]}, stamp)
    assert out == {2: {"wm_iou": 0.5, "wm_captured": 100.0}, 3: {"wm_iou": 1.0, "wm_captured": 100.0}}
    coarse[1, 0] = 1  # one more pixel in the concept: IoU 4/9 < 0.5
    assert capture_by_k({2: [coarse]}, stamp)[2]["wm_captured"] == 0.0


def test_poison_stamps_the_share_of_one_class_only() -> None:
    config = CleverHansConfig(share=0.9, target_class=1, size=32)
    images = np.zeros((30, 32, 32, 3), dtype=np.uint8)
    labels = np.array([1] * 20 + [0] * 10)
    out, flags = poison(images, labels, config)
    assert flags.sum() == 18 and not flags[20:].any()
    assert (out[flags].reshape(18, -1).max(1) > 0).all() and out[~flags].max() == 0


def test_quick_run(tmp_path) -> None:
    out = run(tmp_path, quick=True)
    numbers = json.loads((out / "numbers.json").read_text())
    assert set(numbers["clever_hans_test"]) == {"cnn-clean", "cnn-watermarked", "vit-clean", "vit-watermarked"}
    for test in numbers["clever_hans_test"].values():
        for key, value in test.items():
            if key != "train_seconds":
                assert 0.0 <= value <= 100.0
    assert numbers["data"]["stamped_share_of_target"] >= 0.9
    for depths in numbers["nave_per_depth"].values():
        assert depths
        for m in depths.values():
            assert 0.0 <= m["wm_iou"] <= 1.0 and -1.0 <= m["saturation"] <= 1.0
    for name, depths in numbers["capture_by_k"].items():
        assert set(depths) == set(numbers["nave_per_depth"][name])
        for by_k in depths.values():
            assert set(by_k) == {"4", "6"} and all(0.0 <= m["wm_captured"] <= 100.0 for m in by_k.values())
    assert set(numbers["first_capture_depth_by_k"]) == set(numbers["capture_by_k"])
    summary = (out / "summary.md").read_text()
    assert "Clever Hans test" in summary and "saturation" in summary and "number of concepts" in summary
    assert (out / "saturation.png").exists() and (out / "maps_k6.png").exists()
