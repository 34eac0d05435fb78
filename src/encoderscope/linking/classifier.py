"""The classifier side of the link: features (one layer) and logits for in-memory generated images.

:class:`LinkClassifier` wraps an :class:`~encoderscope.zoo.Encoder` or a plain ``nn.Module``. It preprocesses image
tensors in torch (resize the shorter side to ``size / crop_pct``, centre-crop ``size``, normalise: the evaluation
transform of the weights, applied to generated images as the reference applies Resize/CenterCrop to GAN images),
runs one forward pass with a hook on the feature layer (the penultimate layer by default) and returns features and
logits.

The **head** maps the feature layer to the logits (ResNet's ``fc`` in the paper). It is found as the last
``nn.Linear`` after the feature layer whose input width equals the feature width and whose output width equals the
number of logits, and it is verified numerically: applying it to the captured features must reproduce the
network's logits. Pass ``head=`` (a module name or a callable) when that check fails.

The resize uses the encoder's ``Preprocess.interpolation`` (bicubic for most weights), antialiased as PIL resizes,
so a generated image is prepared as :meth:`~encoderscope.zoo.Preprocess.classify` prepares a photo, to uint8
rounding (bicubic overshoot is clipped to [0, 1] as PIL clips it to 0..255). torch has no Lanczos filter:
``lanczos`` weights get an antialiased bicubic resize (a named departure). A plain ``nn.Module`` carries no
transform: it gets ``interpolation="bilinear"`` unless told otherwise.

The classifier runs where its module is (``device=`` moves it; ``autocast=True`` runs the forward in mixed
precision); images may come from any device and the features and logits come back to the CPU as numpy arrays.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.Linear(5, 2))
    >>> clf = LinkClassifier.from_module(net, feature_layer="1", size=None, mean=(0, 0, 0), std=(1, 1, 1))
    >>> feats, logits = clf.run(torch.rand(3, 3, 2, 2))
    >>> feats.shape, logits.shape
    ((3, 5), (3, 2))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoderscope import devices
from encoderscope.capture.hooks import capture_outputs
from encoderscope.capture.layout import TokenLayout
from encoderscope.capture.outputs import interpret_output
from encoderscope.capture.pooling import unit_activations
from encoderscope.errors import LayerError, ParameterError, SourceError

#: torch's resize mode for each ``Preprocess.interpolation`` name (no Lanczos in torch: antialiased bicubic).
TORCH_MODES = {"bicubic": "bicubic", "bilinear": "bilinear", "nearest": "nearest-exact", "lanczos": "bicubic"}


@dataclass
class LinkClassifier:
    """A classifier (or feature extractor) run on generated image tensors.

    Attributes:
        module: the network (eval mode); its forward returns logits for classifiers.
        feature_layer: dotted module name whose output are the features ``r``.
        mean, std: normalisation; size: square input side (``None`` keeps the generator's size); crop_pct: the
            evaluation crop fraction; interpolation: the resize filter (a ``Preprocess.interpolation`` name).
        class_names: names of the logits, when known.
        head: callable features -> logits (found or given; see the module docstring), or ``None``.
        pool: how a spatial feature output becomes one value per unit (``mean`` by default; ``cls`` for tokens).
        layout: token layout of the module (for ViTs).
        spec: where it came from (recorded in results).
        autocast: run the forward pass in mixed precision (:func:`~encoderscope.devices.autocast_dtype`).
    """

    module: nn.Module
    feature_layer: str
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    size: int | None = 224
    crop_pct: float = 1.0
    interpolation: str = "bilinear"
    class_names: tuple[str, ...] | None = None
    head: Callable[[torch.Tensor], torch.Tensor] | None = None
    head_name: str | None = None
    pool: str = "auto"
    layout: TokenLayout = field(default_factory=TokenLayout)
    spec: str = "module"
    has_logits: bool = True
    batch_size: int = 32
    autocast: bool = False

    def __post_init__(self) -> None:
        if self.interpolation not in TORCH_MODES:
            raise ParameterError(
                f"unknown interpolation {self.interpolation!r}; choose one of {', '.join(TORCH_MODES)}"
            )

    @property
    def device(self) -> torch.device:
        """Where the module is (its tensors run there)."""
        return devices.module_device(self.module)

    def to(self, device: devices.DeviceSpec) -> LinkClassifier:
        """Move the module (and a head module) to ``device``; returns ``self``."""
        target = devices.resolve_device(device)
        self.module.to(target)
        if isinstance(self.head, nn.Module):
            self.head.to(target)
        return self

    @classmethod
    def from_module(
        cls,
        module: nn.Module,
        feature_layer: str,
        *,
        head: str | Callable[[torch.Tensor], torch.Tensor] | None = None,
        class_names: Sequence[str] | None = None,
        size: int | None = 224,
        crop_pct: float = 1.0,
        interpolation: str = "bilinear",
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        pool: str = "auto",
        spec: str = "module",
        has_logits: bool = True,
    ) -> LinkClassifier:
        """A plain ``nn.Module`` whose forward returns logits, with the name of its feature layer."""
        modules = dict(module.named_modules())
        if feature_layer not in modules:
            from encoderscope.capture.layers import closest_names

            close = closest_names(feature_layer, list(modules))
            raise LayerError(f"unknown feature layer {feature_layer!r}; closest: {', '.join(close)}")
        module.eval()
        clf = cls(
            module=module, feature_layer=feature_layer, mean=tuple(mean), std=tuple(std), size=size,
            crop_pct=crop_pct, interpolation=interpolation, class_names=tuple(class_names) if class_names else None,
            pool=pool, spec=spec, has_logits=has_logits,
        )
        if isinstance(head, str):
            if head not in modules:
                raise LayerError(f"unknown head module {head!r}")
            clf.head, clf.head_name = modules[head], head
        elif head is not None:
            clf.head, clf.head_name = head, "callable"
        return clf

    @classmethod
    def from_encoder(
        cls,
        encoder: Any,
        feature_layer: str | None = None,
        head: str | Callable[[torch.Tensor], torch.Tensor] | None = None,
        pool: str = "auto",
    ) -> LinkClassifier:
        """An :class:`~encoderscope.zoo.Encoder`: its preprocessing, class names and penultimate layer by default."""
        layer = feature_layer or encoder.feature_layer
        if layer is None:
            raise LayerError(f"{encoder.spec} has no known penultimate layer; pass feature_layer=<layer name>")
        pre = encoder.preprocess
        clf = cls.from_module(
            encoder.module, layer, head=head, class_names=encoder.class_names, size=pre.size,
            crop_pct=pre.crop_pct, interpolation=pre.interpolation, mean=pre.mean, std=pre.std, pool=pool,
            spec=encoder.spec, has_logits=encoder.classifier is not None,
        )
        clf.layout = encoder.layout
        return clf

    # -- running ----------------------------------------------------------------------------------------------

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Resize (shorter side to ``size / crop_pct``, with ``interpolation``), centre-crop ``size`` and normalise
        ``(B, 3, H, W)`` images in [0, 1]."""
        x = devices.to_device(images, self.device).float()
        if self.size is not None:
            short = round(self.size / self.crop_pct)
            h, w = x.shape[-2:]
            scale = short / min(h, w)
            new_hw = (max(self.size, round(h * scale)), max(self.size, round(w * scale)))
            if new_hw != (h, w):
                mode = TORCH_MODES[self.interpolation]
                smooth = {} if mode == "nearest-exact" else {"align_corners": False, "antialias": True}
                x = F.interpolate(x, size=new_hw, mode=mode, **smooth)
                if mode == "bicubic":  # its overshoot is clipped, as PIL clips to 0..255
                    x = x.clamp(0.0, 1.0)
            top, left = (new_hw[0] - self.size) // 2, (new_hw[1] - self.size) // 2
            x = x[..., top : top + self.size, left : left + self.size]
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device)[:, None, None]
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device)[:, None, None]
        return (x - mean) / std

    def _pool(self, raw: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        output = interpret_output(raw, self.layout, input_hw)
        mode = self.pool
        if mode == "auto":
            mode = "cls" if output.prefix is not None and "cls" in output.prefix_kinds else "mean"
        if output.vector is None and output.grid is None and output.prefix is None:
            return raw.flatten(1)
        return unit_activations(output, mode)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        with capture_outputs(self.module, [self.feature_layer]) as captured, devices.autocast(x.device, self.autocast):
            out = self.module(x)
        features = self._pool(captured[self.feature_layer], (int(x.shape[-2]), int(x.shape[-1])))
        logits = out if self.has_logits and torch.is_tensor(out) and out.ndim == 2 else None
        return features.float(), None if logits is None else logits.float()

    def run(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Features ``(B, D)`` and logits ``(B, K)`` (``None`` for feature extractors) of image tensors in [0, 1]."""
        feats, logits = [], []
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                f, lg = self._forward(self.prepare(images[start : start + self.batch_size]))
                feats.append(f.cpu().numpy())
                if lg is not None:
                    logits.append(lg.cpu().numpy())
        features = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
        return features, (np.concatenate(logits) if logits else None)

    # -- the head ---------------------------------------------------------------------------------------------

    def resolve_head(self, features: np.ndarray, logits: np.ndarray | None) -> Callable[[torch.Tensor], torch.Tensor]:
        """The features -> logits map (given, or found and verified on ``features``/``logits``; see module doc)."""
        if logits is None:
            raise ParameterError(f"{self.spec} gives no logits, so it has no head for counterfactuals")
        if self.head is None:
            self.head, self.head_name = self._find_head(features.shape[1], logits.shape[1])
        where = devices.module_device(self.head) if isinstance(self.head, nn.Module) else self.device
        with torch.inference_mode():
            predicted = self.head(devices.to_device(torch.as_tensor(features[:8]), where)).float().cpu().numpy()
        scale = float(np.abs(logits[:8]).max()) + 1e-6
        if predicted.shape != logits[:8].shape or np.abs(predicted - logits[:8]).max() > 1e-3 * scale + 1e-4:
            raise ParameterError(
                f"head {self.head_name!r} applied to the features of {self.feature_layer!r} does not reproduce the "
                "logits; pass head=<module name> (--head) that maps this layer to the logits"
            )
        return self.head

    def _find_head(self, width: int, n_logits: int) -> tuple[nn.Module, str]:
        names = [name for name, _ in self.module.named_modules()]
        start = names.index(self.feature_layer)
        candidates = [
            (name, mod)
            for name, mod in list(self.module.named_modules())[start + 1 :]
            if isinstance(mod, nn.Linear) and mod.in_features == width and mod.out_features == n_logits
        ]
        if not candidates:
            raise SourceError(
                f"no nn.Linear({width} -> {n_logits}) after {self.feature_layer!r}; pass head=<module name> (--head)"
            )
        name, module = candidates[-1]
        return module, name

    def describe(self) -> dict[str, Any]:
        """Configuration recorded in run.json."""
        return {
            "spec": self.spec, "feature_layer": self.feature_layer, "size": self.size, "crop_pct": self.crop_pct,
            "interpolation": self.interpolation, "mean": list(self.mean), "std": list(self.std), "pool": self.pool,
            "head": self.head_name, "classes": list(self.class_names) if self.class_names else None,
        }


def as_classifier(
    model: Any,
    feature_layer: str | None = None,
    head: str | Callable[[torch.Tensor], torch.Tensor] | None = None,
    random_init: bool = False,
    pool: str = "auto",
    device: devices.DeviceSpec = None,
    autocast: bool = False,
) -> LinkClassifier:
    """A :class:`LinkClassifier` from a spec string (``encoderscope.load_model``), an ``Encoder``, an
    ``nn.Module`` (with ``feature_layer``) or a ready ``LinkClassifier``.

    ``device``: where it runs (default: a module, Encoder or classifier stays where it is; a spec goes to
    :func:`~encoderscope.devices.resolve_device`'s default). ``autocast``: mixed-precision forward passes.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4), torch.nn.Linear(4, 3))
        >>> as_classifier(net, feature_layer="1").feature_layer
        '1'
    """
    if isinstance(model, str):
        if model.startswith("synthetic:"):
            model = synthetic_classifier(model).to(devices.resolve_device(device))
        else:
            from encoderscope.zoo import load_model

            model = load_model(model, random_init=random_init, device=device)
    elif device is not None and hasattr(model, "to"):  # a LinkClassifier, Encoder or module given with a device
        model.to(devices.resolve_device(device))
    if isinstance(model, LinkClassifier):
        clf = model
    elif isinstance(model, nn.Module):
        if feature_layer is None:
            raise LayerError("a plain nn.Module needs feature_layer=<layer name> (--feature-layer)")
        clf = LinkClassifier.from_module(model, feature_layer, head=head, pool=pool)
    elif hasattr(model, "module") and hasattr(model, "preprocess"):
        clf = LinkClassifier.from_encoder(model, feature_layer=feature_layer, head=head, pool=pool)
    else:
        raise SourceError(f"cannot use {type(model).__name__} as a classifier")
    clf.autocast = clf.autocast or autocast
    return clf


def synthetic_classifier(spec: str = "synthetic:linear", n_features: int = 12, seed: int = 0) -> LinkClassifier:
    """The linear classifier matched to ``synthetic:linear`` (:mod:`encoderscope.linking.synthetic`: feature layer
    ``features``, head ``fc``, the generator's classes).

    Example:
        >>> from encoderscope.zoo.generators import linear_generator
        >>> gen, clf = linear_generator(), synthetic_classifier()
        >>> feats, logits = clf.run(gen.synthesize(gen.sample(5, seed=0, truncation=0.7, cls=2)))
        >>> feats.shape, int(logits.argmax(1)[0])
        ((5, 12), 2)
    """
    from encoderscope.linking.synthetic import synthetic_network
    from encoderscope.zoo.generators import linear_generator

    return LinkClassifier.from_module(
        synthetic_network(n_features, seed), "features", head="fc", class_names=linear_generator().class_names,
        size=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), spec=spec,
    )
