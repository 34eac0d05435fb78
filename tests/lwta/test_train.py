"""Training recipe, evaluation over stochastic passes, sparsity, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from encoderscope.errors import ParameterError, SourceError
from encoderscope.lwta.models import ModelConfig, build_model, encoder_for, load_checkpoint, save_checkpoint
from encoderscope.lwta.train import TrainConfig, cosine_factor, evaluate, train


def _data(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 3, 32, 32, generator=g) * 0.1 + y.view(-1, 1, 1, 1).float()  # learnable: brightness = class
    return x[: n // 2], y[: n // 2], x[n // 2 :], y[n // 2 :]


def _tiny(arch: str, U: int) -> ModelConfig:
    return ModelConfig(
        arch=arch,
        U=U,
        num_classes=3,
        class_names=["a", "b", "c"],
        embed_dim=16,
        depth=1,
        num_heads=2,
        channels=(4, 4, 4, 4),
    )


@pytest.mark.parametrize(("arch", "U"), [("vit", 4), ("resnet", 2)])
def test_train_is_seeded_and_measures_sparsity(arch: str, U: int, tmp_path: Path) -> None:
    config = TrainConfig(model=_tiny(arch, U), epochs=1, batch_size=8)
    result = train(config, data=_data(), progress=False)
    again = train(TrainConfig(model=_tiny(arch, U), epochs=1, batch_size=8), data=_data(), progress=False)
    assert result.losses == again.losses
    ev = result.evaluation
    assert ev.passes == (6 if arch == "vit" else 3)
    assert all(abs(v - 1 / U) < 1e-9 for v in ev.active_fraction.values())
    assert 0.0 <= ev.accuracy_deterministic <= 1.0
    result.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "model.pt",
        "config.json",
        "metrics.json",
        "sparsity.csv",
        "loss.png",
        "run.json",
    }
    loaded, cfg = load_checkpoint(tmp_path)
    assert cfg.U == U and cfg.arch == arch
    x = _data()[2]
    state = torch.load(tmp_path / "model.pt", weights_only=True)  # plain tensors only
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    from encoderscope.lwta import set_deterministic

    set_deterministic(loaded, True)
    set_deterministic(result.model, True)
    assert torch.allclose(loaded(x), result.model(x), atol=1e-6)


def test_evaluate_averages_the_logits_of_the_passes() -> None:
    model = build_model(_tiny("vit", 2)).eval()
    _, _, x, y = _data()
    ev = evaluate(model, x, y, passes=3, seed=5, progress=False)
    from encoderscope.lwta import set_generator

    set_generator(model, torch.Generator().manual_seed(5))
    with torch.inference_mode():
        mean = sum(model(x) for _ in range(3)) / 3
    assert ev.accuracy == pytest.approx(float((mean.argmax(1) == y).double().mean()))
    with pytest.raises(ParameterError):
        evaluate(model, x, y, passes=0, progress=False)


def test_cosine_schedule_with_warmup() -> None:
    assert cosine_factor(0, 100, 10) == pytest.approx(0.1)
    assert cosine_factor(10, 100, 10) == pytest.approx(1.0)
    assert cosine_factor(55, 100, 10) == pytest.approx(0.5)
    assert cosine_factor(100, 100, 10) == pytest.approx(0.0)


def test_checkpoint_errors_and_encoder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not an LWTA checkpoint"):
        load_checkpoint(tmp_path)
    config = _tiny("vit", 4)
    model = build_model(config)
    save_checkpoint(model, config, tmp_path)
    encoder = encoder_for(load_checkpoint(tmp_path)[0], config)
    assert encoder.layout.describe() == "CLS, patch 4" and encoder.class_names == ["a", "b", "c"]
    with pytest.raises(ParameterError, match="architecture"):
        build_model(ModelConfig(arch="mlp"))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="optimizer"):
        TrainConfig(optimizer="lbfgs").resolved_optimizer()
