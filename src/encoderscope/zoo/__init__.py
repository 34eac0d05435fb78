"""Where models come from: spec strings, the offline zoo, and plain modules.

Example:
    >>> from encoderscope.zoo import load_model
    >>> enc = load_model("timm:resnet18", random_init=True)
    >>> enc.depth_layers[-1], enc.layout.describe()
    ('layer4', 'conv grid')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from encoderscope.errors import SourceError

if TYPE_CHECKING:  # torch is imported on first use, so light modules (zoo.locate) stay light
    from torch import nn

    from encoderscope.devices import DeviceSpec
    from encoderscope.zoo.encoder import Encoder

PREFIXES = ("timm:", "tv:", "hf:", "open_clip:", "file:", "zoo:")


def load_model(
    spec: str | nn.Module | Encoder,
    random_init: bool = False,
    device: DeviceSpec = None,
    arch: str | None = None,
    trust_pickle: bool | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> Encoder:
    """Load a vision encoder with its preprocessing and token layout.

    Args:
        spec: ``"timm:NAME[.TAG]"``, ``"tv:NAME[:WEIGHTS]"``, ``"hf:ORG/NAME"`` (or ``hf:/local/dir``),
            ``"open_clip:ARCH[:CHECKPOINT|:TAG]"`` (an open_clip image tower), ``"file:PATH"`` (with ``arch``),
            ``"zoo:NAME"`` (offline zoo), an ``nn.Module`` or an ``Encoder``.
        random_init: build the architecture without pretrained weights (seeded by ``seed``).
        device: where to put the model (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, a ``torch.device``).
            ``None``: an ``Encoder`` or ``nn.Module`` stays on the device it is on; a spec string goes to
            :func:`~encoderscope.devices.resolve_device`'s default (``cuda`` when available, else ``cpu``).
        arch: for ``file:`` checkpoints, the spec of the architecture (``"timm:resnet18"``).
        trust_pickle: allow pickled objects in ``file:`` checkpoints (only for files you trust; ``None``: only
            inside :func:`~encoderscope.zoo.trust.trusting_pickles`).
        seed: seed for random-init weights.
        **kwargs: passed to the timm factory (``img_size=...``).
    """
    from torch import nn

    from encoderscope.devices import resolve_device
    from encoderscope.zoo.encoder import Encoder

    if isinstance(spec, Encoder | nn.Module):
        target = None if device is None else resolve_device(device)  # checked before any work
        if isinstance(spec, Encoder):
            encoder = spec
        else:
            from encoderscope.zoo.sources import from_module

            encoder = from_module(spec)
        return encoder if target is None else encoder.to(target)
    if not isinstance(spec, str) or ":" not in spec:
        raise SourceError(
            f"model spec {spec!r} has no source prefix; use one of {', '.join(PREFIXES)} "
            "(e.g. zoo:dinov2-vits14, timm:resnet50, tv:resnet50, hf:facebook/dinov2-small, file:ckpt.pt)"
        )
    target = resolve_device(device)
    prefix, _, name = spec.partition(":")
    if not name:
        raise SourceError(f"model spec {spec!r} names no model after {prefix}:")
    from encoderscope.zoo import sources

    if prefix == "timm":
        encoder = sources.load_timm(name, random_init, seed=seed, **kwargs)
    elif prefix == "tv":
        encoder = sources.load_torchvision(name, random_init, seed=seed)
    elif prefix == "hf":
        encoder = sources.load_huggingface(name, random_init, seed=seed)
    elif prefix == "open_clip":
        from encoderscope.zoo.open_clip import load_open_clip

        encoder = load_open_clip(name, random_init, seed=seed)
    elif prefix == "zoo":
        from encoderscope.zoo.offline import load_zoo_model

        encoder = load_zoo_model(name, random_init=random_init, seed=seed)
    elif prefix == "file":
        if arch is None:
            raise SourceError(f"{spec}: a checkpoint needs its architecture, e.g. arch='timm:resnet18' (--arch)")
        architecture = load_model(arch, random_init=True, seed=seed, device="cpu", **kwargs)
        encoder = sources.load_checkpoint(name, architecture, trust_pickle=trust_pickle)
    else:
        raise SourceError(f"unknown model source {prefix!r} in {spec!r}; use one of {', '.join(PREFIXES)}")
    return encoder.to(target)


_LAZY = {
    "Encoder": "encoderscope.zoo.encoder",
    "PreparedImage": "encoderscope.zoo.preprocess",
    "Preprocess": "encoderscope.zoo.preprocess",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from encoderscope.lazy import import_object

        return import_object(f"{_LAZY[name]}:{name}")
    raise AttributeError(f"module 'encoderscope.zoo' has no attribute {name!r}")


__all__ = ["Encoder", "PreparedImage", "Preprocess", "load_model"]
