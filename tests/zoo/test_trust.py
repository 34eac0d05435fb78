"""Pickle trust: an explicit argument, else the enclosing block, else not; for checkpoints and StyleGAN pickles."""

from __future__ import annotations

import pytest
import torch

from encoderscope.errors import SourceError
from encoderscope.zoo import load_model
from encoderscope.zoo.generators import load_generator
from encoderscope.zoo.sources import read_state_dict
from encoderscope.zoo.trust import pickles_trusted, trusting_pickles


def test_a_block_trusts_checkpoints_and_an_explicit_false_wins(tmp_path):
    path = tmp_path / "full.pt"
    torch.save(torch.nn.Linear(2, 1), path)
    with trusting_pickles():
        assert pickles_trusted() and sorted(read_state_dict(path)) == ["bias", "weight"]
        with pytest.raises(SourceError, match="pickled"):
            read_state_dict(path, trust_pickle=False)
        with trusting_pickles(False):  # blocks nest
            assert not pickles_trusted()
        assert pickles_trusted()
    assert not pickles_trusted()


def test_a_spec_loaded_inside_a_block_may_be_a_pickled_model(tmp_path):
    import timm

    path = tmp_path / "whole.pt"
    torch.save(timm.create_model("resnet18", pretrained=False), path)
    with pytest.raises(SourceError, match=r"pickled timm\.models\.resnet\.ResNet"):
        load_model(f"file:{path}", arch="timm:resnet18")
    with trusting_pickles():
        encoder = load_model(f"file:{path}", arch="timm:resnet18")
    assert encoder.spec == f"file:{path}"


def test_stylegan_pickles_follow_the_block(tmp_path):
    path = tmp_path / "net.pkl"
    path.write_bytes(b"not unpickled unless trusted")
    with pytest.raises(SourceError, match="can run arbitrary code"):
        load_generator(f"stylegan:{path}")
    with trusting_pickles(), pytest.raises(SourceError, match=r"cannot read StyleGAN pickle .*UnpicklingError"):
        load_generator(f"stylegan:{path}")  # trusted: it went on to read the file, and says it is not a pickle
