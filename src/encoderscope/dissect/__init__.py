"""DISCOVER / CLIP-Dissect network dissection: name every unit of a layer with a text concept.

Example:
    >>> import torch
    >>> from encoderscope.dissect import activations_from_tensor, describe_units
    >>> acts = activations_from_tensor(torch.tensor([[3.0, 0.0], [0.0, 2.0], [2.0, 0.5]]), "fc")
    >>> P = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2]])
    >>> describe_units(acts, P, ["cat", "dog"], top_k=2).concept_of(0)
    'cat'
"""

from encoderscope.dissect.activations import NeuronActivations, activations_from_tensor, neuron_activations
from encoderscope.dissect.concepts import BUILTIN as BUILTIN_CONCEPT_SETS
from encoderscope.dissect.concepts import load_concepts
from encoderscope.dissect.describe import Dissection, Explanation, describe_units, dissect
from encoderscope.dissect.evaluate import evaluate_final_layer, final_layer_accuracy, mean_cosine
from encoderscope.dissect.regions import Region
from encoderscope.dissect.scorers import (
    AnnotationScorer,
    ClipScorer,
    ConceptScorer,
    LabelspaceScorer,
    MaskAnnotationScorer,
    make_scorer,
    score_regions,
)
from encoderscope.dissect.similarity import (
    SIMILARITIES,
    cos_similarity,
    cos_similarity_cubed,
    rank_reorder,
    soft_wpmi,
    wpmi,
)

__all__ = [
    "BUILTIN_CONCEPT_SETS",
    "SIMILARITIES",
    "AnnotationScorer",
    "ClipScorer",
    "ConceptScorer",
    "Dissection",
    "Explanation",
    "LabelspaceScorer",
    "MaskAnnotationScorer",
    "NeuronActivations",
    "Region",
    "activations_from_tensor",
    "cos_similarity",
    "cos_similarity_cubed",
    "describe_units",
    "dissect",
    "evaluate_final_layer",
    "final_layer_accuracy",
    "load_concepts",
    "make_scorer",
    "mean_cosine",
    "neuron_activations",
    "rank_reorder",
    "score_regions",
    "soft_wpmi",
    "wpmi",
]
