"""``zoo:eyes-colour-cnn``: an eye-colour classifier for ``zoo:eyes-cdcgan``, trained here once and cached.

No eye-colour classifier installs from PyPI, so this entry is made from the eye generator itself, by a fixed,
seeded recipe (:data:`RECIPE`; the classifier of the linking study, docs/studies/linking.md):

1. Data: per colour, ``train_per_class`` eyes from the full prior (psi 1; latents seeded by
   ``batch_seed(1000 + seed, colour, 0)``) and ``test_per_class`` held-out eyes (``2000 + seed``), resized from
   128 to 32 px (bilinear, antialiased).
2. :class:`EyeNet`: four conv stages, global average pooling (``pool``, the 128-d feature layer) and a linear head
   ``fc``; initialised under ``torch.manual_seed(seed)`` (the global RNG is restored afterwards); inputs normalised
   with mean 0.5 and std 0.25.
3. Training: Adam (lr 2e-3), batches of 64, ``epochs`` epochs; the order and the horizontal flips come from a CPU
   generator seeded with ``seed``.

The weights are cached in ``cache_dir("zoo")`` as ``eyes-colour-cnn-<key>.safetensors`` (written atomically,
verified on every load, see :mod:`encoderscope.zoo.state_cache`). The key hashes the recipe, the SHA-256 of the
generator's weight file and a format number, so another recipe or generator trains another file. The held-out
accuracy is measured once and kept in the file's metadata (0.853 for the default recipe, chance 0.125). Training
took 220 s of CPU time on a shared 2-core machine (:data:`TRAINING_NOTE`); a cached load took 0.07 s.

Example:
    >>> enc = load_eye_classifier(random_init=True)
    >>> enc.feature_layer, enc.class_names[:2], enc.preprocess.size, enc.preprocess.interpolation
    ('pool', ('amber', 'blue'), 32, 'bilinear')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoderscope import devices
from encoderscope._io import cache_dir
from encoderscope._progress import console
from encoderscope.capture.layout import TokenLayout
from encoderscope.zoo.encoder import Encoder
from encoderscope.zoo.generators import (
    EYE_COLOURS,
    LatentGenerator,
    batch_seed,
    eyes_cdcgan_files,
    load_eyes_cdcgan,
)
from encoderscope.zoo.locate import remembered_sha256
from encoderscope.zoo.preprocess import Preprocess
from encoderscope.zoo.state_cache import cached_state

SPEC = "zoo:eyes-colour-cnn"
FEATURE_LAYER = "pool"
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
CACHE_FORMAT = "1"
TRAINING_NOTE = "about 4 CPU-minutes"


class EyeNet(nn.Module):
    """A small CNN for 32x32 eye images: four conv stages, global average pooling (``pool``, the 128-d feature
    layer) and a linear head ``fc``."""

    #: the output of each stage (after its pooling), shallow to deep
    STAGES = ("features.3", "features.7", "features.11", "features.14")

    def __init__(self, n_classes: int = 8, width: int = 128) -> None:
        super().__init__()

        def stage(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            return [*layers, nn.MaxPool2d(2)] if pool else layers

        self.features = nn.Sequential(*stage(3, 32, True), *stage(32, 64, True), *stage(64, width, True),
                                      *stage(width, width, False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.features(x))))


@dataclass(frozen=True)
class EyeRecipe:
    """How the eye-colour CNN is trained (see the module docstring)."""

    train_per_class: int = 250
    test_per_class: int = 40
    epochs: int = 8
    seed: int = 0
    size: int = 32
    batch_size: int = 64
    lr: float = 2e-3

    def key(self, generator_sha256: str) -> str:
        """16 hex digits naming the cache file of this recipe on the generator with these weights."""
        text = json.dumps({"format": CACHE_FORMAT, "recipe": dataclasses.asdict(self), "generator": generator_sha256},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


RECIPE = EyeRecipe()


def _seeded_net(seed: int) -> EyeNet:
    """A freshly initialised :class:`EyeNet` from ``torch.manual_seed(seed)``; the global RNG is restored."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return EyeNet(len(EYE_COLOURS))


def _frozen(net: EyeNet) -> EyeNet:
    net.eval()
    return net.requires_grad_(False)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 32, 32)`` images in [0, 1] -> the network's input (mean 0.5, std 0.25 per channel)."""
    mean = torch.tensor(MEAN, dtype=images.dtype, device=images.device)[:, None, None]
    std = torch.tensor(STD, dtype=images.dtype, device=images.device)[:, None, None]
    return (images - mean) / std


def eye_images(gen: LatentGenerator, per_class: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` generated eyes per colour at ``size`` px and their colour labels (on the generator's device)."""
    images, labels = [], []
    for cls in range(len(EYE_COLOURS)):
        latents = gen.sample(per_class, batch_seed(seed, cls, 0), truncation=None, cls=cls)
        images.append(F.interpolate(gen.synthesize(latents), size=size, mode="bilinear", antialias=True,
                                    align_corners=False))
        labels.append(torch.full((per_class,), cls, device=gen.device))
    return torch.cat(images), torch.cat(labels)


def train_eye_net(gen: LatentGenerator, recipe: EyeRecipe = RECIPE) -> EyeNet:
    """Train :class:`EyeNet` on generated eyes by ``recipe``, where the generator is (float32); frozen on return."""
    x_train, y_train = eye_images(gen, recipe.train_per_class, 1000 + recipe.seed, recipe.size)
    net = _seeded_net(recipe.seed).to(gen.device)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    order_rng = torch.Generator().manual_seed(recipe.seed)
    for _ in range(recipe.epochs):
        order = torch.randperm(len(x_train), generator=order_rng)
        for start in range(0, len(order), recipe.batch_size):
            idx = devices.to_device(order[start : start + recipe.batch_size], x_train.device)
            flip = devices.to_device(torch.rand(len(idx), generator=order_rng) < 0.5, x_train.device)
            batch = torch.where(flip[:, None, None, None], x_train[idx].flip(-1), x_train[idx])
            opt.zero_grad()
            loss = F.cross_entropy(net(normalise(batch)), y_train[idx])
            loss.backward()
            opt.step()
    return _frozen(net)


def held_out_accuracy(
    gen: LatentGenerator, logits_of: Callable[[torch.Tensor], np.ndarray], recipe: EyeRecipe = RECIPE
) -> float:
    """Accuracy of ``logits_of(images in [0, 1]) -> (N, 8) logits`` on the recipe's held-out eyes."""
    x_test, y_test = eye_images(gen, recipe.test_per_class, 2000 + recipe.seed, recipe.size)
    return float((logits_of(x_test).argmax(1) == y_test.cpu().numpy()).mean())


def _logits(net: EyeNet, batch_size: int = 32) -> Callable[[torch.Tensor], np.ndarray]:
    def logits_of(images: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            parts = [net(normalise(images[i : i + batch_size])).float().cpu().numpy()
                     for i in range(0, len(images), batch_size)]
        return np.concatenate(parts)

    return logits_of


def _train_and_measure(recipe: EyeRecipe) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    console().print(f"{SPEC}: training once on generated eyes ({TRAINING_NOTE}); later loads read the cache",
                    highlight=False, soft_wrap=True)
    gen = load_eyes_cdcgan().to("cpu")
    net = train_eye_net(gen, recipe)
    accuracy = held_out_accuracy(gen, _logits(net), recipe)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, {"test_accuracy": f"{accuracy:.4f}"}


def cached_eye_net(recipe: EyeRecipe = RECIPE) -> tuple[EyeNet, dict[str, str]]:
    """The trained network (from the cache, else trained and cached) and its cache metadata (``test_accuracy``,
    ``key``, ``recipe``, ``generator_sha256``)."""
    generator_sha256 = remembered_sha256(eyes_cdcgan_files()[1])
    key = recipe.key(generator_sha256)
    identity = {"format": CACHE_FORMAT, "key": key, "recipe": json.dumps(dataclasses.asdict(recipe), sort_keys=True),
                "generator_sha256": generator_sha256}
    net = EyeNet(len(EYE_COLOURS))
    expected = {k: v.shape for k, v in net.state_dict().items()}
    state, metadata = cached_state(cache_dir("zoo") / f"eyes-colour-cnn-{key}.safetensors", identity, expected,
                                   lambda: _train_and_measure(recipe), SPEC)
    net.load_state_dict(state, strict=True)
    return _frozen(net), metadata


def load_eye_classifier(random_init: bool = False, seed: int = 0) -> Encoder:
    """``zoo:eyes-colour-cnn`` as an :class:`~encoderscope.zoo.Encoder` (the zoo entry's builder).

    ``random_init``: the same architecture, untrained (initialised from ``seed``; no generator weights needed).
    """
    if random_init:
        net = _frozen(_seeded_net(seed))
        weights, fingerprint = "random-init", f"random-init-eyenet-seed{seed}"
    else:
        net, metadata = cached_eye_net()
        weights = (f"EyeNet trained here on zoo:eyes-cdcgan eyes (recipe {metadata['key']}, held-out accuracy "
                   f"{metadata['test_accuracy']})")
        fingerprint = metadata["key"]
    return Encoder(
        module=net,
        preprocess=Preprocess(mean=MEAN, std=STD, size=RECIPE.size, crop_pct=1.0, interpolation="bilinear"),
        layout=TokenLayout(),
        spec=SPEC,
        architecture="eyenet",
        weights=weights,
        fingerprint=fingerprint,
        depth_layers=list(EyeNet.STAGES),
        classifier=net,
        class_names=EYE_COLOURS,
        feature_layer=FEATURE_LAYER,
    )
