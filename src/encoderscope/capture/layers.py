"""Layer names: listing every module with its output shape and token layout, and resolving user layer specs.

Layers are dotted ``named_modules()`` names (``blocks.11``, ``layer4.2.conv3``). Sugar: globs where ``*`` matches
one name segment and ``**`` any number (``blocks.*`` is every block, ``blocks.*.mlp.fc1`` every MLP input), and
integers (``-1``, ``3``) that index :attr:`Encoder.depth_layers`.

Example:
    >>> import torch
    >>> from encoderscope.zoo import load_model
    >>> enc = load_model(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.ReLU()))
    >>> [info.name for info in list_layers(enc, input_size=32)]
    ['0', '1']
    >>> resolve_layers(enc, "*")
    ['0', '1']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from encoderscope.capture.hooks import capture_outputs, first_tensor, guarded_forward
from encoderscope.capture.outputs import interpret_output
from encoderscope.errors import LayerError

if TYPE_CHECKING:
    from encoderscope.zoo.encoder import Encoder

LayerSpec = str | int | Sequence[str | int]


@dataclass(frozen=True)
class LayerInfo:
    """One module of an encoder as seen in a probe forward pass.

    Attributes:
        name: dotted module name.
        type: module class name.
        shape: output shape for a batch of one (empty when the module was not called).
        kind: ``grid``, ``grid-nhwc``, ``tokens``, ``vector``, ``other`` or ``not called``.
        channels: units per position (C) when the output maps to a grid or vector.
        grid: ``(h, w)`` of the grid, when there is one.
        prefix: description of the prefix tokens (``"cls+4reg"``), empty when none.
        depth: index in :attr:`Encoder.depth_layers`, or ``None``.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    kind: str
    channels: int | None
    grid: tuple[int, int] | None
    prefix: str
    depth: int | None


def _input_hw(encoder: Encoder, input_size: int | tuple[int, int] | None) -> tuple[int, int]:
    if input_size is None:
        size = encoder.preprocess.size or 224
        return encoder.preprocess.padded_size((size, size))
    if isinstance(input_size, int):
        return input_size, input_size
    return int(input_size[0]), int(input_size[1])


def _prefix_text(kinds: tuple[str, ...]) -> str:
    if not kinds:
        return ""
    parts = []
    for kind in ("cls", "reg", "dist"):
        count = kinds.count(kind)
        if count:
            parts.append(kind if count == 1 else f"{count}{kind}")
    return "+".join(parts)


def list_layers(
    encoder: Encoder, input_size: int | tuple[int, int] | None = None, pattern: str | None = None
) -> list[LayerInfo]:
    """Every module's name, type, output shape and how the output maps to a grid plus prefix tokens.

    Args:
        encoder: the encoder (see :func:`encoderscope.load_model`).
        input_size: ``H`` or ``(H, W)`` of the probe input; default the encoder's preprocessing size.
        pattern: optional glob (``blocks.*``) to keep only some modules.
    """
    input_hw = _input_hw(encoder, input_size)
    names = [name for name, _ in encoder.module.named_modules() if name]
    modules = dict(encoder.module.named_modules())
    device = encoder.device
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn(1, 3, *input_hw, generator=generator).to(device)
    with torch.inference_mode(), capture_outputs(encoder.module, names) as outputs:
        guarded_forward(encoder.module, probe, encoder.spec)
    depth_index = {name: i for i, name in enumerate(encoder.depth_layers)}
    keep = set(_match_glob(pattern, names)) if pattern else None
    if keep is not None and not keep:
        raise LayerError(
            f"no layer matches {pattern!r}; closest valid names: {', '.join(closest_names(pattern or '', names))}"
        )
    infos = []
    for name in names:
        if keep is not None and name not in keep:
            continue
        tensor = outputs.get(name)
        if tensor is None:
            infos.append(
                LayerInfo(name, type(modules[name]).__name__, (), "not called", None, None, "", depth_index.get(name))
            )
            continue
        parsed = interpret_output(tensor, encoder.layout, input_hw)
        grid = tuple(parsed.grid.shape[-2:]) if parsed.grid is not None else None
        infos.append(
            LayerInfo(
                name=name,
                type=type(modules[name]).__name__,
                shape=tuple(tensor.shape),
                kind=parsed.kind,
                channels=parsed.channels,
                grid=grid,  # type: ignore[arg-type]
                prefix=_prefix_text(parsed.prefix_kinds),
                depth=depth_index.get(name),
            )
        )
    return infos


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for segment in pattern.split("."):
        if segment == "**":
            parts.append(r"(?:[^.]+(?:\.[^.]+)*)")
        else:
            escaped = re.escape(segment).replace(r"\*", r"[^.]*").replace(r"\?", r"[^.]")
            parts.append(escaped)
    return re.compile(r"\.".join(parts) + r"\Z")


def _match_glob(pattern: str, names: Sequence[str]) -> list[str]:
    regex = _glob_regex(pattern)
    return [name for name in names if regex.match(name)]


def closest_names(name: str, names: Sequence[str], n: int = 5) -> list[str]:
    """The valid names closest to ``name`` (for error messages)."""
    close = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
    if not close:
        prefix = name.split(".")[0]
        close = [candidate for candidate in names if candidate.split(".")[0] == prefix][:n]
    return close or list(names[:n])


def resolve_layers(encoder: Encoder, layers: LayerSpec | None) -> list[str]:
    """Resolve names, globs and depth indices to exact dotted names (order kept, duplicates dropped).

    ``None`` or an empty list means :attr:`Encoder.default_layers` (the last block or stage).
    """
    if layers is None or (isinstance(layers, Sequence) and not isinstance(layers, str) and not layers):
        if not encoder.default_layers:
            raise LayerError("no layers given and the encoder has no known blocks; pass layers=[...]")
        return list(encoder.default_layers)
    specs: list[str | int] = [layers] if isinstance(layers, str | int) else list(layers)
    if len(specs) == 1 and isinstance(specs[0], str) and "," in specs[0]:
        specs = [part.strip() for part in specs[0].split(",") if part.strip()]
    names = [name for name, _ in encoder.module.named_modules() if name]
    known = set(names)
    resolved: list[str] = []
    for spec in specs:
        text = str(spec).strip()
        if isinstance(spec, int) or re.fullmatch(r"-?\d+", text):
            index = int(text)
            if text in known:
                resolved.append(text)
                continue
            if not encoder.depth_layers:
                raise LayerError(f"layer index {index} given but the encoder has no known blocks; use a name")
            if not -len(encoder.depth_layers) <= index < len(encoder.depth_layers):
                raise LayerError(
                    f"layer index {index} is out of range: the encoder has {len(encoder.depth_layers)} blocks "
                    f"({encoder.depth_layers[0]} ... {encoder.depth_layers[-1]})"
                )
            resolved.append(encoder.depth_layers[index])
        elif any(char in text for char in "*?"):
            matched = _match_glob(text, names)
            if not matched:
                raise LayerError(
                    f"no layer matches {text!r}; closest valid names: {', '.join(closest_names(text, names))}"
                )
            resolved.extend(matched)
        elif text in known:
            resolved.append(text)
        else:
            raise LayerError(
                f"unknown layer {text!r}; closest valid names: {', '.join(closest_names(text, names))} "
                f"(see `encoderscope layers MODEL`)"
            )
    return list(dict.fromkeys(resolved))


__all__ = ["LayerInfo", "closest_names", "first_tensor", "list_layers", "resolve_layers"]
