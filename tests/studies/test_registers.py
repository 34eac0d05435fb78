"""The registers study in its quick form, on random-init timm DINOv2 architectures with and without registers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from encoderscope.studies.registers import NormStats, RegistersConfig, block_table, inpaint, run

MODELS = ("timm:vit_small_patch14_reg4_dinov2.lvd142m", "timm:vit_small_patch14_dinov2.lvd142m")


def test_inpaint_replaces_only_masked_cells() -> None:
    grid = torch.arange(9, dtype=torch.float32).reshape(1, 3, 3)
    mask = torch.zeros(3, 3, dtype=torch.bool)
    mask[0, 0] = True
    out = inpaint(grid, mask)
    assert float(out[0, 0, 0]) == pytest.approx((1 + 3 + 4) / 3)  # mean of the three unmasked neighbours
    assert torch.equal(out[0].flatten()[1:], grid[0].flatten()[1:])


def test_block_table_outliers_hand_case() -> None:
    norms = np.array([[1.0, 1.0, 1.0, 5.0]])
    table = block_table(NormStats({"b": [norms]}, {"b": [2.0]}, {}), ratio=2.0)["b"]
    assert table["median"] == 1.0 and table["outlier_percent"] == 25.0 and table["max_over_median"] == 5.0
    assert table["cls_median"] == 2.0 and np.isnan(table["register_median"])


def test_quick_run_random_init(tmp_path) -> None:
    config = RegistersConfig(models=MODELS, random_init=True, n_images=2, size=56)
    out = run(tmp_path, quick=True, config=config)
    numbers = json.loads((out / "numbers.json").read_text())
    with_reg, without = numbers["models"]
    assert with_reg["layout"].endswith("patch 14") and "4 registers" in with_reg["layout"]
    assert len(with_reg["blocks"]) == 12
    # register norms are measured only where there are registers
    assert not np.isnan(with_reg["blocks"]["blocks.11"]["register_median"])
    assert without["blocks"]["blocks.11"]["register_median"] is None or np.isnan(
        float(without["blocks"]["blocks.11"]["register_median"])
    )
    for model in (with_reg, without):
        assert set(model["nave_localisation"]) == {"none", "outliers masked", "top 2% masked"}
        for scores in model["nave_localisation"].values():
            assert 0.0 <= scores["corloc"] <= 100.0
        assert 0.0 <= model["background_share"]["all"] <= 1.0
    summary = (out / "summary.md").read_text()
    assert "Token norms per block" in summary
    assert (out / "norms.png").stat().st_size > 1000 and (out / "locations.png").stat().st_size > 1000


def test_token_norms_keep_input_order_across_sizes() -> None:
    from PIL import Image

    from encoderscope.nave import prepare_encoder
    from encoderscope.studies.registers import token_norms

    encoder = prepare_encoder("timm:vit_tiny_patch16_224", random_init=True, size=32)
    images = [Image.new("RGB", (64, 32)), Image.new("RGB", (32, 32)), Image.new("RGB", (64, 32))]
    stats = token_norms(encoder, images, batch_size=8)
    assert [g.shape for g in stats.patch["blocks.11"]] == [(2, 4), (2, 2), (2, 4)]
    assert len(stats.cls["blocks.11"]) == 3
