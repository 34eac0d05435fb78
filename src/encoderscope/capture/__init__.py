"""Token-aware capture: layer listing, name resolution, hooks and one-pass extraction."""

from encoderscope.capture.extract import Activations, Batch, extract, forward_batch, iter_batches
from encoderscope.capture.hooks import StopForward, capture_outputs, run_captured
from encoderscope.capture.layers import LayerInfo, closest_names, list_layers, resolve_layers
from encoderscope.capture.layout import TokenLayout
from encoderscope.capture.outputs import LayerOutput, interpret_output
from encoderscope.capture.pooling import POOL_MODES, unit_activations

__all__ = [
    "POOL_MODES",
    "Activations",
    "Batch",
    "LayerInfo",
    "LayerOutput",
    "StopForward",
    "TokenLayout",
    "capture_outputs",
    "closest_names",
    "extract",
    "forward_batch",
    "interpret_output",
    "iter_batches",
    "list_layers",
    "resolve_layers",
    "run_captured",
    "unit_activations",
]
