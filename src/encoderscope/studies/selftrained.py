"""Same architecture, three supervision levels: a small ResNet trained here on the scenes benchmark.

The ``supervision`` study compares encoders whose architecture and supervision change together. This module holds
everything but the training objective fixed: one narrow ResNet-10 (:mod:`encoderscope.lwta.models`, ``U=1``,
channels 16-32-64-128), one seed, the same training scenes and the same number of optimiser steps, trained three
ways:

* ``none``: the random initialisation, no training;
* ``supervised``: multi-label classification of which object classes are present in a scene (binary
  cross-entropy over every class name seen in the training scenes, the network's own linear head);
* ``self-supervised``: SimCLR-style contrastive learning (two augmented views per image: random resized crop,
  horizontal flip, colour jitter; NT-Xent loss with temperature 0.2 on a 2-layer projection head that is dropped
  afterwards).

The training scenes come from :mod:`encoderscope.data.scenes` with a seed disjoint from the evaluation scenes'
(squashed to a ``train_size`` square so that no object is cropped out of its label). NAVE maps per depth
(``layer1`` ... ``layer4`` alone and one multi-depth set) on the evaluation scenes are scored with the supervision
study's functions (CorLoc and Hungarian mask mIoU, :func:`encoderscope.studies._common.localisation`).

Example:
    >>> result = run_selftrained(SelfTrainedConfig.quick())  # doctest: +SKIP
    >>> sorted(result.scores)  # doctest: +SKIP
    ['none', 'self-supervised', 'supervised']
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoderscope import devices
from encoderscope._io import write_csv
from encoderscope._progress import progress_bar
from encoderscope.errors import ParameterError
from encoderscope.lwta.models import ModelConfig, build_model, encoder_for
from encoderscope.lwta.train import cosine_factor
from encoderscope.report.figures import new_figure
from encoderscope.studies._common import StudySettings, StudySummary, layer_label, localisation, nave_runs, scenes
from encoderscope.studies.training import to_tensors
from encoderscope.zoo.encoder import Encoder

LEVELS = ("none", "supervised", "self-supervised")
"""The three supervision levels, in table order."""
RGB_MEAN, RGB_STD = 0.45, 0.25
"""Grey-level normalisation shared by the three channels (``ModelConfig`` takes one mean and one std)."""


@dataclass
class SelfTrainedConfig(StudySettings):
    """Settings; the default trains and evaluates in about 5 minutes on 2 cores, :meth:`quick` in seconds.

    ``train_seed`` draws the training scenes (disjoint from the evaluation scenes of ``eval_seed``); ``seed`` seeds
    the initialisation, the data order and the augmentations of every level alike.
    """

    n_train: int = 1600
    train_size: int = 64
    steps: int = 200
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 20
    temperature: float = 0.2
    projection_dim: int = 64
    crop_scale: tuple[float, float] = (0.2, 1.0)
    jitter: float = 0.4
    jitter_p: float = 0.8
    n_eval: int = 24
    eval_size: int = 128
    ks: tuple[int, ...] = tuple(range(3, 11))
    single: tuple[str, ...] = ("layer1", "layer2", "layer3", "layer4")
    sets: tuple[tuple[str, ...], ...] = (("layer2", "layer3", "layer4"),)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    train_seed: int = 1000
    eval_seed: int = 0
    progress: bool = True

    @classmethod
    def quick(cls) -> SelfTrainedConfig:
        """24 training scenes at 32 px, 3 steps of 8, 2 evaluation scenes at 64 px, K in {3, 4}, two depths."""
        return cls(n_train=24, train_size=32, steps=3, batch_size=8, warmup=1, n_eval=2, eval_size=64, ks=(3, 4),
                   single=("layer3", "layer4"), sets=(("layer3", "layer4"),), progress=False)

    def check(self) -> None:
        """Raise ``ParameterError`` for impossible settings."""
        if self.n_train < 2 or self.batch_size < 2 or self.steps < 1:
            raise ParameterError("need n_train >= 2, batch_size >= 2 and steps >= 1")
        if self.train_seed == self.eval_seed:
            raise ParameterError("train_seed must differ from eval_seed (training and evaluation scenes overlap)")
        if self.train_size % 8 or self.train_size < 16:
            raise ParameterError(f"train_size must be a multiple of 8 and at least 16, got {self.train_size}")
        if not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ParameterError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")
        if self.temperature <= 0:
            raise ParameterError(f"the temperature must be positive, got {self.temperature}")


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR's NT-Xent loss of ``N`` positive pairs ``(z1[i], z2[i])``, averaged over the ``2N`` anchors.

    Each anchor's positive is its other view; the other ``2N - 2`` embeddings are its negatives; similarities are
    cosines divided by ``temperature``.

    Example:
        >>> e = torch.eye(2)
        >>> round(float(nt_xent(e, e, 0.2)), 6) == round(float(np.log(1 + 2 * np.exp(-5))), 6)
        True
    """
    if z1.shape != z2.shape or z1.ndim != 2 or len(z1) < 2:
        raise ParameterError(f"need two (N >= 2, D) embeddings of the same shape, got {tuple(z1.shape)}, "
                             f"{tuple(z2.shape)}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def class_names(scene_list: list[Any]) -> list[str]:
    """Sorted class names of every object in ``scene_list`` (the supervised head's outputs).

    Example:
        >>> from encoderscope.data.scenes import generate_scenes
        >>> names = class_names(list(generate_scenes(4, seed=1)))
        >>> names == sorted(set(names))
        True
    """
    return sorted({obj.name for scene in scene_list for obj in scene.objects})


def multilabel_targets(scene_list: list[Any], names: list[str]) -> torch.Tensor:
    """``(N, len(names))`` float 0/1 targets: 1 where the class is present in the scene (any number of times).

    Example:
        >>> from types import SimpleNamespace as S
        >>> scene = S(objects=[S(name="horse"), S(name="face"), S(name="horse")])
        >>> multilabel_targets([scene], ["bag", "face", "horse"]).tolist()
        [[0.0, 1.0, 1.0]]
    """
    index = {name: i for i, name in enumerate(names)}
    out = torch.zeros(len(scene_list), len(names))
    for row, scene in enumerate(scene_list):
        for obj in scene.objects:
            if obj.name not in index:
                raise ParameterError(f"class {obj.name!r} is not among the {len(names)} head classes")
            out[row, index[obj.name]] = 1.0
    return out


def model_config(cfg: SelfTrainedConfig, names: list[str]) -> ModelConfig:
    """The ResNet-10 of every level (the head has one output per class; only the supervised level uses it)."""
    return ModelConfig(arch="resnet", U=1, channels=tuple(cfg.channels), img_size=cfg.train_size,
                       num_classes=len(names), class_names=list(names), seed=cfg.seed, mean=RGB_MEAN, std=RGB_STD)


def train_pixels(scene_list: list[Any], size: int) -> np.ndarray:
    """uint8 ``(N, size, size, 3)`` training images: whole scenes squashed to a square (bilinear)."""
    from PIL import Image

    return np.stack([np.asarray(s.image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                     for s in scene_list])


def augment(pixels: torch.Tensor, cfg: SelfTrainedConfig, generator: torch.Generator) -> torch.Tensor:
    """One SimCLR view of ``(B, 3, S, S)`` pixels in [0, 1]: random resized crop, flip, colour jitter (seeded).

    Crop area in ``cfg.crop_scale`` of the image, aspect ratio in [3/4, 4/3] (log-uniform), resized back to ``S``;
    horizontal flip with p = 0.5; with p = ``cfg.jitter_p``, brightness, contrast and saturation factors drawn in
    ``[1 - jitter, 1 + jitter]`` (in that order; no hue jitter).
    """
    from torchvision.ops import roi_align

    b, _, size, _ = pixels.shape
    rand = torch.rand(b, 9, generator=generator)
    area = cfg.crop_scale[0] + (cfg.crop_scale[1] - cfg.crop_scale[0]) * rand[:, 0]
    ratio = torch.exp(np.log(3 / 4) + (np.log(4 / 3) - np.log(3 / 4)) * rand[:, 1])
    w = (size * torch.sqrt(area * ratio)).clamp(max=size)
    h = (size * torch.sqrt(area / ratio)).clamp(max=size)
    x0 = (size - w) * rand[:, 2]
    y0 = (size - h) * rand[:, 3]
    boxes = torch.stack([torch.arange(b, dtype=torch.float32), x0, y0, x0 + w, y0 + h], dim=1)
    out = roi_align(pixels, boxes, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    flip = rand[:, 4] < 0.5
    out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    apply = (rand[:, 5] < cfg.jitter_p).float()[:, None, None, None]
    factors = [1 + cfg.jitter * (2 * rand[:, i] - 1) for i in (6, 7, 8)]
    bright = 1 + apply * (factors[0][:, None, None, None] - 1)
    contrast = 1 + apply * (factors[1][:, None, None, None] - 1)
    saturation = 1 + apply * (factors[2][:, None, None, None] - 1)
    out = (out * bright).clamp(0, 1)
    grey_mean = (0.299 * out[:, 0] + 0.587 * out[:, 1] + 0.114 * out[:, 2])[:, None].mean(dim=(2, 3), keepdim=True)
    out = ((out - grey_mean) * contrast + grey_mean).clamp(0, 1)
    grey = (0.299 * out[:, 0] + 0.587 * out[:, 1] + 0.114 * out[:, 2])[:, None]
    return ((out - grey) * saturation + grey).clamp(0, 1)


def _features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model.forward_head(model.forward_features(x), pre_logits=True)  # type: ignore[operator]


def train_level(level: str, cfg: SelfTrainedConfig, pixels: np.ndarray, targets: torch.Tensor,
                config: ModelConfig) -> tuple[nn.Module, list[float]]:
    """The network of one level and its per-step training losses (``none``: the initialisation, no losses).

    Training runs on ``cfg.device`` (``autocast``: mixed precision); batches and augmentations are drawn on the CPU
    with seeded generators and moved there, so every device sees the same data.
    """
    if level not in LEVELS:
        raise ParameterError(f"unknown supervision level {level!r}; use one of {', '.join(LEVELS)}")
    device = devices.resolve_device(cfg.device)
    model = build_model(config).to(device)
    if level == "none":
        return model.eval(), []
    params = list(model.parameters())
    if level == "self-supervised":
        torch.manual_seed(cfg.seed)
        width = int(cfg.channels[-1])
        projector = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, cfg.projection_dim))
        params += list(projector.to(device).parameters())
    scaler = devices.grad_scaler(device, cfg.autocast)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_factor(s, cfg.steps, cfg.warmup))
    unit = torch.from_numpy(pixels).float().permute(0, 3, 1, 2) / 255.0
    normalised = to_tensors(pixels, config)
    order_gen = torch.Generator().manual_seed(cfg.seed)
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    order = torch.randperm(len(pixels), generator=order_gen)
    cursor, losses = 0, []
    model.train()
    with progress_bar(f"training ({level})", total=cfg.steps, enabled=cfg.progress) as step:
        for _ in range(cfg.steps):
            if cursor + cfg.batch_size > len(order):
                order, cursor = torch.randperm(len(pixels), generator=order_gen), 0
            idx = order[cursor : cursor + min(cfg.batch_size, len(order))]
            cursor += len(idx)
            if level == "supervised":
                flip = torch.rand(len(idx), generator=aug_gen) < 0.5
                x = torch.where(flip[:, None, None, None], normalised[idx].flip(-1), normalised[idx])
                with devices.autocast(device, cfg.autocast):
                    logits = model(devices.to_device(x, device)).float()
                    loss = F.binary_cross_entropy_with_logits(logits, devices.to_device(targets[idx], device))
            else:
                views = [(augment(unit[idx], cfg, aug_gen) - RGB_MEAN) / RGB_STD for _ in range(2)]
                with devices.autocast(device, cfg.autocast):
                    z = projector(_features(model, devices.to_device(torch.cat(views), device))).float()
                    loss = nt_xent(z[: len(idx)], z[len(idx) :], cfg.temperature)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            losses.append(float(loss.detach()))
            step(1)
    return model.eval(), losses


def level_encoder(model: nn.Module, config: ModelConfig, level: str, eval_size: int) -> Encoder:
    """The trained network as an Encoder that resizes the shorter side of evaluation images to ``eval_size``."""
    encoder = encoder_for(model, config, spec=f"selftrained:resnet10-{level}")
    preprocess = dataclasses.replace(encoder.preprocess, size=eval_size, fixed_size=False)
    return dataclasses.replace(encoder, preprocess=preprocess)


@dataclass
class SelfTrainedResult:
    """Scores ``{level: {layer label: {K: {"corloc", "miou"}}}}``, training losses per level, classes and timings."""

    config: SelfTrainedConfig
    scores: dict[str, dict[str, dict[int, dict[str, float]]]]
    losses: dict[str, list[float]]
    classes: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[list[Any]]:
        """``[level, layer label, K, CorLoc, mIoU]`` rows of every score."""
        return [[level, label, k, v["corloc"], v["miou"]] for level, by_label in self.scores.items()
                for label, by_k in by_label.items() for k, v in by_k.items()]

    def save(self, out_dir: str | Path) -> Path:
        """Write ``summary.md``, ``run.json``, ``numbers.json``, ``scores.csv`` and ``losses.png`` into
        ``out_dir``."""
        summary = StudySummary(Path(out_dir), "selftrained", False, config=dataclasses.asdict(self.config),
                               seed=self.config.seed, timings=dict(self.timings))
        summary.numbers.update(scores=self.scores, losses=self.losses, classes=self.classes)
        header = ["level", "layers", "k", "corloc", "miou"]
        write_csv(summary.out_dir / "scores.csv", header, self.rows(), float_format=None)
        summary.table("CorLoc and mIoU (%) per level, layer set and K", header, self.rows())
        fig, axes = new_figure(1, 2, figsize=(8, 2.8))
        for ax, level in zip(axes, ("supervised", "self-supervised"), strict=True):
            ax.plot(self.losses.get(level, []), lw=0.8)
            ax.set_title(f"{level} training loss", fontsize=9)
            ax.set_xlabel("step")
        summary.figure(fig, "losses.png", "Training loss per step.", dpi=80)
        return summary.finish(seconds=sum(self.timings.values()))


def run_selftrained(cfg: SelfTrainedConfig | None = None, eval_scenes: list[Any] | None = None) -> SelfTrainedResult:
    """Train the three levels and score their NAVE maps on the evaluation scenes (``cfg.n_eval`` of ``eval_seed``
    unless ``eval_scenes`` is given)."""
    cfg = cfg or SelfTrainedConfig()
    cfg.check()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    train_scenes = scenes(cfg.n_train, cfg.train_seed)
    names = class_names(train_scenes)
    pixels = train_pixels(train_scenes, cfg.train_size)
    targets = multilabel_targets(train_scenes, names)
    scene_list = eval_scenes if eval_scenes is not None else scenes(cfg.n_eval, cfg.eval_seed)
    timings["scenes"] = round(time.perf_counter() - start, 2)
    config = model_config(cfg, names)
    layer_sets = [[name] for name in cfg.single] + [list(s) for s in cfg.sets]
    scores: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    losses: dict[str, list[float]] = {}
    for level in LEVELS:
        start = time.perf_counter()
        model, losses[level] = train_level(level, cfg, pixels, targets, config)
        timings[f"train {level}"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        encoder = level_encoder(model, config, level, cfg.eval_size)
        runs = nave_runs(encoder, [s.image for s in scene_list], layer_sets, cfg.ks, seed=cfg.seed,
                         autocast=cfg.autocast)
        scores[level] = {layer_label(layers): {k: localisation(runs[(s, k)], scene_list) for k in cfg.ks}
                         for s, layers in enumerate(layer_sets)}
        timings[f"nave {level}"] = round(time.perf_counter() - start, 2)
    return SelfTrainedResult(cfg, scores, losses, names, timings)


def display_name(level: str) -> str:
    """Row name of a level in the supervision study's tables.

    Example:
        >>> display_name("none")
        'self-trained resnet-10 (random init)'
    """
    return f"self-trained resnet-10 ({'random init' if level == 'none' else level})"


__all__ = [
    "LEVELS",
    "SelfTrainedConfig",
    "SelfTrainedResult",
    "augment",
    "class_names",
    "display_name",
    "multilabel_targets",
    "nt_xent",
    "run_selftrained",
    "train_level",
]
