import pytest

from encoderscope.cli import main


def _run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return info.value.code, capsys.readouterr().err


def test_unknown_study_lists_the_available_ones(capsys, tmp_path):
    code, err = _run(capsys, "study", "nope", "--out", str(tmp_path))
    assert code == 2 and "unknown study 'nope'" in err and "registers" in err


def test_options_a_study_does_not_take_are_refused(capsys, tmp_path):
    code, err = _run(capsys, "study", "lwta", "--out", str(tmp_path), "--models", "timm:resnet18")
    assert code == 2 and "does not take --models" in err
    assert not any(tmp_path.iterdir())
