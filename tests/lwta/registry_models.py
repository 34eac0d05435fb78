"""The registry models of the conversion sweep: one representative per timm family and every torchvision classifier.

The timm representatives come from ``tests/zoo/timm_families.json`` (the smallest model of each family, written by
``scripts/timm_families.py``); torchvision's from ``torchvision.models.list_models(module=torchvision.models)``.
Models are built with random weights from a fixed seed.

The default sample (run by every test session) is deterministic: among the models with at most ``SAMPLE_MAX_PARAMS``
parameters (timm: the count in the JSON file; torchvision: its weights' metadata), sorted by spec, every
``SAMPLE_STEP``-th one starting at the first; plus ``ALWAYS``: the paper's two architectures (a DeiT, a ResNet), a
conv MLP (ConvNeXt), a CNN with two activation kinds and a classifier head (MobileNetV3), and a model whose
activations are functions (GoogLeNet, a clear error).

This helper reads the JSON file itself; the zoo tests' registry helper may replace it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

FAMILIES = Path(__file__).resolve().parents[1] / "zoo" / "timm_families.json"
SAMPLE_STEP = 8
SAMPLE_MAX_PARAMS = 10_000_000
ALWAYS = ("timm:deit_tiny_patch16_224", "tv:resnet18", "timm:convnext_zepto_rms", "tv:mobilenet_v3_small",
          "tv:googlenet")


def _timm_params() -> dict[str, int | None]:
    families = json.loads(FAMILIES.read_text())["families"]
    return {f"timm:{entry['model']}": entry["params"] for entry in families.values()}


def _torchvision_params() -> dict[str, int]:
    import torchvision

    return {
        f"tv:{name}": next(iter(torchvision.models.get_model_weights(name))).meta["num_params"]
        for name in torchvision.models.list_models(module=torchvision.models)
    }


def parameter_counts() -> dict[str, int | None]:
    """Spec -> parameter count (``None`` when unknown) of every model of the sweep."""
    return {**_timm_params(), **_torchvision_params()}


def all_specs() -> list[str]:
    """``timm:<model>`` for the representative of every timm family, ``tv:<model>`` for every torchvision
    classification model, sorted."""
    return sorted(parameter_counts())


def sample_specs() -> list[str]:
    """The fixed default sample (see the module docstring)."""
    counts = parameter_counts()
    small = sorted(spec for spec, count in counts.items() if count is not None and count <= SAMPLE_MAX_PARAMS)
    return sorted(set(small[::SAMPLE_STEP]) | set(ALWAYS))


def build(spec: str) -> nn.Module:
    """A random-init model in ``eval()`` mode, seeded."""
    source, _, name = spec.partition(":")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if source == "timm":
            import timm

            model = timm.create_model(name, pretrained=False)
        else:
            import torchvision

            model = torchvision.models.get_model(name)
    return model.eval()
