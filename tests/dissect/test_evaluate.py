"""Final-layer evaluation: class-name match and sentence-embedding cosine."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from encoderscope.dissect import activations_from_tensor, describe_units, evaluate_final_layer


def _embed(texts) -> torch.Tensor:
    table = {"cat": [1.0, 0.0], "dog": [0.0, 1.0], "kitten": [0.8, 0.6]}
    return F.normalize(torch.tensor([table[t] for t in texts]), dim=-1)


def test_top1_top5_and_cosine_by_hand() -> None:
    # unit 0 fires on cats, unit 1 on cats too (wrong), so unit 1 is described "cat" or "kitten", not "dog"
    acts = activations_from_tensor(torch.tensor([[5.0, 4.0], [0.0, 0.1], [4.0, 5.0]]), "head")
    P = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    result = describe_units(acts, P, ["cat", "dog", "kitten"], top_k=1)
    assert [result.concept_of(u) for u in range(2)] == ["cat", "kitten"]
    metrics = evaluate_final_layer(result, ["cat", "dog"], embed=_embed)
    assert metrics["top1"] == 0.5 and metrics["top5"] == 1.0 and metrics["n_units"] == 2
    assert abs(metrics["mean_cosine"] - (1.0 + 0.6) / 2) < 1e-6
