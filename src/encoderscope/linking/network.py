"""The linking network: classifier features r -> generator latent w (docs/methods/linking.md, step 2).

Methods: ``ols`` (ordinary least squares with intercept, sklearn ``LinearRegression``; the paper's default), ``ridge``
(``Ridge(alpha=1.0)``), ``ridge-cv`` (ridge with the strength chosen on the training pairs alone by efficient
leave-one-out cross-validation over ``RIDGE_ALPHAS``; for when the pairs are not many times the feature count and
OLS interpolates), ``elasticnet`` (``ElasticNet(alpha=1.0, l1_ratio=0.5)``, as the reference) and ``mlp`` (a
one-hidden-layer ReLU network trained with Adam; an addition to test whether a linear map suffices). The pairs are
split into a seeded train/test split and the held-out R^2 and MSE are reported (the reference reports only the
training MSE). The network is saved without pickle: ``link.npz`` (coefficients) and ``link.json``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = rng.normal(size=(200, 5)); w = r @ rng.normal(size=(5, 3)) + 1.0
    >>> fit = fit_link(r, w, method="ols", seed=0)
    >>> round(fit.test_r2, 6)
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from encoderscope._io import read_json, read_npz, write_json, write_npz
from encoderscope._progress import warn
from encoderscope.configs import resolve_config
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.linking.config import FIT_METHODS, LinkFitConfig
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call

METHODS = FIT_METHODS
"""The fitting methods (see the module docstring)."""

#: The strengths ``ridge-cv`` chooses from (1e-2 ... 1e5, half-decade steps).
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))


@dataclass
class LinkingNetwork:
    """A fitted features -> latent map.

    Attributes:
        method: one of ``METHODS``.
        coef: ``(L, D)`` for linear methods (``w = coef @ r + intercept``).
        intercept: ``(L,)``.
        mlp: for ``mlp``: ``w1 (H, D), b1 (H,), w2 (L, H), b2 (L,)`` plus input standardisation ``mu, sd``.
        meta: provenance (generator, classifier, feature layer) copied from the pairs.
    """

    method: str
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    mlp: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def linear(self) -> bool:
        """True for the linear methods (needed by counterfactuals)."""
        return self.coef is not None

    def torch_map(self, features: torch.Tensor) -> torch.Tensor:
        """Differentiable ``(B, D) -> (B, L)`` map, computed on the features' device."""
        x = features.float()
        if self.linear:
            coef = torch.as_tensor(self.coef, dtype=torch.float32, device=x.device)
            return x @ coef.T + torch.as_tensor(self.intercept, dtype=torch.float32, device=x.device)
        p = {k: torch.as_tensor(v, dtype=torch.float32, device=x.device) for k, v in self.mlp.items()}
        hidden = torch.relu(((x - p["mu"]) / p["sd"]) @ p["w1"].T + p["b1"])
        return hidden @ p["w2"].T + p["b2"]

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Latents ``(N, L)`` for features ``(N, D)``."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.in_dim:
            raise ParameterError(f"features must have shape (N, {self.in_dim}), got {features.shape}")
        with torch.no_grad():
            return self.torch_map(torch.as_tensor(features)).numpy()

    @property
    def in_dim(self) -> int:
        """Feature width D."""
        return int(self.coef.shape[1] if self.linear else self.mlp["w1"].shape[1])

    @property
    def out_dim(self) -> int:
        """Latent width L."""
        return int(self.coef.shape[0] if self.linear else self.mlp["w2"].shape[0])

    def save(self, out_dir: str | Path) -> Path:
        """Write ``link.npz`` and ``link.json`` to ``out_dir``."""
        out = Path(out_dir)
        arrays = {"coef": self.coef, "intercept": self.intercept} if self.linear else dict(self.mlp)
        write_npz(out / "link.npz", arrays)
        write_json(out / "link.json", {"method": self.method, "in_dim": self.in_dim, "out_dim": self.out_dim,
                                       "meta": self.meta})
        return out

    @classmethod
    def load(cls, path: str | Path) -> LinkingNetwork:
        """Read a network saved by :meth:`save` (the folder, or its ``link.npz``)."""
        folder = Path(path)
        if folder.suffix == ".npz":
            folder = folder.parent
        if not (folder / "link.npz").exists() or not (folder / "link.json").exists():
            raise ParameterError(f"no linking network (link.npz + link.json) in {folder}")
        info = read_json(folder / "link.json")
        arrays = read_npz(folder / "link.npz")
        if info["method"] == "mlp":
            return cls(method="mlp", mlp=arrays, meta=info.get("meta", {}))
        return cls(method=info["method"], coef=arrays["coef"], intercept=arrays["intercept"],
                   meta=info.get("meta", {}))


def r2_score(true: np.ndarray, pred: np.ndarray) -> float:
    """R^2 averaged uniformly over latent dimensions (sklearn's default ``multioutput='uniform_average'``)."""
    from sklearn.metrics import r2_score as sk_r2

    return float(sk_r2(true, pred))


def mse(true: np.ndarray, pred: np.ndarray) -> float:
    """Mean squared error over all entries, as the reference prints it."""
    return float(np.mean((np.asarray(true, np.float64) - np.asarray(pred, np.float64)) ** 2))


def _fit_mlp(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int, lr: float) -> dict[str, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.as_tensor((x - mu) / sd, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, y.shape[1]))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / np.sqrt(p.shape[-1])))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    batch = 256
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss = ((net(xt[idx]) - yt[idx]) ** 2).mean()
            loss.backward()
            opt.step()
    return {
        "w1": net[0].weight.detach().numpy(), "b1": net[0].bias.detach().numpy(),
        "w2": net[2].weight.detach().numpy(), "b2": net[2].bias.detach().numpy(),
        "mu": mu.astype(np.float32), "sd": sd.astype(np.float32),
    }


@dataclass
class LinkFit(Recorded):
    """A fitted linking network with its train/test scores."""

    network: LinkingNetwork = field(repr=False)
    train_r2: float
    test_r2: float
    train_mse: float
    test_mse: float
    n_train: int
    n_test: int
    config: dict[str, Any] = field(repr=False)

    def __repr__(self) -> str:
        return (f"LinkFit({self.network.method}: features {self.network.in_dim}-d -> latent {self.network.out_dim}-d, "
                f"test R^2 {self.test_r2:.4f} on {self.n_test} pairs ({self.n_train} to fit))")

    figure = drawn_by("encoderscope.report.linking:link_fit_figure", "A matplotlib figure: train and test R².")
    _repr_html_ = drawn_by("encoderscope.report.linking:link_fit_html", "The notebook view (HTML).")

    def scores(self) -> dict[str, float | int | str]:
        """The numbers, as one flat dict."""
        return {"method": self.network.method, "train_r2": self.train_r2, "test_r2": self.test_r2,
                "train_mse": self.train_mse, "test_mse": self.test_mse, "n_train": self.n_train,
                "n_test": self.n_test}

    def run_record(self) -> RunRecord:
        """The run record (``details``: the resolved configuration)."""
        run = self.run or RunRecord.create("link-fit", {}, seed=self.config.get("seed"))
        return run.replace(details={"resolved": self.config})

    def save(self, out_dir: str | Path) -> Path:
        """Write the network (``link.npz``, ``link.json``), ``scores.json`` and ``run.json``."""
        out = self.network.save(out_dir)
        write_json(out / "scores.json", self.scores())
        self.run_record().write(out)
        return out

    @classmethod
    def load(cls, out_dir: str | Path) -> LinkFit:
        """A fit written by :meth:`save`."""
        folder = Path(out_dir)
        run = RunRecord.read(folder, "link-fit", "a linking network fit")
        s = read_json(folder / "scores.json")
        return cls(LinkingNetwork.load(folder), s["train_r2"], s["test_r2"], s["train_mse"], s["test_mse"],
                   s["n_train"], s["n_test"], dict(run.details["resolved"]), run=run)


def fit_link(
    features: np.ndarray,
    latents: np.ndarray,
    method: str | None = None,
    *,
    config: LinkFitConfig | None = None,
    meta: dict[str, Any] | None = None,
    **options: Any,
) -> LinkFit:
    """Fit features -> latents with ``method`` on a seeded split and score it on the held-out part.

    ``ols`` with no more training pairs than features + 1 (the intercept) fits them exactly and cannot generalise:
    a one-line warning then points to ``ridge-cv``.

    Args:
        method: ``ols`` (the paper's), ``ridge``, ``ridge-cv``, ``elasticnet`` or ``mlp`` (default: the config's).
        config: a :class:`~encoderscope.linking.config.LinkFitConfig`; ``options`` (its fields) override it:
            ``test_fraction`` (0.2), ``seed``, ``alpha`` (ridge / elastic-net strength, 1.0 as sklearn's and the
            reference's default), ``l1_ratio`` (elastic-net mixing, 0.5 as the reference), ``hidden``, ``epochs``,
            ``lr`` (the ``mlp`` options).
        meta: provenance of the pairs (generator, classifier), kept with the network.
    """
    if method is not None:
        options["method"] = method
    cfg = resolve_config(LinkFitConfig, config, options)
    watch = Stopwatch()
    method, test_fraction, seed, alpha, l1_ratio = cfg.method, cfg.test_fraction, cfg.seed, cfg.alpha, cfg.l1_ratio
    hidden, epochs, lr = cfg.hidden, cfg.epochs, cfg.lr
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(latents, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ParameterError(f"features {x.shape} and latents {y.shape} must be (N, D) and (N, L) with one N")
    if not np.isfinite(x).all() or not np.isfinite(y).all():
        raise ParameterError("features or latents contain NaN or Inf")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(test_fraction * len(x))
    if len(x) - n_test < 2:
        raise ParameterError(f"too few pairs ({len(x)}) to fit and test")
    test, train = order[:n_test], order[n_test:]
    if method == "ols" and len(train) <= x.shape[1] + 1:
        warn(f"ols: {len(train)} training pairs for {x.shape[1]} features (+ intercept) interpolate: the link fits "
             "them exactly and will not generalise; use method 'ridge-cv' (--method ridge-cv) or more pairs")
    if method == "mlp":
        network = LinkingNetwork("mlp", mlp=_fit_mlp(x[train], y[train], hidden, epochs, seed, lr))
    else:
        from sklearn.linear_model import ElasticNet, LinearRegression, Ridge, RidgeCV

        model = {
            "ols": lambda: LinearRegression(),
            "ridge": lambda: Ridge(alpha=alpha),
            "ridge-cv": lambda: RidgeCV(alphas=RIDGE_ALPHAS),
            "elasticnet": lambda: ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=seed),
        }[method]()
        model.fit(x[train], y[train])
        if method == "ridge-cv":
            alpha = float(model.alpha_)
        network = LinkingNetwork(
            method, coef=np.atleast_2d(model.coef_).astype(np.float32),
            intercept=np.atleast_1d(model.intercept_).astype(np.float32),
        )
    network.meta = dict(meta or {})
    pred_train = network.predict(x[train].astype(np.float32))
    train_r2, train_mse = r2_score(y[train], pred_train), mse(y[train], pred_train)
    if n_test >= 2:
        pred_test = network.predict(x[test].astype(np.float32))
        test_r2, test_mse = r2_score(y[test], pred_test), mse(y[test], pred_test)
    else:
        test_r2 = test_mse = float("nan")
    config = {"method": method, "test_fraction": test_fraction, "seed": seed, "alpha": alpha, "l1_ratio": l1_ratio,
              "hidden": hidden, "epochs": epochs, "lr": lr, "n_pairs": len(x), **({"pairs": meta} if meta else {})}
    run = RunRecord.create("link-fit", cfg, command=python_call("encoderscope.fit_link", cfg), seed=seed,
                           seconds=watch.seconds())
    return LinkFit(network, train_r2, test_r2, train_mse, test_mse, len(train), n_test, config, run=run)
