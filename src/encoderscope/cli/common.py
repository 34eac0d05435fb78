"""Options and helpers shared by the command modules."""

from __future__ import annotations

import typer

from encoderscope.errors import ParameterError

RANDOM_INIT = typer.Option(False, "--random-init", help="Build the architecture without pretrained weights.")
ARCH = typer.Option(None, "--arch", help="Architecture spec for file: checkpoints, e.g. timm:resnet18.")
SEED = typer.Option(0, "--seed", help="Seed for every random choice.")
DEVICE = typer.Option(
    None, "--device", help="Where models run: cpu, cuda, cuda:N or mps (default: cuda when available, else cpu)."
)
AUTOCAST = typer.Option(
    False, "--autocast", help="Run the model forward in mixed precision (bfloat16 on CPU and recent GPUs, float16 "
    "on older GPUs and mps); faster, results can differ slightly from float32."
)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"224"`` -> (224, 224); ``"224x320"`` -> (224, 320) (height x width)."""
    if text is None:
        return None
    parts = text.lower().replace("*", "x").split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError as err:
        raise ParameterError(f"size {text!r} is not H or HxW (e.g. 224 or 224x320)") from err
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise ParameterError(f"size {text!r} is not H or HxW with positive numbers")
    return values[0], values[1]


def split_list(text: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]
