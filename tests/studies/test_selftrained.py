"""Same-architecture supervision levels: NT-Xent, multi-label targets, augmentation, the quick run, determinism."""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import pytest
import torch

from encoderscope.errors import ParameterError
from encoderscope.studies.selftrained import (
    LEVELS,
    SelfTrainedConfig,
    augment,
    class_names,
    multilabel_targets,
    nt_xent,
    run_selftrained,
)


def test_nt_xent_hand_computed() -> None:
    e = torch.eye(2)
    # aligned pairs: each anchor sees its positive at cosine 1 and two negatives at cosine 0
    assert float(nt_xent(e, e, 0.2)) == pytest.approx(math.log(1 + 2 * math.exp(-5)), rel=1e-6)
    # swapped pairs: the positive is orthogonal (cosine 0), one negative is identical (cosine 1), one orthogonal
    assert float(nt_xent(e, e.flip(0), 0.2)) == pytest.approx(math.log(2 + math.exp(5)), rel=1e-6)
    # scale does not matter (cosine similarities); temperature 1 on the aligned case
    assert float(nt_xent(3 * e, e, 1.0)) == pytest.approx(math.log(1 + 2 * math.exp(-1)), rel=1e-6)


def test_nt_xent_three_pairs_against_direct_sum() -> None:
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    z2 = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    total = 0.0
    for a in range(6):
        positive = (a + 3) % 6
        sims = {b: float(z[a] @ z[b]) / 0.5 for b in range(6) if b != a}
        total += -sims[positive] + math.log(sum(math.exp(v) for v in sims.values()))
    assert float(nt_xent(z1, z2, 0.5)) == pytest.approx(total / 6, rel=1e-5)
    with pytest.raises(ParameterError):
        nt_xent(z1, z2[:2])


def test_multilabel_targets_and_classes() -> None:
    scenes = [SimpleNamespace(objects=[SimpleNamespace(name="horse"), SimpleNamespace(name="horse")]),
              SimpleNamespace(objects=[SimpleNamespace(name="face"), SimpleNamespace(name="bag")])]
    names = class_names(scenes)
    assert names == ["bag", "face", "horse"]
    assert multilabel_targets(scenes, names).tolist() == [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    with pytest.raises(ParameterError, match="not among"):
        multilabel_targets(scenes, ["horse"])


def test_augment_is_seeded_and_in_range() -> None:
    cfg = SelfTrainedConfig.quick()
    pixels = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a = augment(pixels, cfg, torch.Generator().manual_seed(5))
    b = augment(pixels, cfg, torch.Generator().manual_seed(5))
    c = augment(pixels, cfg, torch.Generator().manual_seed(6))
    assert a.shape == pixels.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # crops and flips of a uniform image are that image; colour jitter changes it
    flat = torch.full((3, 3, 32, 32), 0.5)
    flat[:, 0] = 0.2
    plain = dataclasses.replace(cfg, jitter=0.0)
    assert torch.allclose(augment(flat, plain, torch.Generator().manual_seed(0)), flat, atol=1e-6)
    jittered = dataclasses.replace(cfg, jitter=0.4, jitter_p=1.0)
    assert not torch.allclose(augment(flat, jittered, torch.Generator().manual_seed(0)), flat, atol=1e-3)


def test_config_checks() -> None:
    with pytest.raises(ParameterError, match="train_seed"):
        dataclasses.replace(SelfTrainedConfig.quick(), train_seed=0, eval_seed=0).check()
    with pytest.raises(ParameterError, match="train_size"):
        dataclasses.replace(SelfTrainedConfig.quick(), train_size=30).check()


def test_quick_run_writes_numbers_and_is_deterministic(tmp_path) -> None:
    cfg = SelfTrainedConfig.quick()
    first = run_selftrained(cfg)
    out = first.save(tmp_path / "a")
    numbers = json.loads((out / "numbers.json").read_text())
    assert list(numbers["scores"]) == list(LEVELS)
    for level in LEVELS:
        assert set(numbers["scores"][level]) == {"layer3", "layer4", "layer3+layer4"}
        for by_k in numbers["scores"][level].values():
            assert set(by_k) == {str(k) for k in cfg.ks}
            for values in by_k.values():
                assert 0.0 <= values["corloc"] <= 100.0 and 0.0 <= values["miou"] <= 100.0
    assert len(numbers["losses"]["supervised"]) == cfg.steps and numbers["losses"]["none"] == []
    assert all(math.isfinite(v) for v in numbers["losses"]["self-supervised"])
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["seed"] == cfg.seed and run_info["config"]["steps"] == cfg.steps
    assert (out / "scores.csv").read_text().startswith("level,layers,k,corloc,miou")
    assert (out / "losses.png").stat().st_size > 1000
    second = run_selftrained(cfg)
    assert second.scores == first.scores and second.losses == first.losses


def test_rows_in_the_supervision_study(tmp_path, monkeypatch) -> None:
    from encoderscope.studies import selftrained, supervision

    monkeypatch.setattr(selftrained, "SelfTrainedConfig", SelfTrainedConfig.quick)  # the study's default is 5 min
    config = supervision.SupervisionConfig(n_images=2, ks=(3, 4), plans=[], baselines=())
    out = supervision.run(tmp_path, quick=False, config=config)
    numbers = json.loads((out / "numbers.json").read_text())
    assert list(numbers["models"]) == [selftrained.display_name(level) for level in LEVELS]
    assert numbers["selftrained"]["config"]["ks"] == [3, 4] and numbers["selftrained"]["config"]["train_seed"] == 1000
    summary = (out / "summary.md").read_text()
    assert "self-trained resnet-10 (self-supervised)" in summary and "layer3+layer4" in summary
