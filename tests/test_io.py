import os
import stat

import numpy as np
import pytest

from encoderscope._io import atomic_path, make_folder, read_json, read_npz, write_json, write_npz
from encoderscope.errors import ParameterError


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert read_json(target) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_files_get_normal_permissions(tmp_path):
    write_json(tmp_path / "run.json", {})
    mode = stat.S_IMODE(os.stat(tmp_path / "run.json").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_npz_round_trip_without_pickle(tmp_path):
    write_npz(tmp_path / "a.npz", {"x": np.arange(3)})
    assert read_npz(tmp_path / "a.npz")["x"].tolist() == [0, 1, 2]


def test_a_file_in_the_way_of_a_folder_is_one_line(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    for target in (blocker, blocker / "deeper" / "out"):
        with pytest.raises(ParameterError, match=f"{blocker} is a file, not a folder"):
            make_folder(target)
    with pytest.raises(ParameterError, match="is a file, not a folder"):
        write_json(blocker / "run.json", {})
    assert make_folder(tmp_path / "a" / "b").is_dir()
