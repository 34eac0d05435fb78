"""Configurations of the Linking in Style steps (``encoderscope link pairs|fit|tune|quantify|counterfactual``),
checked in one place. Generators and classifiers are specs; a step after ``pairs`` finds them in the record of the
step before when they are not given.

Example:
    >>> LinkPairsConfig(generator="synthetic:linear", classifier="synthetic:linear", class_map="0:1,1:2").class_map
    {0: 1, 1: 2}
    >>> LinkPairsConfig(truncation=1.0).truncation is None  # psi = 1 is no truncation
    True
    >>> LinkFitConfig(method="lasso")
    Traceback (most recent call last):
    ...
    encoderscope.errors.ParameterError: unknown method 'lasso'; choose one of ols, ridge, ridge-cv, elasticnet, mlp
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from encoderscope.configs import HELP_AUTOCAST, HELP_RANDOM_INIT, HELP_SEED, Config, option
from encoderscope.errors import ParameterError
from encoderscope.linking.metrics import MIN_AREA
from encoderscope.linking.parts import SOURCES

FIT_METHODS = ("ols", "ridge", "ridge-cv", "elasticnet", "mlp")
"""The linking network's methods (:mod:`encoderscope.linking.network`)."""
PART_METHODS = ("kmeans", "masks")

LR = 0.5
"""Counterfactual step size (the paper's)."""
LAMBDA_ORIGIN = 0.6
"""Weight of the origin logit in the counterfactual loss."""
LAMBDA_COS = 10.0
"""Weight of the latent cosine term in the counterfactual loss."""
MAX_STEPS = 2000
"""Counterfactual steps before giving up."""

HELP_GENERATOR = (
    "zoo:eyes-cdcgan, zoo:dcgan-faces, synthetic:linear or stylegan:PATH.pkl (default: the one recorded by the "
    "previous step)."
)
HELP_CLASSIFIER = (
    "Model spec (zoo:efficientnet-lite0, timm:..., synthetic:linear); default: the one recorded by the previous step."
)
HELP_FEATURE_LAYER = "Feature layer (default: the penultimate layer)."


def _positive(config: Config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ParameterError(f"{name} must be at least 1, got {value}")


def _class_map(value: Any) -> dict[int, int] | None:
    """``"0:151,1:254"`` or a mapping (JSON keys are strings) -> ``{0: 151, 1: 254}``."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            pairs = [item.split(":") for item in value.split(",") if item.strip()]
            return {int(a): int(b) for a, b in pairs}
        return {int(a): int(b) for a, b in dict(value).items()}
    except (ValueError, TypeError):
        raise ParameterError(f"class_map {value!r} is not like '0:151,1:254'") from None


@dataclass(frozen=True)
class LinkPairsConfig(Config):
    """Step 1: sample latents, synthesise, classify, keep (latent, features) pairs (docs/methods/linking.md)."""

    generator: str | None = option(None, flags=("--generator", "-g"), help=HELP_GENERATOR)
    classifier: str | None = option(None, flags=("--classifier", "-c"), help=HELP_CLASSIFIER)
    n_per_class: int = option(5000, flags=("--n",), help="Pairs per class (in total for unconditional generators).")
    truncation: float | None = option(0.7, help="Class-centred truncation psi (1 = none).")
    classes: tuple[int | str, ...] | None = option(
        None, sep=",", help="Comma list of generator classes (default: all)."
    )
    class_map: dict[int, int] | None = option(None, help="Generator->classifier classes, e.g. '0:151,1:254'.")
    filter_correct: bool | None = option(
        None, flags=("--filter/--no-filter",), help="Keep only correctly classified samples (default: when the "
        "classes are shared).",
    )
    feature_layer: str | None = option(None, help=HELP_FEATURE_LAYER)
    batch_size: int = option(32, help="Images per batch.")
    max_tries_factor: int = option(20, help="Give up on a class after this many times n_per_class candidates.")
    seed: int = option(0, help=HELP_SEED)
    random_init: bool = option(False, help=HELP_RANDOM_INIT)
    autocast: bool = option(False, help=HELP_AUTOCAST)

    def check(self) -> None:
        _positive(self, "n_per_class", "batch_size", "max_tries_factor")
        if self.truncation is not None:
            if self.truncation <= 0:
                raise ParameterError(f"truncation must be in (0, 1], got {self.truncation}")
            if self.truncation >= 1.0:
                self._set("truncation", None)
        if self.classes is not None:
            self._set("classes", tuple(int(c) if isinstance(c, str) and c.isdigit() else c for c in self.classes))
        self._set("class_map", _class_map(self.class_map))


@dataclass(frozen=True)
class LinkFitConfig(Config):
    """Step 2: fit the linking network features -> latent and score it on held-out pairs."""

    pairs: str | None = option(None, flags=("--pairs", "-p"), help="Pairs .npz from `link pairs` (or its folder).")
    method: str = option("ols", help="ols (paper), ridge, ridge-cv, elasticnet or mlp.")
    test_fraction: float = option(0.2, help="Fraction of the pairs held out for the test scores.")
    alpha: float = option(1.0, help="Ridge / elastic-net strength.")
    l1_ratio: float = option(0.5, help="Elastic-net mixing.")
    hidden: int = option(256, help="mlp: hidden units.")
    epochs: int = option(200, help="mlp: training epochs.")
    lr: float = option(1e-3, help="mlp: Adam learning rate.")
    seed: int = option(0, help=HELP_SEED)

    def check(self) -> None:
        if self.method not in FIT_METHODS:
            raise ParameterError(f"unknown method {self.method!r}; choose one of {', '.join(FIT_METHODS)}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ParameterError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        _positive(self, "hidden", "epochs")


@dataclass(frozen=True)
class LinkTuneConfig(Config):
    """Step 3: sweep units over their observed range and rank them by effect size."""

    link: str | None = option(None, flags=("--link", "-l"), help="Folder of `link fit`.")
    units: str = option(
        "0,2", help="'0,2' (the reference default), 'all', or 'top:K' (largest latent effect)."
    )
    n_steps: int = option(3, help="Values per unit over [min, max] (3: min, mid, max).")
    samples: int = option(2, help="Tuning samples per class (seed 136, psi 0.7).")
    samples_seed: int = option(136, help="Seed of the tuning samples.")
    generator: str | None = option(None, flags=("--generator", "-g"), help=HELP_GENERATOR)
    classifier: str | None = option(None, flags=("--classifier", "-c"), help=HELP_CLASSIFIER)
    feature_layer: str | None = option(None, help=HELP_FEATURE_LAYER)
    random_init: bool = option(False, help=HELP_RANDOM_INIT)
    autocast: bool = option(False, help=HELP_AUTOCAST)

    def check(self) -> None:
        text = str(self.units).strip()
        self._set("units", text)
        if text != "all" and not text.startswith("top:"):
            try:
                [int(u) for u in text.split(",") if u.strip()]
            except ValueError:
                raise ParameterError(f"--units {text!r}: use '0,2', 'all' or 'top:K'") from None
        if text.startswith("top:") and not text[4:].isdigit():
            raise ParameterError(f"--units {text!r}: use '0,2', 'all' or 'top:K'")
        if self.n_steps < 2:
            raise ParameterError(f"n_steps must be >= 2, got {self.n_steps}")
        _positive(self, "samples")


@dataclass(frozen=True)
class LinkQuantifyConfig(Config):
    """Step 5: part maps of the sweep images and per-part changes per unit."""

    sweep: str | None = option(None, flags=("--sweep", "-s"), help="Folder of `link tune`.")
    parts: str = option("kmeans", help="kmeans (unsupervised) or masks (few-shot, --masks).")
    k: int = option(4, help="Number of unsupervised parts.")
    source: str = option("generator", help="Part features: generator, pixels, or classifier:<layer>.")
    masks: str | None = option(
        None, help=".npz with images (N,H,W,3) uint8, masks (N,H,W) int [, latents (N,L), part_names]."
    )
    feature_size: int = option(32, help="Resolution of the per-pixel features.")
    min_area: int = option(MIN_AREA, help="Parts smaller than this many pixels get no ellipse (20, the reference).")
    generator: str | None = option(None, flags=("--generator", "-g"), help=HELP_GENERATOR)
    classifier: str | None = option(None, flags=("--classifier", "-c"), help=HELP_CLASSIFIER)
    random_init: bool = option(False, help=HELP_RANDOM_INIT)
    seed: int = option(0, help=HELP_SEED)
    autocast: bool = option(False, help=HELP_AUTOCAST)

    def check(self) -> None:
        if self.parts not in PART_METHODS:
            raise ParameterError(f"--parts {self.parts!r}: use kmeans or masks")
        if self.parts == "masks" and self.masks is None:
            raise ParameterError("--parts masks needs --masks FILE.npz")
        kind = self.source.partition(":")[0]
        if kind not in SOURCES:
            raise ParameterError(f"unknown part-feature source {kind!r}; choose one of {', '.join(SOURCES)}")
        if kind == "classifier" and not self.source.partition(":")[2]:
            raise ParameterError("source 'classifier' needs a spatial layer name: classifier:<layer>")
        _positive(self, "feature_size")
        if self.k < 2:
            raise ParameterError(f"K must be at least 2, got {self.k}")


@dataclass(frozen=True)
class LinkCounterfactualConfig(Config):
    """Step 6: counterfactuals with the paper's loss (docs/methods/linking.md)."""

    link: str | None = option(None, flags=("--link", "-l"), help="Folder of `link fit` (a linear link).")
    origin: str | None = option(None, help="Origin class (classifier name or index).")
    target: str | None = option(None, help="Target class (classifier name or index).")
    n: int = option(8, help="Number of origin samples.")
    pairs: str | None = option(
        None, help="Take origin samples from this pairs file (default: draw fresh ones of the origin class)."
    )
    lr: float = option(LR, help="Step size of the gradient descent on the shift.")
    max_steps: int = option(MAX_STEPS, help="Give up after this many steps.")
    lambda_origin: float = option(LAMBDA_ORIGIN, help="Weight of the origin logit in the loss.")
    lambda_cos: float = option(LAMBDA_COS, help="Weight of the latent cosine term in the loss.")
    generator: str | None = option(None, flags=("--generator", "-g"), help=HELP_GENERATOR)
    classifier: str | None = option(None, flags=("--classifier", "-c"), help=HELP_CLASSIFIER)
    feature_layer: str | None = option(None, help=HELP_FEATURE_LAYER)
    head: str | None = option(None, help="Module mapping the feature layer to the logits (default: found).")
    random_init: bool = option(False, help=HELP_RANDOM_INIT)
    seed: int = option(0, help=HELP_SEED)
    autocast: bool = option(False, help=HELP_AUTOCAST)

    def check(self) -> None:
        _positive(self, "n", "max_steps")
        if self.lr <= 0:
            raise ParameterError(f"lr must be positive, got {self.lr}")
