"""encoderscope: see what a vision encoder has learned.

The flat public API (imported lazily, so ``import encoderscope`` stays fast). Every method takes its options as
keyword arguments or as a typed configuration (``es.nave(config=es.NaveConfig(...))``); every result saves with
``.save(folder)`` and loads back with ``es.load_result(folder)``.

    >>> import encoderscope as es
    >>> enc = es.load_model("timm:vit_tiny_patch16_224", random_init=True)
    >>> enc.layout.describe()
    'CLS, patch 16'
    >>> [info.name for info in es.list_layers(enc, pattern="blocks.1*")]
    ['blocks.1', 'blocks.10', 'blocks.11']
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_API: dict[str, str] = {
    "load_model": "encoderscope.zoo",
    "trusting_pickles": "encoderscope.zoo.trust",
    "Encoder": "encoderscope.zoo.encoder",
    "Preprocess": "encoderscope.zoo.preprocess",
    "TokenLayout": "encoderscope.capture.layout",
    "list_layers": "encoderscope.capture.layers",
    "resolve_layers": "encoderscope.capture.layers",
    "extract": "encoderscope.capture.extract",
    "iter_batches": "encoderscope.capture.extract",
    "capture_outputs": "encoderscope.capture.hooks",
    "unit_activations": "encoderscope.capture.pooling",
    "open_images": "encoderscope.data.images",
    "load_image": "encoderscope.data.images",
    "open_voc": "encoderscope.data.voc",
    "open_coco": "encoderscope.data.voc",
    "SceneConfig": "encoderscope.data.scenes",
    "generate_scenes": "encoderscope.data.scenes",
    "write_scenes": "encoderscope.data.scenes",
    "CorLocThresholds": "encoderscope.nave.metrics",
    "corloc": "encoderscope.nave.metrics",
    "hungarian_miou": "encoderscope.nave.metrics",
    "best_match_iou": "encoderscope.nave.metrics",
    "EncoderscopeError": "encoderscope.errors",
    "resolve_device": "encoderscope.devices",
    "zoo_models": "encoderscope.zoo.offline",
    "nave": "encoderscope.nave",  # the subpackage, callable: encoderscope.nave(encoder, images, ...)
    "nave_maps": "encoderscope.nave.pipeline",
    "NaveResult": "encoderscope.nave.result",
    "report": "encoderscope.report",  # pictures and the HTML report (the subpackage)
    "write_report": "encoderscope.report.html",
    "overlay": "encoderscope.report.overlay",
    "concept_palette": "encoderscope.report.palette",
    "align_labels": "encoderscope.data.label_maps",
    "lwta": "encoderscope.lwta",  # DISCOVER's LWTA layers: lwta.LWTA, lwta.convert, training
    "LWTA": "encoderscope.lwta.layer",
    "dissect": "encoderscope.dissect",  # network dissection: dissect.dissect(...), similarity functions, scorers
    "Dissection": "encoderscope.dissect.describe",
    "describe_units": "encoderscope.dissect.describe",
    "neuron_activations": "encoderscope.dissect.activations",
    "load_concepts": "encoderscope.dissect.concepts",
    "linking": "encoderscope.linking",  # Linking in Style: generators, pairs, link, sweeps, parts, counterfactuals
    "load_generator": "encoderscope.zoo.generators",
    "make_pairs": "encoderscope.linking.pairs",
    "fit_link": "encoderscope.linking.network",
    "sweep_units": "encoderscope.linking.tune",
    "counterfactuals": "encoderscope.linking.counterfactual",
    # typed configurations (one per command) and run records
    "NaveConfig": "encoderscope.nave.config",
    "NamingConfig": "encoderscope.nave.names",
    "CompareConfig": "encoderscope.nave.config",
    "CorLocConfig": "encoderscope.nave.config",
    "DissectConfig": "encoderscope.dissect.config",
    "LinkPairsConfig": "encoderscope.linking.config",
    "LinkFitConfig": "encoderscope.linking.config",
    "LinkTuneConfig": "encoderscope.linking.config",
    "LinkQuantifyConfig": "encoderscope.linking.config",
    "LinkCounterfactualConfig": "encoderscope.linking.config",
    "LwtaTrainConfig": "encoderscope.lwta.config",
    "ScenesConfig": "encoderscope.data.scenes",
    "RunOptions": "encoderscope.configs",
    "RunRecord": "encoderscope.runs",
    "load_result": "encoderscope.results",
    "explore": "encoderscope.results",  # the interactive explorer page of run folders or results
    "compare": "encoderscope.nave.compare",
    "flow": "encoderscope.nave.flow",  # concept flow across depths: encoderscope.flow(encoder, images, layers, ...)
    "FlowResult": "encoderscope.nave.flow",
    "FlowConfig": "encoderscope.nave.config",
    "evaluate_corloc": "encoderscope.nave.evaluate",
}


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'encoderscope' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"encoderscope.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


__all__ = sorted(_API)
