"""Part maps of generated images: unsupervised (NAVE-style clusters) or few-shot (from a few user masks).

Per-pixel features come from one of three sources:

* ``generator``: the generator's maps, as the reference's segmentation features (docs/methods/linking.md, step 4): the
  output of every second child of the generator's main ``nn.Sequential``, nearest-upsampled to ``size`` and
  concatenated. The latents of the images are needed. ``max_channels`` keeps only the layers with at most that many
  channels (the late, high-resolution ones; a lighter named option).
* ``classifier:<layer>``: one spatial layer of the classifier, bilinearly upsampled to ``size``.
* ``pixels``: RGB plus position (a fallback for generators without a network, e.g. the synthetic one).

The maps are combined as NAVE does (:func:`encoderscope.nave.combine.combine_depths`: per-position L2 normalisation and
the ``(1 + C_first) / (1 + C_l)`` layer weights). **Unsupervised** part maps cluster these features with k-means
(:func:`encoderscope.cluster.fit_clusters`) fitted on a seeded subsample of pixels from all images, then assign every
pixel. **Few-shot** part maps fit a multinomial logistic regression on the pixels of a few labelled images (the
reference trains a small dilated CNN, "FewShotCNN"; a per-pixel linear read-out is a lighter named departure).
Labels are predicted at ``size`` and upsampled (nearest) to the image size.

Example:
    >>> import numpy as np
    >>> images = np.zeros((2, 16, 16, 3), np.uint8); images[:, :, 8:] = 200
    >>> model = fit_part_model(images, k=2, source="pixels", seed=0)
    >>> maps = model.predict(images)
    >>> maps.shape, len(np.unique(maps[0]))
    ((2, 16, 16), 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from encoderscope import devices
from encoderscope.errors import ParameterError

SOURCES = ("generator", "classifier", "pixels")


@dataclass
class FeatureSource:
    """Computes per-pixel features ``(N, size, size, C)`` for a batch of images (and their latents)."""

    kind: str = "pixels"
    size: int = 32
    generator: Any = None
    classifier: Any = None
    layer: str | None = None
    max_channels: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCES:
            raise ParameterError(f"unknown part-feature source {self.kind!r}; choose one of {', '.join(SOURCES)}")
        if self.kind == "generator" and getattr(self.generator, "module", None) is None:
            raise ParameterError("source 'generator' needs a generator with a torch network; use 'pixels'")
        if self.kind == "classifier" and (self.classifier is None or not self.layer):
            raise ParameterError("source 'classifier' needs a classifier and a spatial layer name")

    def describe(self) -> str:
        """The source as a string (``classifier:<layer>``)."""
        return f"classifier:{self.layer}" if self.kind == "classifier" else self.kind

    def _maps(self, images: np.ndarray, latents: np.ndarray | None) -> list[torch.Tensor]:
        if self.kind == "pixels":
            x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0
            n, _, h, w = x.shape
            rows = torch.linspace(-1, 1, h)[:, None].expand(h, w)
            cols = torch.linspace(-1, 1, w)[None, :].expand(h, w)
            pos = torch.stack([rows, cols])[None].expand(n, 2, h, w)
            return [x, pos]
        from encoderscope.capture.hooks import capture_outputs

        if self.kind == "classifier":
            x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0
            with torch.inference_mode(), capture_outputs(self.classifier.module, [self.layer]) as out:
                self.classifier.module(self.classifier.prepare(x))
            grid = out[self.layer]
            if grid.ndim != 4:
                raise ParameterError(f"layer {self.layer!r} is not spatial (shape {tuple(grid.shape)})")
            return [grid]
        if latents is None:
            raise ParameterError("source 'generator' needs the latents of the images")
        module = self.generator.module
        body = getattr(module, "main", module)
        names = [f"main.{name}" if body is not module else name for name, _ in body.named_children()][::2]
        with torch.inference_mode(), capture_outputs(module, names) as out:
            z = devices.to_device(torch.as_tensor(np.asarray(latents, np.float32)), self.generator.device)
            self.generator.synth_fn(z, None)  # one batch, on the generator's device
        maps = [out[name] for name in names if out[name].ndim == 4]
        if self.max_channels is not None:  # a lighter option: only the layers with at most max_channels channels
            maps = [m for m in maps if m.shape[1] <= self.max_channels]
        return maps

    def __call__(self, images: np.ndarray, latents: np.ndarray | None = None) -> torch.Tensor:
        """``(N, size, size, C)`` combined per-pixel features (computed where the network is, returned on the CPU)."""
        from encoderscope.nave.combine import combine_depths

        maps = [F.interpolate(m.float(), size=(self.size, self.size), mode="nearest") for m in self._maps(images,
                                                                                                            latents)]
        return combine_depths(maps).cpu()


@dataclass
class PartModel:
    """A fitted pixel-to-part model (k-means centres, or a logistic read-out from masks)."""

    source: FeatureSource
    method: str
    part_names: list[str]
    clustering: Any = None
    readout: Any = None
    config: dict[str, Any] = field(default_factory=dict)

    def predict(self, images: np.ndarray, latents: np.ndarray | None = None, batch_size: int = 8) -> np.ndarray:
        """``(N, H, W)`` int part maps at the images' resolution."""
        out = np.zeros(images.shape[:3], np.int64)
        for start in range(0, len(images), batch_size):
            sl = slice(start, start + batch_size)
            feats = self.source(images[sl], None if latents is None else latents[sl])
            n, s, _, c = feats.shape
            flat = feats.reshape(-1, c).numpy()
            labels = self.clustering.predict(flat) if self.method == "kmeans" else self.readout.predict(flat)
            grid = torch.as_tensor(labels.reshape(n, 1, s, s).astype(np.float32))
            out[sl] = F.interpolate(grid, size=images.shape[1:3], mode="nearest")[:, 0].numpy().astype(np.int64)
        return out


def _sample_pixels(feats: torch.Tensor, n: int, rng: np.random.Generator) -> np.ndarray:
    flat = feats.reshape(-1, feats.shape[-1]).numpy()
    return flat[rng.choice(len(flat), size=min(n, len(flat)), replace=False)]


def fit_part_model(
    images: np.ndarray,
    k: int = 4,
    source: str | FeatureSource = "pixels",
    latents: np.ndarray | None = None,
    seed: int = 0,
    pixels_per_image: int = 256,
    max_images: int = 64,
    **source_kwargs: Any,
) -> PartModel:
    """Unsupervised parts: k-means (K clusters) over combined per-pixel features of a seeded image subsample."""
    from encoderscope.cluster import fit_clusters

    src = source if isinstance(source, FeatureSource) else FeatureSource(kind=source, **source_kwargs)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(images), size=min(max_images, len(images)), replace=False))
    chunks = []
    for start in range(0, len(pick), 8):
        idx = pick[start : start + 8]
        feats = src(images[idx], None if latents is None else latents[idx])
        chunks.extend(_sample_pixels(f, pixels_per_image, rng) for f in feats)
    sample = np.concatenate(chunks)
    clustering = fit_clusters(sample, k, method="kmeans", seed=seed, backend="sklearn")
    return PartModel(src, "kmeans", [f"part{i}" for i in range(clustering.k)], clustering=clustering,
                     config={"k": clustering.k, "source": src.describe(), "size": src.size, "seed": seed,
                             "n_fit_images": len(pick), "pixels_per_image": pixels_per_image})


def fit_mask_model(
    images: np.ndarray,
    masks: np.ndarray,
    part_names: Sequence[str] | None = None,
    source: str | FeatureSource = "pixels",
    latents: np.ndarray | None = None,
    seed: int = 0,
    pixels_per_image: int = 2048,
    **source_kwargs: Any,
) -> PartModel:
    """Few-shot parts: a logistic read-out from per-pixel features to the labels of a few masks ``(N, H, W)``."""
    from sklearn.linear_model import LogisticRegression

    if masks.shape != images.shape[:3]:
        raise ParameterError(f"masks {masks.shape} must match the images {images.shape[:3]}")
    src = source if isinstance(source, FeatureSource) else FeatureSource(kind=source, **source_kwargs)
    feats = src(images, latents)
    small = F.interpolate(torch.as_tensor(masks[:, None].astype(np.float32)), size=(src.size, src.size),
                          mode="nearest")[:, 0].long().numpy()
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for f, m in zip(feats, small, strict=True):
        idx = rng.choice(m.size, size=min(pixels_per_image, m.size), replace=False)
        xs.append(f.reshape(-1, f.shape[-1]).numpy()[idx])
        ys.append(m.reshape(-1)[idx])
    y = np.concatenate(ys)
    if len(np.unique(y)) < 2:
        raise ParameterError("the masks hold fewer than two part labels")
    readout = LogisticRegression(max_iter=500, random_state=seed).fit(np.concatenate(xs), y)
    n_parts = int(masks.max()) + 1
    names = list(part_names) if part_names else [f"part{i}" for i in range(n_parts)]
    return PartModel(src, "masks", names, readout=readout,
                     config={"source": src.describe(), "size": src.size, "seed": seed, "n_masks": len(masks)})
