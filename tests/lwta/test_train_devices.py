"""LWTA training and evaluation run on TrainConfig.device (and in mixed precision with autocast)."""

from __future__ import annotations

import pytest
import torch

from encoderscope.lwta.models import ModelConfig
from encoderscope.lwta.train import TrainConfig, evaluate, train
from tests.fake_cuda import fake_cuda


def _data(n: int = 24) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 3, 32, 32, generator=g) * 0.1 + y.view(-1, 1, 1, 1).float()
    return x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :]


def _config(arch: str, **kwargs) -> TrainConfig:
    model = ModelConfig(arch=arch, U=2, num_classes=3, class_names=["a", "b", "c"], embed_dim=16, depth=1,
                        num_heads=2, channels=(4, 4, 4, 4))
    return TrainConfig(model=model, epochs=1, batch_size=8, **kwargs)


@pytest.mark.parametrize(("arch", "autocast"), [("vit", False), ("resnet", True)])
def test_training_on_the_gpu(monkeypatch, arch, autocast) -> None:
    on_cpu = train(_config(arch), data=_data(), progress=False)
    with fake_cuda(monkeypatch) as gpu:
        result = train(_config(arch, device="cuda", autocast=autocast), data=_data(), progress=False)
        assert next(result.model.parameters()).device == torch.device("cuda", 0)
        assert result.run_record().details["device"] == "cuda:0 (Fake GPU)"
    assert {"cross_entropy", "backward"} <= gpu.gpu_ops
    assert gpu.generator_devices == [torch.device("cuda", 0)] * 2  # LWTA noise for training, then evaluation
    assert all(m.non_blocking for m in gpu.moves if m.shape[1:] == (3, 32, 32))
    if not autocast:  # the same seeded steps (the pretend GPU computes on the host)
        assert result.losses == pytest.approx(on_cpu.losses)
    assert 0.0 <= result.evaluation.accuracy <= 1.0


def test_evaluate_follows_the_model(monkeypatch) -> None:
    result = train(_config("vit"), data=_data(), progress=False)
    _, _, x, y = _data()
    expected = evaluate(result.model, x, y, passes=2, seed=1, progress=False)
    with fake_cuda(monkeypatch):
        ev = evaluate(result.model.to("cuda"), x, y, passes=2, seed=1, progress=False, autocast=True)
    assert ev.n_images == expected.n_images and ev.passes == 2
    assert ev.active_fraction.keys() == expected.active_fraction.keys()
