"""Evaluating descriptions of final-layer units whose true concept is a class name (docs/methods/dissection.md).

Unit ``u`` of a classifier's last layer stands for class ``class_names[u]``. Reported: top-1 and top-5 accuracy of the
class-name match, and the mean cosine between the predicted concept and the class name in sentence-embedding space
(all-MiniLM-L6-v2 here; the paper uses CLIP ViT-B/16 text space and all-mpnet-base-v2).

Example:
    >>> import torch
    >>> from encoderscope.dissect.activations import activations_from_tensor
    >>> from encoderscope.dissect.describe import describe_units
    >>> acts = activations_from_tensor(torch.eye(3) * 5 + 0.1, "head")
    >>> result = describe_units(acts, torch.eye(3), ["a", "b", "c"], top_k=1)
    >>> final_layer_accuracy(result, ["a", "b", "c"])
    {'top1': 1.0, 'top5': 1.0, 'n_units': 3}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from encoderscope.dissect.describe import Dissection
from encoderscope.errors import ParameterError


def final_layer_accuracy(dissection: Dissection, class_names: Sequence[str]) -> dict[str, float | int]:
    """Top-1 / top-5 match between each unit's best concepts and its class name."""
    if len(class_names) != dissection.n_units:
        raise ParameterError(f"{len(class_names)} class names for {dissection.n_units} final-layer units")
    top1 = top5 = 0
    for unit, name in enumerate(class_names):
        ranked = [dissection.concepts[int(i)] for i in dissection.best[unit, :5]]
        top1 += ranked[0] == name
        top5 += name in ranked
    n = len(class_names)
    return {"top1": top1 / n, "top5": top5 / n, "n_units": n}


def mean_cosine(
    dissection: Dissection,
    class_names: Sequence[str],
    embed: Callable[[Sequence[str]], torch.Tensor] | None = None,
) -> float:
    """Mean cosine between each unit's description and its class name in sentence-embedding space."""
    if embed is None:
        from encoderscope.dissect.text import embed_texts

        embed = embed_texts
    predicted = [dissection.concept_of(unit) for unit in range(dissection.n_units)]
    a = torch.nn.functional.normalize(embed(predicted).float(), dim=-1)
    b = torch.nn.functional.normalize(embed(list(class_names)).float(), dim=-1)
    return float((a * b).sum(dim=1).mean())


def evaluate_final_layer(
    dissection: Dissection,
    class_names: Sequence[str],
    embed: Callable[[Sequence[str]], torch.Tensor] | None = None,
) -> dict[str, float | int]:
    """Top-1, top-5 and mean sentence-embedding cosine (see the module docstring)."""
    return {**final_layer_accuracy(dissection, class_names), "mean_cosine": mean_cosine(dissection, class_names, embed)}
