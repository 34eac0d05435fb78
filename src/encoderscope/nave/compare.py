"""Comparing concept maps of several models (or layer sets, or baselines) on the same images.

For every image, each result's map is renumbered to agree with the FIRST result's map by Hungarian matching on
pixel overlap (:func:`encoderscope.report.palette.match_labels`), so the same colour means the matched concept;
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

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope._io import versions, write_json, write_text
from encoderscope.errors import ParameterError
from encoderscope.nave.result import NaveResult


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index between two label maps of the same shape (non-negative labels).

    Computed from the contingency table (one ``bincount``), with the same formula and the same convention as
    :func:`sklearn.metrics.adjusted_rand_score` (1.0 when both partitions are trivial).

    Example:
        >>> adjusted_rand(np.array([[0, 0, 1, 1]]), np.array([[5, 5, 2, 2]]))
        1.0
    """
    from encoderscope.report.palette import overlap_matrix

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
class Comparison:
    """Several results on the same images, with matched concept ids and agreement scores.

    Attributes:
        results: the compared results (the first is the reference for colour matching).
        keys: image keys present in every result, in the first result's order.
        mappings: ``mappings[m][i]`` renumbers result ``m``'s concept ids on image ``i`` to the reference's.
        ari: ``(n_images, n_results, n_results)`` pairwise adjusted Rand index per image.
        skipped: image keys left out because some result lacks them.
    """

    results: list[NaveResult]
    keys: list[str]
    mappings: list[list[np.ndarray]]
    ari: np.ndarray
    skipped: list[str] = field(default_factory=list)

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

    def plot(self, image: int | str = 0) -> np.ndarray:
        """``(H, W, 3)`` uint8 figure: the photo and every result's map of one image, colours matched."""
        from encoderscope.nave.pictures import comparison_panels
        from encoderscope.report import concept_palette, side_by_side

        index = self.keys.index(image) if isinstance(image, str) else image
        top = max(int(np.max(self.mappings[m][index])) for m in range(len(self.results)))
        return side_by_side(comparison_panels(self, index, concept_palette(top + 1)))

    def ari_csv(self) -> str:
        """CSV rows ``key, model_a, model_b, ari`` (one per image and pair) plus ``mean`` rows."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["key", "model_a", "model_b", "ari"])
        names, n = self.names, len(self.results)
        pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
        for i, key in enumerate(self.keys):
            for a, b in pairs:
                writer.writerow([key, names[a], names[b], f"{self.ari[i, a, b]:.6f}"])
        for a, b in pairs:
            writer.writerow(["mean", names[a], names[b], f"{self.mean_ari[a, b]:.6f}"])
        return buffer.getvalue()

    def run_info(self) -> dict[str, Any]:
        """run.json content: each result's configuration and the agreement scores."""
        return {
            "results": [{"name": r.name, "config": r.config, "skipped": r.skipped, "notes": r.notes}
                        for r in self.results],
            "images": self.keys,
            "skipped_images": self.skipped,
            "mean_ari": {"names": self.names, "matrix": np.round(self.mean_ari, 6).tolist()},
            "versions": versions(),
        }

    def save(self, out: str | os.PathLike[str], report: bool = True) -> Path:
        """Write ``run.json``, ``ari.csv``, each result's ``labels.npz`` under ``results/<n>/`` and the report."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for n, result in enumerate(self.results):
            result.save(folder / "results" / f"{n:02d}", report=False)
        write_text(folder / "ari.csv", self.ari_csv())
        write_json(folder / "run.json", self.run_info())
        if report:
            from encoderscope.nave.pictures import write_pictures

            write_pictures(self.results, folder, comparison=self)
        return folder


def compare_results(results: Sequence[NaveResult]) -> Comparison:
    """Match concepts across ``results`` (the first is the reference) and score their agreement (module docstring)."""
    from encoderscope.report.palette import match_labels

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
    models: Sequence[Any],
    images: Any,
    layers: Any = None,
    k: int | str = 5,
    seed: int = 0,
    baselines: Sequence[str] = (),
    progress: bool = True,
    **options: Any,
) -> Comparison:
    """Run NAVE with every model on the same images (plus superpixel baselines) and compare the maps.

    Args:
        models: specs, modules or encoders; ``"random-init:SPEC"`` builds SPEC without weights (seeded);
            ``"baseline:slic"`` / ``"baseline:felzenszwalb"`` are superpixel maps.
        images: as for :func:`~encoderscope.nave.nave`.
        layers: layers for every model (``None``: each model's last block or stage).
        k: concepts per map (baselines use it as their region count; ``"auto"`` gives them 5).
        seed: seed of every random choice.
        baselines: extra baselines, ``"slic"`` and/or ``"felzenszwalb"``.
        progress: show progress bars.
        **options: passed to :func:`~encoderscope.nave.nave` (``method``, ``backend``, ``random_init``, ``device``,
            ``autocast``...).
    """
    from encoderscope.data.images import ImageSet, open_images
    from encoderscope.nave.baselines import baseline_maps
    from encoderscope.nave.pipeline import nave
    from encoderscope.zoo import load_model

    image_set = images if isinstance(images, ImageSet) else open_images(images)
    region_count = k if isinstance(k, int) else 5
    results = []
    for model in [*models, *(f"baseline:{name}" for name in baselines)]:
        if isinstance(model, str) and model.startswith("baseline:"):
            results.append(baseline_maps(image_set, model.split(":", 1)[1], region_count, seed, progress=progress))
        elif isinstance(model, str) and model.startswith("random-init:"):
            encoder = load_model(model.split(":", 1)[1], random_init=True, seed=seed, device=options.get("device"))
            results.append(nave(encoder, image_set, layers, k=k, seed=seed, progress=progress, **options))
        else:
            results.append(nave(model, image_set, layers, k=k, seed=seed, progress=progress, **options))
    return compare_results(results)
