"""The engine interface: batch jobs over a model pass, the engine options, and the local engine's behaviour."""

from __future__ import annotations

import sys

import pytest
import torch

from encoderscope.capture.engine import ModelPass, check_engine_options, engine_session, map_batches
from encoderscope.capture.extract import iter_batches
from encoderscope.data.images import open_images
from encoderscope.errors import ParameterError
from tests.images import make_image


def _grid_job(encoder, batch):
    return list(batch.indices), batch.outputs["blocks.1"].grid.clone()


def test_local_payloads_are_the_batches_of_iter_batches_in_order(tiny_vit, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    for i in range(5):
        make_image(48 + 8 * (i % 2), 64, seed=i).save(tmp_path / f"{i}.png")
    images = open_images(tmp_path)
    model_pass = ModelPass(layers=("blocks.1",), batch_size=2, workers=0)
    payloads = list(map_batches(tiny_vit, images, _grid_job, model_pass, progress=False))
    expected = list(iter_batches(tiny_vit, open_images(tmp_path), ["blocks.1"], batch_size=2, progress=False,
                                 workers=0))
    assert [p[0] for p in payloads] == [b.indices for b in expected]
    assert all(torch.equal(p[1], b.outputs["blocks.1"].grid) for p, b in zip(payloads, expected, strict=True))
    assert [s.key for s in images.skipped] == ["broken.png"]


def test_before_chunk_gets_the_encoder_and_the_chunk_number(tiny_vit):
    seen = []
    model_pass = ModelPass(layers=("blocks.1",), batch_size=1, workers=0,
                           before_chunk=lambda encoder, chunk: seen.append((encoder is tiny_vit, chunk)))
    images = [make_image(32, 32, seed=i) for i in range(6)]  # chunks of 4 images: 2 chunks
    assert len(list(map_batches(tiny_vit, images, _grid_job, model_pass, progress=False))) == 6
    assert seen == [(True, 0), (True, 1)]


def test_engine_options_are_checked_in_one_line():
    assert check_engine_options("local") is None
    assert check_engine_options("ray", "  ") is None
    with pytest.raises(ParameterError, match="unknown engine 'spark'; choose one of local, ray"):
        check_engine_options("spark")
    with pytest.raises(ParameterError, match="ray_actors must be a number >= 1"):
        check_engine_options("ray", ray_actors=True)
    with pytest.raises(ParameterError, match="unknown engine"):
        list(map_batches(None, [make_image(8, 8)], _grid_job, ModelPass(layers=(), engine="dask")))


def test_the_local_engine_needs_no_ray(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with engine_session("local", "10.0.0.5:6379"):
        pass
