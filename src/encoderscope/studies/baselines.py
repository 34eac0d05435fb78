"""Study ``baselines``: NAVE against SLIC and Felzenszwalb superpixels at matched region counts.

The NAVE paper compares its maps with SLIC and Felzenszwalb "adjusted to return a similar number of regions"
(docs/methods/nave.md#the-papers-experiments). Here, on the annotated scenes benchmark, for K = 3..10:

* NAVE maps (per-image k-means, K concepts) of ``zoo:dinov2-vits14`` (last block, and blocks 9-11) and of
  ``zoo:efficientnet-lite0`` (stage ends ``_blocks.4``, ``_blocks.10``, ``_blocks.15``);
* SLIC and Felzenszwalb with their parameter bisected to give about K regions
  (:func:`encoderscope.nave.baselines.baseline_maps`);

scored with CorLoc (docs/methods/corloc.md, pixel thresholds) and mask mIoU (Hungarian matching of regions to the
objects and the background). Because a NAVE concept can be split into several connected pieces while a superpixel is
one piece, the mean number of connected regions per image is reported too.

Example:
    >>> out = run(Path("/tmp/baselines"), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from skimage.measure import label as connected_label

from encoderscope.nave import prepare_encoder
from encoderscope.nave.result import NaveResult
from encoderscope.report.figures import new_figure
from encoderscope.studies._common import (
    SceneStudySettings,
    StudySummary,
    layer_label,
    localisation,
    maps_by_index,
    nave_runs,
    scenes,
    with_device,
)


@dataclass
class NaveEntry:
    """One NAVE configuration: model spec and layer set."""

    spec: str
    layers: list[str]
    random_init: bool = False

    @property
    def name(self) -> str:
        """Display name, e.g. ``NAVE dinov2-vits14 blocks.11``."""
        suffix = " (random init)" if self.random_init else ""
        return f"NAVE {self.spec.split(':')[-1]} {layer_label(self.layers)}{suffix}"


def default_entries() -> list[NaveEntry]:
    """DINOv2 last block and blocks 9-11; EfficientNet-Lite0 stage ends 3, 5 and 7."""
    return [
        NaveEntry("zoo:dinov2-vits14", ["blocks.11"]),
        NaveEntry("zoo:dinov2-vits14", ["blocks.9", "blocks.10", "blocks.11"]),
        NaveEntry("zoo:efficientnet-lite0", ["_blocks.4", "_blocks.10", "_blocks.15"]),
    ]


@dataclass
class BaselinesConfig(SceneStudySettings):
    """Settings; :meth:`quick` is the < 60 s variant run by the tests."""

    methods: tuple[str, ...] = ("slic", "felzenszwalb")
    entries: list[NaveEntry] = field(default_factory=default_entries)
    gallery_images: int = 3

    @classmethod
    def quick(cls) -> BaselinesConfig:
        """3 scenes at 112 px, K in {3, 5}, the DINOv2 last block only."""
        return cls(n_images=3, ks=(3, 5), size=112, entries=default_entries()[:1], gallery_images=2)


def region_count(label_map: np.ndarray) -> int:
    """Number of 4-connected regions of a label map (every label's pieces counted separately).

    Example:
        >>> region_count(np.array([[0, 1, 0], [0, 1, 0]]))
        3
    """
    return int(connected_label(np.asarray(label_map) + 1, background=0, connectivity=1).max())


def _score(result: NaveResult, scene_list: list[Any]) -> dict[str, float]:
    scores = localisation(result, scene_list)
    scores["regions"] = float(np.mean([region_count(m) for m in maps_by_index(result).values()]))
    return scores


def run(out_dir: Path, quick: bool = False, config: BaselinesConfig | None = None, device: str | None = None,
        autocast: bool = False) -> Path:
    """Run the study into ``out_dir``; returns it."""
    from encoderscope.nave.baselines import baseline_maps

    cfg = with_device(config or (BaselinesConfig.quick() if quick else BaselinesConfig()), device, autocast)
    summary = StudySummary(Path(out_dir), "baselines", quick, config=dataclasses.asdict(cfg), seed=cfg.seed)
    with summary.timed("scenes"):
        scene_list = scenes(cfg.n_images, cfg.seed)
    images = [scene.image for scene in scene_list]
    results: dict[str, dict[int, dict[str, float]]] = {}
    examples: dict[str, dict[int, np.ndarray]] = {}  # image index -> map, at K = k_show
    k_show = 5 if 5 in cfg.ks else cfg.ks[-1]
    by_model: dict[tuple[str, bool], list[NaveEntry]] = {}
    for entry in cfg.entries:
        by_model.setdefault((entry.spec, entry.random_init), []).append(entry)
    for (spec, random_init), entries in by_model.items():
        with summary.timed(spec):
            encoder = prepare_encoder(spec, random_init=random_init, seed=cfg.seed, size=cfg.size, device=cfg.device)
            runs = nave_runs(encoder, images, [e.layers for e in entries], cfg.ks, seed=cfg.seed, autocast=cfg.autocast)
        for s, entry in enumerate(entries):
            results[entry.name] = {k: _score(runs[(s, k)], scene_list) for k in cfg.ks}
            examples[entry.name] = maps_by_index(runs[(s, k_show)])
    for method in cfg.methods:
        with summary.timed(method):
            results[method] = {}
            for k in cfg.ks:
                result = baseline_maps(images, method, k=k, seed=cfg.seed, progress=False)
                results[method][k] = _score(result, scene_list)
                if k == k_show:
                    examples[method] = maps_by_index(result)
    summary.numbers.update(results=results, ks=list(cfg.ks), n_images=cfg.n_images)
    _write(summary, cfg, results, examples, scene_list, k_show)
    return summary.finish()


def _write(summary: StudySummary, cfg: BaselinesConfig, results: dict[str, Any], examples: dict[str, Any],
           scene_list: list[Any], k_show: int) -> None:
    from encoderscope.report import overlay, panel_grid

    ks = list(cfg.ks)
    summary.text(
        f"{cfg.n_images} scenes of the benchmark (seed {cfg.seed}). CorLoc: reference thresholds (components "
        "> 784 px, 14 px border, IoU >= 0.5, best component chosen with the ground truth). mIoU: Hungarian matching "
        "of regions to objects and background. Regions: mean number of 4-connected regions per image."
    )
    for metric, title in (("corloc", "CorLoc (%)"), ("miou", "mask mIoU (%)"), ("regions", "connected regions")):
        summary.table(f"{title} per K", ["method", *[f"K={k}" for k in ks], "mean"],
                      [[name, *[by_k[k][metric] for k in ks], float(np.mean([by_k[k][metric] for k in ks]))]
                       for name, by_k in results.items()])
    fig, axes = new_figure(1, 2, figsize=(10, 3.2))
    for name, by_k in results.items():
        style = ":" if not name.startswith("NAVE") else "-"
        for ax, metric in zip(axes, ("corloc", "miou"), strict=True):
            ax.plot(ks, [by_k[k][metric] for k in ks], style, marker="o", ms=3, label=name)
    for ax, ylabel in zip(axes, ("CorLoc (%)", "mIoU (%)"), strict=True):
        ax.set(xlabel="K (regions asked for)", ylabel=ylabel)
    axes[1].legend(fontsize=6)
    summary.figure(fig, "scores.png", "CorLoc and mIoU per K: NAVE (solid) and superpixels (dotted).")
    names = list(examples)
    cells = [[scene.image, *[overlay(scene.image, examples[n][i]) if i in examples[n] else None for n in names]]
             for i, scene in enumerate(scene_list[: cfg.gallery_images])]
    grid = panel_grid(cells, row_labels=[s.image_id for s in scene_list[: cfg.gallery_images]],
                      col_labels=["image", *names], cell_size=150)
    summary.picture(grid, "maps.png", f"Maps at K={k_show} on the first scenes.")
