"""Tests for encoderscope.data.voc: VOC XML reading/writing, LOST box convention, filters, masks, COCO json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from encoderscope.data.voc import (
    VocAnnotation,
    VocObject,
    open_coco,
    open_voc,
    read_voc_xml,
    voc_palette,
    voc_xml,
    write_image_set,
    write_voc_sample,
)
from encoderscope.errors import ImageError

XML = """<annotation>
  <folder>VOC2007</folder><filename>000005.jpg</filename>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>chair</name><truncated>0</truncated><difficult>0</difficult>
    <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
  <object><name>chair</name><truncated>1</truncated><difficult>0</difficult>
    <bndbox><xmin>165</xmin><ymin>264</ymin><xmax>253</xmax><ymax>372</ymax></bndbox></object>
  <object><name>person</name><truncated>0</truncated><difficult>1</difficult>
    <bndbox><xmin>5.5</xmin><ymin>244</ymin><xmax>67</xmax><ymax>374</ymax></bndbox></object>
</annotation>
"""


def _voc_folder(root):
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "000005.xml").write_text(XML)
    (root / "JPEGImages").mkdir()
    Image.new("RGB", (500, 375)).save(root / "JPEGImages" / "000005.jpg")
    return root


def test_read_boxes_lost_convention_and_filters(tmp_path):
    ann = read_voc_xml(_voc_folder(tmp_path) / "Annotations" / "000005.xml")
    assert (ann.image_id, ann.filename, ann.width, ann.height) == ("000005", "000005.jpg", 500, 375)
    assert [o.name for o in ann.objects] == ["chair", "chair", "person"]
    assert ann.boxes(lost_convention=False)[0].tolist() == [263, 211, 324, 339]
    assert ann.boxes()[0].tolist() == [262, 210, 324, 339]  # xmin, ymin shifted by -1
    assert ann.boxes()[2].tolist() == [4.5, 243, 67, 374]
    assert len(ann.boxes(no_hard=True)) == 1
    assert len(ann.boxes(skip_difficult=True)) == 2
    assert len(ann.boxes(skip_truncated=True)) == 2
    assert ann.boxes(classes=["person"]).tolist() == [[4.5, 243, 67, 374]]
    assert ann.boxes(classes=["dog"]).shape == (0, 4)


def test_malformed_annotations_are_one_line_errors_and_skipped(tmp_path):
    root = _voc_folder(tmp_path)
    (root / "Annotations" / "000007.xml").write_text("<annotation><object><bndbox><xmin>1")
    (root / "Annotations" / "000009.xml").write_text(
        "<annotation><object><name>a</name><bndbox><xmin>1</xmin></bndbox></object></annotation>"
    )
    with pytest.raises(ImageError, match=r"000007\.xml"):
        read_voc_xml(root / "Annotations" / "000007.xml")
    dataset = open_voc(root)
    assert dataset.keys == ["000005"]
    assert [s.key for s in dataset.skipped] == ["000007", "000009"]
    assert "bndbox without ymin" in dataset.skipped[1].reason
    assert dataset.images().skipped == dataset.skipped


def test_image_sets_and_parent_folder(tmp_path):
    root = _voc_folder(tmp_path / "VOCdevkit" / "VOC2007")
    write_image_set(root, ["000005"], "trainval")
    dataset = open_voc(tmp_path / "VOCdevkit", image_set="trainval")
    assert dataset.root == root and dataset.keys == ["000005"]
    assert dataset[0].load().size == (500, 375)
    with pytest.raises(ImageError, match="available: trainval"):
        open_voc(root, image_set="test")
    with pytest.raises(ImageError, match="no such folder"):
        open_voc(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="Annotations"):
        open_voc(tmp_path / "empty")


def test_palette_matches_voc_colours():
    palette = voc_palette()
    assert palette[3:6] == [128, 0, 0] and palette[6:9] == [0, 128, 0] and palette[45:48] == [192, 128, 128]
    assert palette[255 * 3 : 256 * 3] == [224, 224, 192]


def test_write_read_round_trip_with_mask(tmp_path):
    object_map = np.zeros((30, 40), dtype=np.uint8)
    object_map[5:10, 6:20] = 1
    object_map[15:25, 22:35] = 2
    object_map[0, 0] = 255
    objects = (VocObject("cat", (7.0, 6.0, 20.0, 10.0)), VocObject("dog", (23.0, 16.0, 35.0, 25.0), difficult=True))
    ann = VocAnnotation("a1", "a1.jpg", 40, 30, objects)
    write_voc_sample(tmp_path, ann, Image.new("RGB", (40, 30), (9, 9, 9)), object_map)
    mask_file = tmp_path / "SegmentationObject" / "a1.png"
    with Image.open(mask_file) as handle:
        assert handle.mode == "P" and handle.getpalette()[3:6] == [128, 0, 0]
    dataset = open_voc(tmp_path)
    entry = dataset[0]
    np.testing.assert_array_equal(entry.object_map(), object_map)
    assert read_voc_xml(tmp_path / "Annotations" / "a1.xml") == ann
    assert entry.boxes().tolist() == [[6, 5, 20, 10], [22, 15, 35, 25]]
    assert "<xmin>7</xmin>" in voc_xml(ann) and "<difficult>1</difficult>" in voc_xml(ann)
    assert dataset.classes == ["cat", "dog"]
    with pytest.raises(ImageError, match="annotation says"):
        write_voc_sample(tmp_path, ann, Image.new("RGB", (10, 10)))


def test_rgb_mask_is_refused(tmp_path):
    ann = VocAnnotation("b", "b.jpg", 8, 8, (VocObject("x", (1.0, 1.0, 4.0, 4.0)),))
    write_voc_sample(tmp_path, ann, Image.new("RGB", (8, 8)))
    (tmp_path / "SegmentationObject").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "SegmentationObject" / "b.png")
    with pytest.raises(ImageError, match="palette PNG"):
        open_voc(tmp_path)[0].object_map()


def test_coco_json(tmp_path):
    data = {
        "images": [
            {"id": 7, "file_name": "COCO_train2014_000000000007.jpg", "width": 64, "height": 48},
            {"id": 3, "file_name": "COCO_train2014_000000000003.jpg", "width": 64, "height": 48},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
        "annotations": [
            {"image_id": 7, "bbox": [10.0, 5.0, 20.0, 15.5], "category_id": 18, "iscrowd": 0},
            {"image_id": 7, "bbox": [0, 0, 64, 48], "category_id": 1, "iscrowd": 1},
            {"image_id": 3, "bbox": [1, 2, 3, 4], "category_id": 1, "iscrowd": 0},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    dataset = open_coco(path, images_dir=tmp_path / "train2014")
    assert dataset.keys == ["COCO_train2014_000000000003", "COCO_train2014_000000000007"]
    assert dataset[1].boxes().tolist() == [[10.0, 5.0, 30.0, 20.5]]  # LOST: [x, y, x + w, y + h], crowd removed
    assert len(open_coco(path, remove_crowd=False)[1].boxes()) == 2
    subset = tmp_path / "coco_20k_filenames.txt"
    subset.write_text("train2014/COCO_train2014_000000000007.jpg\n")
    assert open_coco(path, file_names=subset).keys == ["COCO_train2014_000000000007"]
    assert dataset.images()[0].path == tmp_path / "train2014" / "COCO_train2014_000000000003.jpg"
    path.write_text("{not json")
    with pytest.raises(ImageError, match="cannot read COCO annotations"):
        open_coco(path)
