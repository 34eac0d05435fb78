"""NAVE: Neuro-Activated Vision Explanations (concept maps by clustering a frozen encoder's activations).

The package itself is callable, so the flat call in the issue works as written::

    import encoderscope
    result = encoderscope.nave("zoo:dinov2-vits14", "zoo:photos", k=5)   # same as encoderscope.nave.run(...)
    result.save("/tmp/nave")

``encoderscope.nave(...)`` calls :func:`run` (= :func:`encoderscope.nave.pipeline.nave`); ``encoderscope.nave_maps``
is the same function under a plain name, for code and type checkers that prefer a function to a callable module.

Example:
    >>> import torch
    >>> from encoderscope import nave
    >>> tuple(nave.combine_depths([torch.rand(1, 4, 3, 3)]).shape)
    (1, 3, 3, 4)
"""

from __future__ import annotations

import sys
import types
from typing import Any

from encoderscope.nave.cluster import cluster_positions
from encoderscope.nave.combine import combine_depths, layer_weights
from encoderscope.nave.flow import FlowResult, flow, flow_from_results
from encoderscope.nave.names import ConceptNames, NamingConfig, name_concepts
from encoderscope.nave.pipeline import nave, nave_layer_sets, prepare_encoder
from encoderscope.nave.result import NaveRecord, NaveResult, grid_to_image

run = nave


class _CallableModule(types.ModuleType):
    """Module type whose instances forward calls to :func:`run`."""

    def __call__(self, *args: Any, **kwargs: Any) -> NaveResult:
        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "ConceptNames",
    "FlowResult",
    "NamingConfig",
    "NaveRecord",
    "NaveResult",
    "cluster_positions",
    "combine_depths",
    "flow",
    "flow_from_results",
    "grid_to_image",
    "layer_weights",
    "name_concepts",
    "nave",
    "nave_layer_sets",
    "prepare_encoder",
    "run",
]
