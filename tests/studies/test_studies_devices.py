"""Every study takes --device/--autocast, keeps them in its configuration and runs its models there."""

from __future__ import annotations

import dataclasses
import inspect
import json

import numpy as np
import pytest
import torch
from torch import nn

from encoderscope.errors import DeviceError
from encoderscope.studies import STUDIES, get_study
from encoderscope.studies._common import with_device
from encoderscope.studies.baselines import BaselinesConfig, NaveEntry
from encoderscope.studies.baselines import run as run_baselines
from encoderscope.studies.linking import QUICK, train_eye_classifier
from encoderscope.studies.selftrained import SelfTrainedConfig, train_level
from encoderscope.studies.training import predict
from encoderscope.zoo.generators import EYE_COLOURS, LatentGenerator
from tests.fake_cuda import fake_cuda


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_takes_device_and_autocast(name) -> None:
    parameters = inspect.signature(get_study(name)).parameters
    assert parameters["device"].default is None and parameters["autocast"].default is False


def test_with_device_checks_and_keeps_the_config() -> None:
    cfg = BaselinesConfig.quick()
    assert with_device(cfg) is cfg and cfg.device is None and cfg.autocast is False
    assert with_device(cfg, "cpu", True) == dataclasses.replace(cfg, device="cpu", autocast=True)
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        with_device(cfg, "gpu")


def test_baselines_study_on_the_gpu(monkeypatch, tmp_path) -> None:
    entry = NaveEntry("timm:resnet18", ["layer3"], random_init=True)
    config = BaselinesConfig(n_images=1, ks=(2,), size=48, entries=[entry], methods=(), gallery_images=1)
    with fake_cuda(monkeypatch) as gpu:
        out = run_baselines(tmp_path, config=config, device="cuda", autocast=True)
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["details"]["device"] == "cuda:0 (Fake GPU)"
    assert run_info["config"]["device"] == "cuda" and run_info["config"]["autocast"] is True
    assert "conv2d" in gpu.gpu_ops


@pytest.mark.parametrize("level", ["supervised", "self-supervised"])
def test_selftrained_levels_train_on_the_gpu(monkeypatch, level) -> None:
    from encoderscope.studies.selftrained import model_config

    cfg = dataclasses.replace(SelfTrainedConfig.quick(), steps=2, channels=(4, 8, 8, 8), device="cuda")
    pixels = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    targets = torch.zeros(8, 2)
    with fake_cuda(monkeypatch) as gpu:
        model, losses = train_level(level, cfg, pixels, targets, model_config(cfg, ["a", "b"]))
        assert next(model.parameters()).device == torch.device("cuda", 0) and len(losses) == 2
        assert predict(model, pixels[..., 0], model_config(cfg, ["a", "b"])).shape == (8,)
    assert "backward" in gpu.gpu_ops


def test_eye_classifier_trains_where_the_generator_is(monkeypatch) -> None:
    torch.manual_seed(0)
    decoder = nn.Sequential(nn.ConvTranspose2d(14, 3, 8), nn.Tanh())
    gen = LatentGenerator(name="test:eyes", latent_dim=14, synth_fn=lambda w, c: decoder(w[:, :, None, None]),
                          class_names=EYE_COLOURS, condition_slice=slice(6, 14), output_range="tanh", module=decoder)
    with fake_cuda(monkeypatch) as gpu:
        gen.to("cuda")
        clf, accuracy = train_eye_classifier(gen, dataclasses.replace(QUICK, train_per_class=2, test_per_class=1))
        assert clf.device == torch.device("cuda", 0)
    assert 0.0 <= accuracy <= 1.0 and {"conv_transpose2d", "cross_entropy"} <= gpu.gpu_ops
