"""The registry models of the conversion sweep: one representative per timm family and every torchvision classifier.

The timm representatives come from ``tests/zoo/timm_families.json`` (the smallest model of each family, written by
``scripts/timm_families.py``); torchvision's from ``torchvision.models.list_models(module=torchvision.models)``.
Models are built with random weights from a fixed seed.

The default sample (run by every test session) is deterministic: the specs sorted by name, every ``SAMPLE_STEP``-th
one starting at the first, plus ``ALWAYS`` (the layouts the conversion must get right: a conv MLP, channels-last
MLPs, a conv-MLP model whose width divides U, a CNN with several activation kinds, a VGG head).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

FAMILIES = Path(__file__).resolve().parents[1] / "zoo" / "timm_families.json"
SAMPLE_STEP = 16
ALWAYS = ("timm:convnext_zepto_rms", "timm:poolformer_s12", "timm:seresnet18", "tv:mobilenet_v3_small", "tv:vgg11",
          "tv:swin_t")


def timm_specs() -> list[str]:
    """``timm:<model>`` for the representative of every timm family."""
    families = json.loads(FAMILIES.read_text())["families"]
    return sorted(f"timm:{entry['model']}" for entry in families.values())


def torchvision_specs() -> list[str]:
    """``tv:<model>`` for every torchvision classification model."""
    import torchvision

    return sorted(f"tv:{name}" for name in torchvision.models.list_models(module=torchvision.models))


def all_specs() -> list[str]:
    return timm_specs() + torchvision_specs()


def sample_specs() -> list[str]:
    """The fixed default sample (see the module docstring)."""
    everything = all_specs()
    return sorted(set(everything[::SAMPLE_STEP]) | set(ALWAYS))


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
