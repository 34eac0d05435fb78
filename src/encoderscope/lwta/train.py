"""A CPU-feasible training and evaluation recipe for small LWTA networks on Fashion-MNIST (docs/methods/lwta.md).

The recipe follows the spirit of the released code at a small scale: AdamW (ViT, weight decay 0.02 as the DeiT
code) or SGD with momentum 0.9 (ResNet, weight decay 1e-4), a cosine schedule with linear warm-up, label smoothing
0.1, seeded initialisation, data order and LWTA noise. Evaluation averages the logits of ``S`` stochastic passes
(6 for ViTs, 3 for CNNs, as the released code), and also reports the deterministic (argmax) pass and the measured
fraction of non-zero outputs of every LWTA layer (1/U by construction).

Training and evaluation run on ``TrainConfig.device`` (default: ``cuda`` when available, else ``cpu``) and, with
``autocast=True``, in mixed precision (:func:`~encoderscope.devices.autocast_dtype`; float16 gets a gradient scaler).
Batches move to the device one at a time. On the CPU the LWTA noise keeps the seeded CPU stream; on a GPU it is
drawn from a generator on the GPU seeded the same way (another random stream: same seed, same device, same result).

Example:
    >>> from encoderscope.lwta.models import ModelConfig
    >>> cfg = TrainConfig(model=ModelConfig(arch="vit", U=2, embed_dim=16, depth=1, num_heads=2),
    ...                   train_limit=64, test_limit=32, batch_size=32)
    >>> result = train(cfg, progress=False)  # doctest: +SKIP
    >>> 0.0 <= result.evaluation.accuracy <= 1.0  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from encoderscope import devices
from encoderscope._io import read_csv, read_json, write_csv, write_json
from encoderscope._progress import progress_bar
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.lwta.config import LwtaTrainConfig
from encoderscope.lwta.convert import lwta_layers, set_deterministic, set_generator
from encoderscope.lwta.layer import kl_loss
from encoderscope.lwta.models import ModelConfig, build_model, load_checkpoint, preprocess_for, save_checkpoint
from encoderscope.lwta.sparsity import SparsityMeter
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call


@dataclass
class TrainConfig:
    """Training recipe; ``lr=None`` picks 1e-3 (AdamW) or 0.2 (SGD; see docs/discover.md).

    ``device``: where to train (``None``: ``cuda`` when available, else ``cpu``); ``autocast``: mixed precision.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 2
    batch_size: int = 128
    optimizer: str = "auto"  # "adamw", "sgd", or "auto" (AdamW for ViTs, SGD for ResNets)
    lr: float | None = None
    weight_decay: float | None = None
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.05
    train_limit: int | None = 12000
    test_limit: int | None = 2000
    seed: int = 0
    device: str | None = None
    autocast: bool = False

    def resolved_optimizer(self) -> str:
        """The optimizer name after resolving ``auto``."""
        if self.optimizer == "auto":
            return "adamw" if self.model.arch == "vit" else "sgd"
        if self.optimizer not in ("adamw", "sgd"):
            raise ParameterError(f"unknown optimizer {self.optimizer!r}; use adamw, sgd or auto")
        return self.optimizer

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The configuration from ``dataclasses.asdict`` output (as run.json holds it)."""
        model = dict(data["model"])
        model["channels"] = tuple(model["channels"])
        return cls(**{**data, "model": ModelConfig(**model)})


def train_config(config: LwtaTrainConfig, device: str | None = None) -> TrainConfig:
    """The :class:`TrainConfig` of the command-line configuration (``device``: where to train).

    Example:
        >>> cfg = train_config(LwtaTrainConfig(arch="resnet", U=2, train_limit=0))
        >>> cfg.model.U, cfg.train_limit, cfg.resolved_optimizer()
        (2, None, 'sgd')
    """
    return TrainConfig(
        model=ModelConfig(arch=config.arch, U=config.U, kl_weight=config.kl_weight, seed=config.seed),  # type: ignore[arg-type]
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        lr=config.lr,
        train_limit=config.train_limit or None,
        test_limit=config.test_limit or None,
        seed=config.seed,
        device=device,
        autocast=config.autocast,
    )


def fashion_tensors(
    split: str, config: ModelConfig, limit: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST ``split`` as normalised ``(N, 3, 32, 32)`` tensors and labels (a seeded subset if limited)."""
    from encoderscope.data.zoo_images import fashion_mnist

    images, labels = fashion_mnist(split)
    order = np.arange(len(labels))
    if limit is not None and limit < len(labels):
        order = np.sort(np.random.default_rng(seed).choice(len(labels), size=limit, replace=False))
    pre = preprocess_for(config)
    pixels = torch.stack([pre.dense(Image.fromarray(images[i]).convert("RGB")).tensor for i in order])
    return pixels, torch.as_tensor(labels[order].copy())


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    name = config.resolved_optimizer()
    if name == "adamw":
        lr = config.lr or 1e-3
        wd = 0.02 if config.weight_decay is None else config.weight_decay
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd, eps=1e-8)
    lr = config.lr or 0.2
    wd = 1e-4 if config.weight_decay is None else config.weight_decay
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)


def cosine_factor(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then cosine decay to 0."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class Evaluation:
    """Accuracy over ``passes`` averaged stochastic passes, of one pass, of the deterministic pass, and sparsity."""

    accuracy: float
    accuracy_single: float
    accuracy_deterministic: float
    passes: int
    n_images: int
    active_fraction: dict[str, float]
    expected_fraction: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        """Plain-JSON form."""
        return dataclasses.asdict(self)


def _logits(model: nn.Module, pixels: torch.Tensor, batch_size: int, autocast: bool) -> torch.Tensor:
    """Float32 logits on the CPU of every image, batch by batch on the model's device."""
    device = devices.module_device(model)
    parts = []
    for i in range(0, len(pixels), batch_size):
        with devices.autocast(device, autocast):
            parts.append(model(devices.to_device(pixels[i : i + batch_size], device)).float().cpu())
    return torch.cat(parts)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    passes: int,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = True,
    autocast: bool = False,
) -> Evaluation:
    """Average the logits of ``passes`` stochastic passes (eval mode, τ_test); also the deterministic pass.

    Runs where ``model`` is (the LWTA noise from a generator there, seeded by ``seed``); ``autocast``: mixed
    precision.
    """
    if passes < 1:
        raise ParameterError(f"evaluation needs at least one pass, got {passes}")
    model.eval()
    set_generator(model, devices.seeded_generator(seed, devices.module_device(model)))
    total = first = torch.zeros(())
    with SparsityMeter(model) as meter, progress_bar("evaluating", total=passes + 1, enabled=progress) as step:
        for index in range(passes):
            logits = _logits(model, pixels, batch_size, autocast)
            total = total + logits
            if index == 0:
                first = logits
            step(1)
    set_deterministic(model, True)
    try:
        det = _logits(model, pixels, batch_size, autocast)
    finally:
        set_deterministic(model, False)
    step(1)

    def acc(logits: torch.Tensor) -> float:
        return float((logits.argmax(1) == labels).double().mean())

    return Evaluation(
        accuracy=acc(total / passes),
        accuracy_single=acc(first),
        accuracy_deterministic=acc(det),
        passes=passes,
        n_images=len(labels),
        active_fraction=meter.active_fraction(),
        expected_fraction=meter.expected(),
    )


@dataclass
class TrainResult(Recorded):
    """A trained network, its losses per step, its evaluation and the configuration."""

    config: TrainConfig
    model: nn.Module = field(repr=False)
    losses: list[float] = field(repr=False)
    evaluation: Evaluation
    seconds: float

    def __repr__(self) -> str:
        ev = self.evaluation
        return (f"TrainResult({self.config.model.arch} U={self.config.model.U}: accuracy {ev.accuracy:.4f} "
                f"({ev.passes} passes, {ev.n_images} test images), {len(self.losses)} steps)")

    def run_record(self) -> RunRecord:
        """The run record (``details``: the full training configuration, the optimizer and the device)."""
        run = self.run or RunRecord.create("lwta-train", dataclasses.asdict(self.config), seed=self.config.seed)
        details = {
            "train_config": dataclasses.asdict(self.config),
            "optimizer": self.config.resolved_optimizer(),
            "device": devices.describe(devices.resolve_device(self.config.device)),
        }
        return run.replace(details=details)

    def save(self, folder: str | Path) -> Path:
        """Checkpoint (``model.pt``, ``config.json``), ``metrics.json``, ``sparsity.csv``, ``losses.csv``,
        ``loss.png``, run.json."""
        from encoderscope.report.encoding import save_png

        folder = Path(folder)
        save_checkpoint(self.model, self.config.model, folder)
        write_json(folder / "metrics.json", {**self.evaluation.as_dict(), "train_seconds": self.seconds})
        ev = self.evaluation
        write_csv(folder / "sparsity.csv", ["layer", "active_fraction", "expected_1_over_U"],
                  [[name, value, ev.expected_fraction[name]] for name, value in ev.active_fraction.items()],
                  float_format=".6f")
        write_csv(folder / "losses.csv", ["step", "loss"], enumerate(self.losses), float_format=None)
        save_png(folder / "loss.png", self.figure())
        self.run_record().write(folder)  # last: a folder with a run.json is complete
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TrainResult:
        """A run written by :meth:`save`: the network (``weights_only=True``), losses, evaluation, configuration."""
        path = Path(folder)
        run = RunRecord.read(path, "lwta-train", "an LWTA training run")
        model, _ = load_checkpoint(path)
        metrics = read_json(path / "metrics.json")
        seconds = metrics.pop("train_seconds")
        losses = [float(row["loss"]) for row in read_csv(path / "losses.csv")]
        config = TrainConfig.from_dict(run.details["train_config"])
        return cls(config, model, losses, Evaluation(**metrics), seconds, run=run)

    figure = drawn_by("encoderscope.report.summaries:loss_figure", "A matplotlib figure: the training loss per step.")
    _repr_html_ = drawn_by("encoderscope.report.summaries:train_html", "The notebook view (HTML).")


def train(
    config: TrainConfig | LwtaTrainConfig,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    passes: int | None = None,
    progress: bool = True,
    device: str | None = None,
) -> TrainResult:
    """Train one network and evaluate it (see the module docstring).

    Args:
        config: the recipe: a :class:`TrainConfig`, or the command line's
            :class:`~encoderscope.lwta.config.LwtaTrainConfig` (then ``device`` says where to train).
        data: ``(train_x, train_y, test_x, test_y)``; default: Fashion-MNIST train/t10k subsets of the config.
        passes: stochastic passes at evaluation (default: the config's, else 6 for ViTs, 3 for ResNets).
        progress: show progress bars.
    """
    from encoderscope.data.zoo_images import FASHION_MNIST_CLASSES

    typed = config if isinstance(config, LwtaTrainConfig) else None
    if typed is not None:
        config = train_config(typed, device)
        passes = passes or typed.passes
    watch = Stopwatch()

    device = devices.resolve_device(config.device)
    scaler = devices.grad_scaler(device, config.autocast)  # an autocast the device lacks fails here, before any work
    if config.epochs < 1 or config.batch_size < 1:
        raise ParameterError("epochs and batch_size must be at least 1")
    if not config.model.class_names:
        config.model.class_names = list(FASHION_MNIST_CLASSES)
    if data is None:
        train_x, train_y = fashion_tensors("train", config.model, config.train_limit, config.seed)
        test_x, test_y = fashion_tensors("t10k", config.model, config.test_limit, config.seed)
    else:
        train_x, train_y, test_x, test_y = data
    model = build_model(config.model).to(device)
    if not lwta_layers(model):
        raise ParameterError("the model has no LWTA layers")
    if device.type != "cpu":  # the CPU keeps convert's seeded CPU stream (same numbers as before)
        set_generator(model, devices.seeded_generator(config.model.seed, device))
    optimizer = _optimizer(model, config)
    steps_per_epoch = math.ceil(len(train_y) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = int(config.warmup_fraction * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_factor(s, total, warmup))
    order_gen = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    watch.lap("data")
    model.train()
    with progress_bar(f"training {config.model.arch} U={config.model.U}", total=total, enabled=progress) as step:
        for _epoch in range(config.epochs):
            order = torch.randperm(len(train_y), generator=order_gen)
            for i in range(0, len(order), config.batch_size):
                batch = order[i : i + config.batch_size]
                x, y = devices.to_device(train_x[batch], device), devices.to_device(train_y[batch], device)
                with devices.autocast(device, config.autocast):
                    logits = model(x)
                    loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
                    loss = loss + kl_loss(model)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                schedule.step()
                losses.append(loss.item())
                step(1)
    watch.lap("training")
    seconds = watch.stages["training"]
    evaluation = evaluate(
        model, test_x, test_y, passes or config.model.default_passes, seed=config.seed, progress=progress,
        autocast=config.autocast,
    )
    watch.lap("evaluation")
    recorded: Any = typed if typed is not None else dataclasses.asdict(config)
    run = RunRecord.create("lwta-train", recorded, command=python_call("encoderscope.lwta.train.train", recorded),
                           seed=config.seed, seconds=watch.seconds(), stages=watch.stages)
    return TrainResult(config=config, model=model.eval(), losses=losses, evaluation=evaluation, seconds=seconds,
                       run=run)
