"""``encoderscope scenes`` writes a VOC folder and turns bad input into one error line."""

import pytest

from encoderscope.cli.app import main
from encoderscope.data.voc import open_voc


def test_scenes_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["scenes", "--n", "3", "--seed", "4", "--kinds", "horse,shape", "--out", str(tmp_path / "s")])
    assert done.value.code in (0, None)
    assert "wrote 3 scenes" in capsys.readouterr().out
    assert len(open_voc(tmp_path / "s")) == 3
    with pytest.raises(SystemExit) as bad:
        main(["scenes", "--n", "2", "--kinds", "cat", "--out", str(tmp_path / "t")])
    assert bad.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: object kinds")
