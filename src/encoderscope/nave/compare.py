"""Comparing concept maps of several models (or layer sets, or baselines) on the same images.

For every image, each result's map is renumbered to agree with the FIRST result's map by Hungarian matching on
pixel overlap (:func:`encoderscope.data.label_maps.match_labels`), so the same colour means the matched concept;
clusters left unmatched (a model with more clusters) get new ids. Agreement is the adjusted Rand index (ARI,
Hubert & Arabie 1985; scikit-learn) between every pair of maps at the image's original resolution, per image and
averaged over images. ARI ignores label names, so it does not depend on the matching.

Example:
    >>> from PIL import Image
    >>> from encoderscope.nave.baselines import baseline_maps
    >>> images = [Image.new("RGB", (32, 24), "white")]
    >>> comparison = compare_results([baseline_maps(images, "slic", 3, progress=False)] * 2)
    >>> float(comparison.mean_ari[0, 1])
    1.0
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope._io import csv_text, make_folder, write_text
from encoderscope.configs import resolve_config
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.nave.config import CompareConfig
from encoderscope.nave.result import NaveResult, load_nested
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index between two label maps of the same shape (non-negative labels).

    Computed from the contingency table (one ``bincount``), with the same formula and the same convention as
    :func:`sklearn.metrics.adjusted_rand_score` (1.0 when both partitions are trivial).

    Example:
        >>> adjusted_rand(np.array([[0, 0, 1, 1]]), np.array([[5, 5, 2, 2]]))
        1.0
    """
    from encoderscope.data.label_maps import overlap_matrix

    counts = overlap_matrix(a, b).astype(np.float64)
    n = counts.sum()

    def pairs(x: np.ndarray | float) -> np.ndarray | float:
        return x * (x - 1) / 2

    together = float(pairs(counts).sum())
    rows, cols = float(pairs(counts.sum(axis=1)).sum()), float(pairs(counts.sum(axis=0)).sum())
    expected = rows * cols / pairs(n) if n > 1 else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return float((together - expected) / (maximum - expected))


@dataclass
class Comparison(Recorded):
    """Several results on the same images, with matched concept ids and agreement scores.

    Attributes:
        results: the compared results (the first is the reference for colour matching).
        keys: image keys present in every result, in the first result's order.
        mappings: ``mappings[m][i]`` renumbers result ``m``'s concept ids on image ``i`` to the reference's.
        ari: ``(n_images, n_results, n_results)`` pairwise adjusted Rand index per image.
        skipped: image keys left out because some result lacks them.
        run: the run's record (typed configuration, command, timings), written as run.json by :meth:`save`.
    """

    results: list[NaveResult]
    keys: list[str]
    mappings: list[list[np.ndarray]]
    ari: np.ndarray = field(repr=False)
    skipped: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Comparison({len(self.results)} results on {len(self.keys)} images: {', '.join(self.names)})"

    @property
    def names(self) -> list[str]:
        """Display names of the results."""
        return [result.name for result in self.results]

    @property
    def mean_ari(self) -> np.ndarray:
        """``(n_results, n_results)`` ARI averaged over images."""
        return self.ari.mean(axis=0)

    def aligned_map(self, result: int, image: int | str) -> np.ndarray:
        """Result ``result``'s map of ``image`` at original resolution, numbered like the reference's."""
        index = self.keys.index(image) if isinstance(image, str) else image
        labels = self.results[result].label_map(self.keys[index])
        return self.mappings[result][index][labels]

    def figure(self, image: int | str = 0) -> Any:
        """A matplotlib figure: the photo and every result's map of one image (by position or key), colours
        matched."""
        from encoderscope.report.nave import comparison_figure

        return comparison_figure(self, image)

    _repr_html_ = drawn_by("encoderscope.report.nave:comparison_html", "The notebook view (HTML).")

    def ari_csv(self) -> str:
        """CSV rows ``key, model_a, model_b, ari`` (one per image and pair) plus ``mean`` rows."""
        names, n = self.names, len(self.results)
        pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
        rows = [[key, names[a], names[b], f"{self.ari[i, a, b]:.6f}"] for i, key in enumerate(self.keys)
                for a, b in pairs]
        rows += [["mean", names[a], names[b], f"{self.mean_ari[a, b]:.6f}"] for a, b in pairs]
        return csv_text(["key", "model_a", "model_b", "ari"], rows)

    def run_record(self) -> RunRecord:
        """The run record: the configuration and, in ``details``, each result's name, the images and mean ARI."""
        run = self.run or RunRecord.create("compare", {})
        details = {
            "results": [{"name": r.name, "folder": f"results/{n:02d}"} for n, r in enumerate(self.results)],
            "images": self.keys,
            "skipped_images": self.skipped,
            "mean_ari": {"names": self.names, "matrix": np.round(self.mean_ari, 6).tolist()},
        }
        return run.replace(details=details)

    def run_info(self) -> dict[str, Any]:
        """What run.json holds (:meth:`run_record` as a dict)."""
        return self.run_record().to_dict()

    def save(self, out: str | os.PathLike[str], report: bool = True, title: str = "") -> Path:
        """Write ``run.json``, ``ari.csv``, each result under ``results/<n>/`` (as :meth:`NaveResult.save`) and the
        report (``report.html``, titled ``title``; overlays, side-by-side pictures and galleries)."""
        folder = make_folder(out)
        for n, result in enumerate(self.results):
            result.save(folder / "results" / f"{n:02d}", report=False)
        write_text(folder / "ari.csv", self.ari_csv())
        if report:
            from encoderscope.report.nave import write_pictures

            write_pictures(self.results, folder, comparison=self, title=title)
        self.run_record().write(folder)  # last: a folder with a run.json is complete
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Comparison:
        """A comparison written by :meth:`save`: its results are loaded and matched again (the same matching)."""
        run, results = load_nested(folder, "compare", "a comparison", "results")
        comparison = compare_results(results)
        comparison.run = run
        return comparison


def compare_results(results: Sequence[NaveResult]) -> Comparison:
    """Match concepts across ``results`` (the first is the reference) and score their agreement (module docstring)."""
    from encoderscope.data.label_maps import match_labels

    if len(results) < 2:
        raise ParameterError(f"a comparison needs at least two results, got {len(results)}")
    key_sets = [set(result.keys) for result in results]
    common = set.intersection(*key_sets)
    keys = [key for key in results[0].keys if key in common]
    skipped = sorted(set.union(*key_sets) - common)
    if not keys:
        raise ParameterError("the results share no image; compare results computed on the same images")
    n = len(results)
    ari = np.ones((len(keys), n, n))
    mappings: list[list[np.ndarray]] = [[] for _ in results]
    for i, key in enumerate(keys):
        records = [result.record(key) for result in results]
        maps = [record.label_map() for record in records]
        for m, (record, labels) in enumerate(zip(records, maps, strict=True)):
            if m == 0:
                mappings[m].append(np.arange(record.k))
            else:
                mappings[m].append(match_labels(maps[0], labels, records[0].k, record.k))
        for a in range(n):
            for b in range(a + 1, n):
                ari[i, a, b] = ari[i, b, a] = adjusted_rand(maps[a], maps[b])
    return Comparison(list(results), keys, mappings, ari, skipped)


def compare(
    models: Sequence[Any] | None = None,
    images: Any = None,
    layers: Any = None,
    *,
    config: CompareConfig | None = None,
    progress: bool = True,
    device: Any = None,
    **options: Any,
) -> Comparison:
    """Run NAVE with every model on the same images (plus superpixel baselines) and compare the maps.

    Args:
        models: specs, modules or encoders; ``"random-init:SPEC"`` builds SPEC without weights (seeded);
            ``"baseline:slic"`` / ``"baseline:felzenszwalb"`` are superpixel maps (default: ``config.models``).
        images: as for :func:`~encoderscope.nave.nave` (default: ``config.nave.images``).
        layers: layers for every model (``None``: each model's last block or stage).
        config: a :class:`~encoderscope.nave.config.CompareConfig`.
        progress: show progress bars.
        device: where the models run (see :func:`~encoderscope.nave.nave`).
        **options: ``baselines`` (extra baselines, ``"slic"`` and/or ``"felzenszwalb"``) and any
            :class:`~encoderscope.nave.config.NaveConfig` field (``k``: concepts per map, which the baselines use as
            their region count, ``"auto"`` giving them 5; ``seed``, ``method``, ``backend``, ``autocast``...).
    """
    from encoderscope.capture.engine import engine_session
    from encoderscope.data.images import ImageSet, open_images
    from encoderscope.nave.baselines import baseline_maps
    from encoderscope.nave.pipeline import nave
    from encoderscope.zoo import load_model

    if layers is not None:
        options["layers"] = layers
    cfg = resolve_config(CompareConfig, config, options)
    chosen = list(models) if models is not None else list(cfg.models)
    if all(isinstance(m, str) for m in chosen):
        cfg = cfg.replace(models=chosen)
    sources = images if images is not None else (cfg.nave.images or None)
    if sources is None:
        raise ParameterError("no images: pass them or set CompareConfig.nave.images")
    if isinstance(sources, str | Path):
        cfg = cfg.replace(images=(str(sources),))
    watch = Stopwatch()
    image_set = sources if isinstance(sources, ImageSet) else open_images(sources)
    nave_cfg, seed = cfg.nave, cfg.nave.seed
    region_count = nave_cfg.k if isinstance(nave_cfg.k, int) else 5
    results = []
    with engine_session(nave_cfg.engine, nave_cfg.ray_address):  # one Ray cluster for every model
        for model in [*chosen, *(f"baseline:{name}" for name in cfg.baselines)]:
            if isinstance(model, str) and model.startswith("baseline:"):
                results.append(baseline_maps(image_set, model.split(":", 1)[1], region_count, seed, progress=progress))
            elif isinstance(model, str) and model.startswith("random-init:"):
                encoder = load_model(model.split(":", 1)[1], random_init=True, seed=seed, device=device)
                results.append(nave(encoder, image_set, config=nave_cfg, progress=progress, device=device))
            else:
                results.append(nave(model, image_set, config=nave_cfg, progress=progress, device=device))
            watch.lap(results[-1].name)
    comparison = compare_results(results)
    comparison.run = RunRecord.create("compare", cfg, command=python_call("encoderscope.compare", cfg),
                                      seed=seed, seconds=watch.seconds(), stages=watch.stages)
    return comparison
