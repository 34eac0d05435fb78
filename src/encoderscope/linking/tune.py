"""Unit sweeps ("systematic tuning", docs/methods/linking.md, step 3).

For each chosen unit i and each sample r: set ``r[i] = v`` for ``v`` in ``linspace(min_i, max_i, n_steps)`` (3 steps by
default: min, mid, max; the range over the given range features, by default the swept samples themselves), keep the
other units, map to the latent with the linking network and synthesise. Effects per (sample, unit), first step to
last:

* ``pixel_change``: mean absolute pixel difference (images in [0, 1]);
* ``logit_change``: change of the classifier's logit for the class it predicts on the unmodified linked image;
* ``unit_cycle``: change of unit i itself when the generated images are re-encoded (does the picture carry the unit?).

Units are ranked by the mean pixel change (and the absolute logit change is ranked alongside).

Example:
    >>> import encoderscope as es
    >>> from encoderscope.linking import as_classifier, load_generator
    >>> gen, clf = load_generator("synthetic:linear"), as_classifier("synthetic:linear")
    >>> pairs = es.make_pairs(gen, clf, n_per_class=20, progress=False)
    >>> sweep = es.sweep_units(es.fit_link(pairs.features, pairs.latents).network, gen, clf, pairs.features[:2],
    ...                        units=[0, 1], progress=False)
    >>> sweep.images.shape
    (2, 2, 3, 16, 16, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from encoderscope._io import read_npz, write_csv, write_npz
from encoderscope._progress import progress_bar
from encoderscope.configs import resolve_config
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.linking.classifier import LinkClassifier
from encoderscope.linking.config import LinkTuneConfig
from encoderscope.linking.network import LinkingNetwork
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call
from encoderscope.zoo.generators import Generator, images_to_uint8

RANKING_COLUMNS = ("unit", "rank_pixel", "rank_logit", "pixel_change", "abs_logit_change", "logit_change",
                   "unit_cycle", "min", "max")


def unit_ranges(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit ``(min, max)`` over samples (saved as ``activation_ranges.csv`` by sweeps)."""
    features = np.asarray(features, dtype=np.float32)
    return features.min(axis=0), features.max(axis=0)


def step_values(lo: np.ndarray, hi: np.ndarray, n_steps: int) -> np.ndarray:
    """``(D, n_steps)`` values ``linspace(min_i, max_i, n_steps)`` per unit."""
    if n_steps < 2:
        raise ParameterError(f"n_steps must be >= 2, got {n_steps}")
    return np.stack([np.linspace(a, b, n_steps, dtype=np.float64) for a, b in zip(lo, hi, strict=True)]).astype(
        np.float32
    )


def latent_effect(link: LinkingNetwork, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Size of the latent move of each unit's full sweep, ``||coef[:, i]|| * (max_i - min_i)`` (linear links)."""
    if not link.linear:
        raise ParameterError("latent_effect needs a linear linking network")
    return np.linalg.norm(link.coef, axis=0) * (hi - lo)


def select_units(spec: str | Sequence[int] | None, link: LinkingNetwork, features: np.ndarray) -> list[int] | None:
    """The units a sweep covers: ``"0,2"``, ``"all"`` (``None``: every unit), ``"top:K"`` (the K units with the
    largest latent effect over ``features``' range) or a list of indices.

    Example:
        >>> import numpy as np
        >>> link = LinkingNetwork("ols", coef=np.array([[1.0, 3.0, 2.0]]), intercept=np.zeros(1))
        >>> select_units("top:2", link, np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
        [1, 2]
    """
    if spec is None or spec == "all":
        return None
    if not isinstance(spec, str):
        return [int(u) for u in spec]
    if spec.startswith("top:"):
        lo, hi = unit_ranges(features)
        return np.argsort(-latent_effect(link, lo, hi))[: int(spec[4:])].tolist()
    try:
        return [int(u) for u in spec.split(",") if u.strip()]
    except ValueError as err:
        raise ParameterError(f"units {spec!r}: use '0,2', 'all' or 'top:K'") from err


def tuning_features(
    generator: Generator, classifier: LinkClassifier, samples: int, seed: int = 136, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Features and generator classes of the tuning samples: ``samples`` per class, seeded, psi 0.7 (the
    reference's seed 136)."""
    from encoderscope.linking.pairs import make_pairs

    tuning = make_pairs(generator, classifier, samples, seed=seed, truncation=0.7, progress=progress)
    return tuning.features, tuning.labels


@dataclass
class SweepResult(Recorded):
    """Images and effect sizes of a unit sweep.

    Attributes:
        units: ``(U,)`` unit indices; values: ``(U, n_steps)`` the values set.
        images: ``(S, U, n_steps, H, W, 3)`` uint8.
        latents: ``(S, U, n_steps, L)`` the latents the images were synthesised from.
        base_images: ``(S, H, W, 3)`` uint8 images of the unmodified linked samples.
        sample_classes: ``(S,)`` generator class of each sample (``-1`` if none).
        pixel_change, logit_change, unit_cycle: ``(S, U)`` effects (see the module docstring).
        config: the resolved configuration.
        run: the run's record (typed configuration, command, timings).
    """

    units: np.ndarray
    values: np.ndarray
    images: np.ndarray
    latents: np.ndarray
    base_images: np.ndarray
    sample_classes: np.ndarray
    pixel_change: np.ndarray
    logit_change: np.ndarray
    unit_cycle: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        s, u, n = self.images.shape[:3]
        return f"SweepResult({u} units x {n} steps on {s} samples of {self.config.get('generator', '?')})"

    def ranking(self) -> list[dict[str, Any]]:
        """Rows per unit, sorted by mean pixel change (largest first), with the logit-change rank alongside."""
        pixel = self.pixel_change.mean(0)
        logit = np.abs(self.logit_change).mean(0)
        logit_rank = np.empty(len(self.units), int)
        logit_rank[np.argsort(-np.nan_to_num(logit, nan=-1))] = np.arange(1, len(self.units) + 1)
        rows = []
        for rank, j in enumerate(np.argsort(-pixel), start=1):
            rows.append({
                "unit": int(self.units[j]), "rank_pixel": rank, "rank_logit": int(logit_rank[j]),
                "pixel_change": float(pixel[j]), "abs_logit_change": float(logit[j]),
                "logit_change": float(self.logit_change[:, j].mean()),
                "unit_cycle": float(self.unit_cycle[:, j].mean()),
                "min": float(self.values[j, 0]), "max": float(self.values[j, -1]),
            })
        return rows

    def subset(self, units: Sequence[int]) -> SweepResult:
        """The same sweep restricted to some units (in the given order)."""
        idx = np.array([int(np.flatnonzero(self.units == u)[0]) for u in units])
        return SweepResult(
            units=self.units[idx], values=self.values[idx], images=self.images[:, idx], latents=self.latents[:, idx],
            base_images=self.base_images, sample_classes=self.sample_classes,
            pixel_change=self.pixel_change[:, idx], logit_change=self.logit_change[:, idx],
            unit_cycle=self.unit_cycle[:, idx], config=dict(self.config), run=self.run,
        )

    def strip(self, unit_index: int) -> np.ndarray:
        """One picture for a unit: samples as rows, steps as columns."""
        from encoderscope.report.linking import sweep_strip

        return sweep_strip(self, unit_index)

    def figure(self, rank: int = 0) -> Any:
        """A matplotlib figure: the sweep strip of the unit at ``rank`` in :meth:`ranking` (0: the first)."""
        from encoderscope.report.linking import sweep_figure

        return sweep_figure(self, rank)

    _repr_html_ = drawn_by("encoderscope.report.linking:sweep_html", "The notebook view (HTML).")

    def save(self, out_dir: str | Path, max_strips: int | None = None) -> Path:
        """Write ``sweep.npz``, ``ranking.csv``, ``activation_ranges.csv`` (swept units), strips and ``run.json``."""
        from encoderscope.report.encoding import save_png

        out = Path(out_dir)
        write_npz(out / "sweep.npz", {
            "units": self.units, "values": self.values, "images": self.images,
            "latents": self.latents, "base_images": self.base_images,
            "sample_classes": self.sample_classes, "pixel_change": self.pixel_change,
            "logit_change": self.logit_change, "unit_cycle": self.unit_cycle,
        })
        rows = self.ranking()
        write_csv(out / "ranking.csv", RANKING_COLUMNS, rows)
        write_csv(out / "activation_ranges.csv", ["unit", "min", "max"],
                  [[int(u), float(v[0]), float(v[-1])] for u, v in zip(self.units, self.values, strict=True)])
        for row in rows[: max_strips or len(rows)]:
            j = int(np.flatnonzero(self.units == row["unit"])[0])
            save_png(out / "strips" / f"unit_{row['unit']:04d}.png", self.strip(j))
        self.run_record().write(out)
        return out

    def run_record(self) -> RunRecord:
        """The run record (``details``: the resolved configuration, with the generator and classifier used)."""
        run = self.run or RunRecord.create("link-tune", {})
        return run.replace(details={"resolved": self.config})

    @classmethod
    def load(cls, out_dir: str | Path) -> SweepResult:
        """Read a sweep written by :meth:`save`."""
        folder = Path(out_dir)
        if not (folder / "sweep.npz").exists():
            raise ParameterError(f"no sweep.npz in {folder}; run `encoderscope link tune` first")
        run = RunRecord.read(folder, "link-tune", "a unit sweep")
        arrays = read_npz(folder / "sweep.npz")
        return cls(**arrays, config=dict(run.details["resolved"]), run=run)


def sweep_units(
    link: LinkingNetwork,
    generator: Generator,
    classifier: LinkClassifier | None,
    features: np.ndarray,
    units: str | Sequence[int] | None = None,
    n_steps: int | None = None,
    range_features: np.ndarray | None = None,
    sample_classes: np.ndarray | None = None,
    progress: bool = True,
    config: LinkTuneConfig | None = None,
) -> SweepResult:
    """Sweep each unit over its observed range for every sample (see the module docstring).

    Args:
        features: ``(S, D)`` samples to modify.
        units: unit indices, or a spec of :func:`select_units` (default: all D; with a ``config``, its ``units``).
        n_steps: values per unit (default 3, or the config's).
        range_features: samples that define ``[min_i, max_i]`` (default: ``features``).
        classifier: re-classifies the images for ``logit_change`` and ``unit_cycle`` (``None`` skips both).
        config: a :class:`~encoderscope.linking.config.LinkTuneConfig` (recorded; ``units`` and ``n_steps`` given
            here override it).
    """
    overrides: dict[str, Any] = {} if n_steps is None else {"n_steps": n_steps}
    if isinstance(units, str):
        overrides["units"] = units
    cfg = resolve_config(LinkTuneConfig, config, overrides)
    if units is None and config is not None:
        units = cfg.units
    units = select_units(units, link, features if range_features is None else range_features)
    n_steps = cfg.n_steps
    watch = Stopwatch()
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != link.in_dim:
        raise ParameterError(f"features must be (S, {link.in_dim}), got {features.shape}")
    units_arr = np.arange(features.shape[1]) if units is None else np.asarray(list(units), dtype=np.int64)
    if units_arr.size == 0 or units_arr.min() < 0 or units_arr.max() >= features.shape[1]:
        raise ParameterError(f"units must be in 0..{features.shape[1] - 1}")
    lo, hi = unit_ranges(features if range_features is None else range_features)
    values = step_values(lo[units_arr], hi[units_arr], n_steps)
    n_samples = features.shape[0]
    base_latents = link.predict(features)
    base = generator.synthesize(base_latents)
    base_u8 = images_to_uint8(base)
    own = None
    if classifier is not None:
        _, base_logits = classifier.run(base)
        own = None if base_logits is None else base_logits.argmax(1)
    h, w = base_u8.shape[1:3]
    images = np.zeros((n_samples, len(units_arr), n_steps, h, w, 3), np.uint8)
    latents = np.zeros((n_samples, len(units_arr), n_steps, link.out_dim), np.float32)
    pixel = np.zeros((n_samples, len(units_arr)), np.float32)
    logit = np.full((n_samples, len(units_arr)), np.nan, np.float32)
    cycle = np.full((n_samples, len(units_arr)), np.nan, np.float32)
    with progress_bar("unit sweeps", total=len(units_arr), enabled=progress) as advance:
        for j, unit in enumerate(units_arr):
            modified = np.repeat(features[:, None, :], n_steps, axis=1)  # (S, steps, D)
            modified[:, :, unit] = values[j][None, :]
            step_latents = link.predict(modified.reshape(-1, features.shape[1]))
            latents[:, j] = step_latents.reshape(n_samples, n_steps, -1)
            imgs = generator.synthesize(step_latents)
            imgs_s = imgs.reshape(n_samples, n_steps, *imgs.shape[1:])
            images[:, j] = images_to_uint8(imgs).reshape(n_samples, n_steps, h, w, 3)
            pixel[:, j] = (imgs_s[:, -1] - imgs_s[:, 0]).abs().flatten(1).mean(1).cpu().numpy()
            if classifier is not None:
                ends = torch.cat([imgs_s[:, 0], imgs_s[:, -1]])
                feats, logits = classifier.run(ends)
                cycle[:, j] = feats[n_samples:, unit] - feats[:n_samples, unit]
                if logits is not None and own is not None:
                    rows = np.arange(n_samples)
                    logit[:, j] = logits[n_samples:][rows, own] - logits[:n_samples][rows, own]
            advance(1)
    config = {"n_steps": n_steps, "units": units_arr.tolist() if len(units_arr) <= 64 else f"{len(units_arr)} units",
              "n_samples": n_samples, "generator": generator.name,
              "classifier": classifier.describe() if classifier is not None else None,
              "range_from": "features" if range_features is None else f"{len(range_features)} range samples"}
    run = RunRecord.create("link-tune", cfg, command=python_call("encoderscope.sweep_units", cfg),
                           seconds=watch.seconds())
    return SweepResult(
        units=units_arr, values=values, images=images, latents=latents, base_images=base_u8,
        sample_classes=np.full(n_samples, -1) if sample_classes is None else np.asarray(sample_classes),
        pixel_change=pixel, logit_change=logit, unit_cycle=cycle, config=config, run=run,
    )
