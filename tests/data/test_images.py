"""Tests for encoderscope.data.images: every PIL mode to RGB, EXIF rotation, bad files, sources and keys."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoderscope.data import ImageItem, ImageSet, SkippedInput, image_size, load_image, open_images, to_rgb_image
from encoderscope.errors import ImageError, ParameterError, SourceError


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def _pixel(path: Path, xy=(0, 0)) -> tuple[int, int, int]:
    image = load_image(path)
    assert image.mode == "RGB"
    return image.getpixel(xy)


def test_grayscale_and_one_bit(tmp_path):
    assert _pixel(_save(Image.new("L", (5, 4), 77), tmp_path / "g.png")) == (77, 77, 77)
    one = Image.new("1", (5, 4), 0)
    one.putpixel((1, 0), 1)
    path = _save(one, tmp_path / "b.png")
    assert _pixel(path) == (0, 0, 0)
    assert _pixel(path, (1, 0)) == (255, 255, 255)


def test_palette_with_and_without_transparency(tmp_path):
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    assert _pixel(_save(palette, tmp_path / "p.png")) == (200, 100, 50)
    palette.putpixel((2, 2), 0)
    path = _save(palette, tmp_path / "pt.png", transparency=0)
    assert _pixel(path, (2, 2)) == (255, 255, 255)  # transparent index -> white background
    assert _pixel(path, (0, 0)) == (200, 100, 50)
    gif = _save(palette, tmp_path / "pt.gif", transparency=0)
    assert _pixel(gif, (2, 2)) == (255, 255, 255)


def test_alpha_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((1, 1), (0, 0, 255, 255))
    rgba.putpixel((2, 2), (0, 0, 0, 128))
    path = _save(rgba, tmp_path / "a.png")
    assert _pixel(path) == (255, 255, 255)
    assert _pixel(path, (1, 1)) == (0, 0, 255)
    half = _pixel(path, (2, 2))
    assert all(abs(c - 127) <= 1 for c in half)
    la = _save(Image.new("LA", (3, 3), (0, 0)), tmp_path / "la.png")
    assert _pixel(la) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L"])
def test_sixteen_bit_scaled_by_range(mode):
    values = np.array([[0, 257, 32896, 65535]], dtype=">u2" if mode == "I;16B" else "<u2")
    image = Image.frombytes(mode, (4, 1), values.tobytes())
    rgb = to_rgb_image(image)
    assert [rgb.getpixel((x, 0))[0] for x in range(4)] == [0, 1, 128, 255]


def test_sixteen_bit_png_file_not_clipped(tmp_path):
    values = np.array([[1000, 30000, 65535]], dtype=np.uint16)
    image = Image.frombytes("I;16", (3, 1), values.tobytes())
    path = _save(image, tmp_path / "deep.png")
    got = [_pixel(path, (x, 0))[0] for x in range(3)]
    assert got == [round(v / 257) for v in (1000, 30000, 65535)]  # not saturated at 255 as a clip would


def test_thirty_two_bit_integer_and_float(tmp_path):
    int_image = Image.fromarray(np.array([[0, 65535]], dtype=np.int32))
    assert int_image.mode == "I"
    assert [to_rgb_image(int_image).getpixel((x, 0))[0] for x in range(2)] == [0, 255]
    wide = Image.fromarray(np.array([[-100, 100, 300]], dtype=np.int32))
    assert [to_rgb_image(wide).getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]  # min-max outside 16 bit
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    path = _save(unit, tmp_path / "f.tif")
    assert [_pixel(path, (x, 0))[0] for x in range(3)] == [0, 128, 255]
    big = Image.fromarray(np.array([[-1.0, 1.0, np.nan]], dtype=np.float32))
    assert [to_rgb_image(big).getpixel((x, 0))[0] for x in range(3)] == [0, 255, 128]


def test_cmyk_jpeg(tmp_path):
    path = _save(Image.new("CMYK", (8, 8), (0, 0, 0, 0)), tmp_path / "c.jpg")
    assert all(c >= 250 for c in _pixel(path))
    cyan = _save(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), tmp_path / "cyan.tif")
    assert _pixel(cyan) == (0, 255, 255)


def test_exif_orientation_applied_and_reported_by_image_size(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90 degrees clockwise for display
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    loaded = load_image(path)
    assert loaded.size == (20, 40)
    assert image_size(path) == (20, 40)
    top, bottom = loaded.getpixel((10, 2)), loaded.getpixel((10, 37))
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_image_size_header_only(tmp_path):
    path = _save(Image.new("RGB", (30, 17)), tmp_path / "s.png")
    assert image_size(path) == (30, 17)
    with pytest.raises(ImageError, match="no such file"):
        image_size(tmp_path / "missing.png")


def _corrupt_files(root: Path) -> dict[str, Path]:
    good = _save(Image.new("RGB", (64, 64), (10, 200, 30)), root / "good.jpg")
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    truncated = root / "truncated.png"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    corrupt = root / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    text = root / "text.jpg"
    text.write_text("not an image")
    return {"good": good, "truncated": truncated, "corrupt": corrupt, "text": text}


@pytest.mark.parametrize("name", ["truncated", "corrupt", "text"])
def test_bad_files_raise_one_line(tmp_path, name):
    path = _corrupt_files(tmp_path)[name]
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(f"cannot read image {path}: ")
    assert "\n" not in message
    assert len(message) > len(f"cannot read image {path}: ")


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.png: no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_iter_loaded_skips_and_records(tmp_path, capsys):
    files = _corrupt_files(tmp_path)
    images = open_images(tmp_path)
    assert images.keys == ["corrupt.png", "good.jpg", "text.jpg", "truncated.png"]
    loaded = [(index, item.key, image.size) for index, item, image in images.iter_loaded()]
    assert loaded == [(1, "good.jpg", (64, 64))]
    assert [s.key for s in images.skipped] == ["corrupt.png", "text.jpg", "truncated.png"]
    assert all(isinstance(s, SkippedInput) and s.reason.startswith("cannot read image") for s in images.skipped)
    err = capsys.readouterr().err
    assert err.count("warning:") == 3
    assert str(files["truncated"].name) in err
    list(images.iter_loaded())  # a second pass does not record the same inputs twice
    assert len(images.skipped) == 3
    assert images.to_dict()["skipped"][0]["key"] == "corrupt.png"


def test_folder_recursive_sorted_with_labels(tmp_path):
    for rel in ["z.png", "cats/b.PNG", "cats/sub/a.jpeg", "dogs/c.WebP", "dogs/d.tif", "dogs/e.bmp", "f.ppm"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (6, 6), (1, 2, 3)).save(path, format=_format(path))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "dogs" / "readme.md").write_text("x")
    _save(Image.new("RGB", (6, 6)), tmp_path / ".hidden.png")
    (tmp_path / ".cache").mkdir()
    _save(Image.new("RGB", (6, 6)), tmp_path / ".cache" / "x.png")
    images = open_images(tmp_path)
    assert images.keys == ["cats/b.PNG", "cats/sub/a.jpeg", "dogs/c.WebP", "dogs/d.tif", "dogs/e.bmp", "f.ppm", "z.png"]
    assert images.labels == ["cats", "cats", "dogs", "dogs", "dogs", None, None]
    assert all(image.size == (6, 6) for _, _, image in images.iter_loaded())
    assert images.skipped == []


def _format(path: Path) -> str:
    return {".png": "PNG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".bmp": "BMP", ".ppm": "PPM"}[
        path.suffix.lower()
    ]


def test_txt_list_relative_comments_labels(tmp_path):
    (tmp_path / "imgs").mkdir()
    a = _save(Image.new("RGB", (5, 5)), tmp_path / "imgs" / "a.png")
    b = _save(Image.new("L", (7, 5)), tmp_path / "b.png")
    listing = tmp_path / "lists" / "set.txt"
    listing.parent.mkdir()
    listing.write_text(f"# my images\n\n../imgs/a.png\tcat\n  {b}  \n../imgs/missing.png\n")
    images = open_images(listing)
    assert images.keys == ["../imgs/a.png", str(b), "../imgs/missing.png"]
    assert images.labels == ["cat", None, None]
    assert images[0].path.resolve() == a.resolve()
    loaded = [item.key for _, item, _ in images.iter_loaded(warn_skipped=False)]
    assert loaded == ["../imgs/a.png", str(b)]
    assert images.skipped[0].key == "../imgs/missing.png"
    assert "no such file" in images.skipped[0].reason


def test_single_file_pil_array_and_mixed_lists(tmp_path):
    path = _save(Image.new("RGB", (5, 5)), tmp_path / "one.png")
    array = np.zeros((3, 4), dtype=np.uint8)
    images = open_images([path, Image.new("RGBA", (2, 2)), array, str(path)])
    assert images.keys == ["one.png", "image-000", "image-001", "one.png~2"]
    sizes = [image.size for _, _, image in images.iter_loaded()]
    assert sizes == [(5, 5), (2, 2), (4, 3), (5, 5)]
    assert [item.size() for item in images] == sizes
    assert len(open_images([path, path, path], limit=2)) == 2
    assert isinstance(images[1:], ImageSet) and len(images[1:]) == 3
    again = open_images(images)
    assert again.keys == images.keys


def test_item_without_pixels():
    with pytest.raises(ImageError, match="neither a path nor pixels"):
        ImageItem("ghost", None, None).load()


def test_clear_source_errors(tmp_path):
    with pytest.raises(ImageError, match="no such file or folder"):
        open_images(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="no images found in folder"):
        open_images(tmp_path / "empty")
    listing = tmp_path / "empty.txt"
    listing.write_text("# nothing\n")
    with pytest.raises(ImageError, match="no images found in list"):
        open_images(listing)
    with pytest.raises(ImageError, match="no image sources"):
        open_images([])
    with pytest.raises(SourceError, match="available"):
        open_images("zoo:nothing-here")
    with pytest.raises(ParameterError):
        open_images(Image.new("RGB", (2, 2)), limit=0)
    with pytest.raises(ImageError, match="array of shape"):
        open_images(np.zeros((2, 2, 2), dtype=np.uint8))[0].load()
