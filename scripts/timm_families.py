"""Regenerate tests/zoo/timm_families.json: one representative (the smallest) model per timm model family.

A family is a (timm module, name prefix) pair: the module that defines the model (``timm.models._registry``) and the
alphabetic start of its name with an optional ``vN`` suffix (``vit``, ``deit``, ``swinv2``, ``convnext``...). timm's
own ``test_*`` models are left out. The representative is the family's model with the fewest parameters, counted on
the meta device (no memory, no weights); ties go to the shorter, then alphabetically first, name.

Run it when timm is upgraded; ``tests/zoo/test_registry_coverage.py`` fails when the registry and the file disagree.

    python scripts/timm_families.py            # rewrites tests/zoo/timm_families.json
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path

import timm
import torch
from timm.models import _registry

OUT = Path(__file__).resolve().parents[1] / "tests" / "zoo" / "timm_families.json"


def family_of(name: str) -> str:
    """``"<module>/<prefix>"`` of a timm model name."""
    module = _registry._model_to_module[name]
    prefix = re.match(r"[a-z]+(v\d+)?", name.split("_")[0])
    return f"{module}/{prefix.group(0) if prefix else name}"


def families() -> dict[str, list[str]]:
    """Family -> model names (sorted), every registered model except timm's ``test_*`` models."""
    found: dict[str, list[str]] = {}
    for name in timm.list_models():
        if name.startswith("test_"):
            continue
        found.setdefault(family_of(name), []).append(name)
    return {family: sorted(names) for family, names in sorted(found.items())}


def parameter_count(name: str) -> int | None:
    """Parameters of a model built on the meta device, or ``None`` when it cannot be built there."""
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            model = timm.create_model(name, pretrained=False)
    except Exception:
        return None
    return sum(p.numel() for p in model.parameters())


def main() -> int:
    table = {}
    for family, names in families().items():
        counts = {name: parameter_count(name) for name in names}
        known = {name: count for name, count in counts.items() if count is not None}
        pool = known or {name: 0 for name in names}
        best = min(pool, key=lambda name: (pool[name], len(name), name))
        table[family] = {"model": best, "params": known.get(best), "models": len(names)}
        print(f"{family:45s} {best:45s} {known.get(best)}", file=sys.stderr)
    payload = {"timm": timm.__version__, "families": table}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"{len(table)} families -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
