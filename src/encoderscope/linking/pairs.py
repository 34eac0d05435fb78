"""Paired data for the linking network: (latent w, features r) of generated images (docs/methods/linking.md, step 1).

Latents are drawn per class and batch with a seed derived from ``(seed, class, batch number)``, so the stream
advances: unlike the reference code (which re-draws the same seed and collects duplicates) every candidate is new.
When the generator's classes match the classifier's (same names, or an explicit ``class_map``), only correctly
classified samples are kept, until ``n_per_class`` are collected or ``max_tries`` candidates were drawn.

Example:
    >>> from encoderscope.zoo.generators import load_generator
    >>> from encoderscope.linking.classifier import synthetic_classifier
    >>> pairs = make_pairs(load_generator("synthetic:linear"), synthetic_classifier(), n_per_class=4, progress=False)
    >>> pairs.latents.shape, pairs.features.shape, sorted(set(pairs.labels.tolist()))
    ((12, 6), (12, 12), [0, 1, 2])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope._io import read_npz, write_npz
from encoderscope._progress import progress_bar, warn
from encoderscope.configs import resolve_config
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.linking.classifier import LinkClassifier
from encoderscope.linking.config import LinkPairsConfig
from encoderscope.runs import RUN_FILE, Recorded, RunRecord, Stopwatch, python_call
from encoderscope.zoo.generators import Generator, batch_seed, generator_record


@dataclass
class PairedData(Recorded):
    """(latent, features) pairs and how they were made.

    Attributes:
        latents: ``(N, L)`` generator latents.
        features: ``(N, D)`` classifier features of the generated images.
        labels: ``(N,)`` generator class per pair (``-1`` for unconditional generators).
        predictions: ``(N,)`` classifier argmax per pair (``-1`` without logits).
        meta: generator (and a pickle's sha256), classifier, seed, truncation, acceptance counts.
        run: the run's record (typed configuration, command, timings).
    """

    latents: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    def __repr__(self) -> str:
        return (f"PairedData({len(self)} pairs of {self.meta.get('generator', '?')}: latent "
                f"{self.latents.shape[1]}-d, features {self.features.shape[1]}-d)")

    figure = drawn_by(
        "encoderscope.report.linking:pairs_figure",
        "A matplotlib figure: the first two latent dimensions of the pairs, coloured by label.",
    )
    _repr_html_ = drawn_by("encoderscope.report.linking:pairs_html", "The notebook view (HTML).")

    def run_record(self) -> RunRecord:
        """The run record (``details``: the pairs' metadata)."""
        run = self.run or RunRecord.create("link-pairs", {}, seed=self.meta.get("seed"))
        return run.replace(details={"meta": self.meta})

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` atomically (arrays, the metadata and the run record as JSON strings; no pickle).

        ``path`` is a ``.npz`` file, or a folder that gets ``pairs.npz`` and ``run.json``. Returns the file.
        """
        path = Path(path)
        folder = None
        if path.suffix != ".npz":
            folder, path = path, path / "pairs.npz"
        record = self.run_record()
        write_npz(
            path,
            {
                "latents": self.latents, "features": self.features, "labels": self.labels,
                "predictions": self.predictions, "meta_json": np.array(json.dumps(self.meta, default=str)),
                "run_json": np.array(record.to_json()),
            },
        )
        if folder is not None:
            record.write(folder)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PairedData:
        """Read pairs written by :meth:`save` (a ``.npz`` file or a folder holding ``pairs.npz``)."""
        path = Path(path)
        if path.is_dir():
            path = path / "pairs.npz"
        if not path.exists():
            raise ParameterError(f"no paired data at {path}")
        arrays = read_npz(path)
        missing = {"latents", "features"} - set(arrays)
        if missing:
            raise ParameterError(f"{path} is not a pairs file (missing {', '.join(sorted(missing))})")
        n = arrays["latents"].shape[0]
        meta = json.loads(str(arrays["meta_json"])) if "meta_json" in arrays else {}
        run = None
        if "run_json" in arrays:
            run = RunRecord.from_dict(json.loads(str(arrays["run_json"])), source=str(path))
        elif (path.parent / RUN_FILE).is_file() and path.name == "pairs.npz":
            run = RunRecord.read(path.parent)
        return cls(
            latents=arrays["latents"], features=arrays["features"],
            labels=arrays.get("labels", np.full(n, -1)), predictions=arrays.get("predictions", np.full(n, -1)),
            meta=meta, run=run,
        )


def shared_classes(
    generator: Generator, classifier: LinkClassifier, class_map: Mapping[int, int] | None = None
) -> dict[int, int] | None:
    """Generator class index -> classifier logit index, when both share classes (by name or ``class_map``)."""
    if class_map is not None:
        return {int(k): int(v) for k, v in class_map.items()}
    gen_names, clf_names = generator.class_names, classifier.class_names
    if not gen_names or not clf_names or not set(gen_names) <= set(clf_names):
        return None
    return {i: list(clf_names).index(name) for i, name in enumerate(gen_names)}


def make_pairs(
    generator: Generator,
    classifier: LinkClassifier,
    n_per_class: int | None = None,
    *,
    config: LinkPairsConfig | None = None,
    progress: bool = True,
    **options: Any,
) -> PairedData:
    """Sample, synthesise, classify and keep (latent, features) pairs (see the module docstring).

    Args:
        n_per_class: pairs per generator class (or in total for unconditional generators). 5000 in the paper.
        config: a :class:`~encoderscope.linking.config.LinkPairsConfig`; ``options`` (its fields) override it:
            ``seed``; ``truncation`` (class-centred truncation psi, 0.7 in the paper; ``None`` for none);
            ``classes`` (a subset of generator classes, default all); ``class_map``; ``filter_correct`` (keep only
            samples classified as their generator class; default: when classes are shared); ``batch_size``;
            ``max_tries_factor`` (give up on a class after ``max_tries_factor * n_per_class`` candidates, with a
            warning).
    """
    if n_per_class is not None:
        options["n_per_class"] = n_per_class
    if config is None and "n_per_class" not in options:
        raise ParameterError("make_pairs needs n_per_class (or a LinkPairsConfig)")
    cfg = resolve_config(LinkPairsConfig, config, options)
    watch = Stopwatch()
    n_per_class, seed, truncation, classes = cfg.n_per_class, cfg.seed, cfg.truncation, cfg.classes
    class_map, filter_correct, batch_size, max_tries_factor = (
        cfg.class_map, cfg.filter_correct, cfg.batch_size, cfg.max_tries_factor
    )
    names = generator.class_names
    if names:
        chosen = [c if isinstance(c, int) else list(names).index(c) for c in (classes or range(len(names)))]
    else:
        if classes:
            raise ParameterError(f"{generator.name} has no classes")
        chosen = [-1]
    mapping = shared_classes(generator, classifier, class_map)
    if filter_correct and mapping is None:
        raise ParameterError("filter_correct needs classes shared by generator and classifier (or class_map)")
    use_filter = mapping is not None if filter_correct is None else filter_correct
    lat_parts, feat_parts, label_parts, pred_parts = [], [], [], []
    accepted: dict[str, int] = {}
    tried: dict[str, int] = {}
    with progress_bar("pairs", total=n_per_class * len(chosen), enabled=progress) as advance:
        for cls in chosen:
            have, drawn, batch = 0, 0, 0
            limit = max_tries_factor * n_per_class
            while have < n_per_class and drawn < limit:
                size = min(batch_size, limit - drawn) if use_filter else min(batch_size, n_per_class - have)
                latents = generator.sample(
                    size, batch_seed(seed, cls, batch), truncation=truncation, cls=None if cls < 0 else cls
                )
                features, logits = classifier.run(generator.synthesize(latents, cls=None if cls < 0 else cls))
                drawn, batch = drawn + size, batch + 1
                preds = logits.argmax(1) if logits is not None else np.full(size, -1)
                keep = np.ones(size, bool)
                if use_filter and mapping is not None:
                    keep = preds == mapping[cls]
                keep_idx = np.flatnonzero(keep)[: n_per_class - have]
                lat_parts.append(latents[keep_idx])
                feat_parts.append(features[keep_idx])
                label_parts.append(np.full(keep_idx.size, cls, dtype=np.int64))
                pred_parts.append(preds[keep_idx].astype(np.int64))
                have += keep_idx.size
                advance(keep_idx.size)
            key = names[cls] if names and cls >= 0 else "all"
            accepted[key], tried[key] = have, drawn
            if have < n_per_class:
                warn(f"class {key}: only {have} of {n_per_class} correctly classified samples in {drawn} tries")
    if sum(accepted.values()) == 0:
        raise ParameterError("no sample was classified as its generator class; check the class mapping")
    meta = {
        **generator_record(generator), "classifier": classifier.describe(), "seed": seed, "truncation": truncation,
        "n_per_class": n_per_class, "filter_correct": use_filter, "class_map": mapping, "accepted": accepted,
        "tried": tried, "batch_size": batch_size, "sampling": "seed per (seed, class, batch): SeedSequence",
        "class_names": list(names) if names else None,
    }
    recorded = cfg.replace(generator=cfg.generator or generator.name)
    run = RunRecord.create("link-pairs", recorded, command=python_call("encoderscope.make_pairs", recorded),
                           seed=seed, seconds=watch.seconds())
    return PairedData(
        latents=np.concatenate(lat_parts).astype(np.float32), features=np.concatenate(feat_parts).astype(np.float32),
        labels=np.concatenate(label_parts), predictions=np.concatenate(pred_parts), meta=meta, run=run,
    )
