import numpy as np
import pytest

from encoderscope._io import read_json, read_npz
from encoderscope.errors import ParameterError
from encoderscope.nave import nave
from encoderscope.nave.result import grid_to_image


def test_grid_to_image_is_floor_nearest_then_crop_then_nearest():
    grid = np.arange(6).reshape(2, 3)
    # padded 4x6 (each cell 2x2 px), content 3x5 (bottom row and right column are padding), image 6x10
    out = grid_to_image(grid, padded_hw=(4, 6), content_hw=(3, 5), original_hw=(6, 10))
    content = np.repeat(np.repeat(grid, 2, axis=0), 2, axis=1)[:3, :5]
    rows = (np.arange(6) * 3) // 6
    cols = (np.arange(10) * 5) // 10
    assert np.array_equal(out, content[rows[:, None], cols[None, :]])
    assert out.shape == (6, 10)


def test_save_writes_labels_run_json_pictures_and_report(make_image, tiny_vit, tmp_path):
    images = [make_image(64, 96, seed=0), make_image(40, 30, seed=1)]
    result = nave(tiny_vit, images, k=3, seed=5, progress=False)
    out = result.save(tmp_path / "run")
    labels = read_npz(out / "labels.npz")
    assert sorted(labels) == ["image-000", "image-001"]
    assert labels["image-000"].shape == (64, 96) and labels["image-001"].shape == (40, 30)
    assert np.issubdtype(labels["image-000"].dtype, np.integer)
    assert np.array_equal(labels["image-001"], result.label_map("image-001"))
    info = read_json(out / "run.json")
    assert info["seed"] == 5 and info["config"]["k"] == 3 and info["config"]["layers"] is None
    assert info["details"]["resolved"]["layers"] == ["blocks.2"]
    assert "torch" in info["versions"] and info["skipped"] == []
    assert [image["key"] for image in info["details"]["images"]] == ["image-000", "image-001"]
    assert (out / "overlays" / "image-000.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert html.count("data:image") >= 4 and "image-001" in html
    figure = result.figure("image-001")
    assert type(figure).__name__ == "Figure" and figure.axes[0].images[0].get_array().std() > 0
    assert result._repr_html_().count("<img") == 2
    rows = (out / "coverage.csv").read_text().splitlines()
    assert rows[0] == "key,concept,fraction" and len(rows) == 1 + 2 * 3
    assert result.record(-1).key == "image-001"
    for wrong, message in [(2, "no image at position 2: the result has 2 images"), ("nope", "no image with key")]:
        with pytest.raises(ParameterError, match=message):
            result.label_map(wrong)


def test_dataset_scope_saves_a_gallery(make_image, tiny_vit, tmp_path):
    images = [make_image(64, 96, seed=s) for s in range(3)]
    out = nave(tiny_vit, images, k=3, scope="dataset", progress=False).save(tmp_path / "ds")
    assert (out / "gallery.png").exists()
    assert set(read_json(out / "run.json")["details"]["gallery"]) <= {"0", "1", "2"}


def test_run_json_is_written_last(make_image, tiny_vit, tmp_path, monkeypatch):
    """A save interrupted while drawing leaves no run.json, so the folder does not pass for a finished run."""
    import encoderscope.report.nave as report_nave

    result = nave(tiny_vit, [make_image(32, 48, seed=0)], k=2, progress=False)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_nave, "write_pictures", interrupted)
    with pytest.raises(KeyboardInterrupt):
        result.save(tmp_path / "run")
    assert (tmp_path / "run" / "labels.npz").is_file() and not (tmp_path / "run" / "run.json").exists()
