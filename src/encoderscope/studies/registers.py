"""Study ``registers``: the high-norm token diagnostic of Darcet et al. (2024) and what it does to NAVE maps.

For each model (default ``zoo:dinov2-vits14``; ``models=[...]`` takes any ViT spec, e.g. the timm DINOv2 pair
``timm:vit_small_patch14_dinov2.lvd142m`` / ``timm:vit_small_patch14_reg4_dinov2.lvd142m`` for users who have those
weights) on the annotated scenes benchmark:

1. per block, the distribution of patch-token L2 norms (padding cells excluded), of the CLS token and of the
   register tokens (``LayerOutput.registers``);
2. high-norm tokens: a patch token is an *outlier* when its norm exceeds ``outlier_ratio`` (2) x the block's median
   patch norm over all images (Darcet et al. report artefact norms several times the typical norm); the
   ``top_share`` (2 %) highest-norm tokens of the last block are also tracked, so the diagnostic says something
   when there are no outliers; where they sit is measured as the share on the scene background;
3. NAVE on the last block (K = 5): the concept with the highest mean norm, its size and its overlap (Jaccard) with
   the high-norm tokens, i.e. whether the tokens form their own concept of isolated background patches;
4. NAVE with those tokens masked (each replaced by the mean of its unmasked 3 x 3 neighbours before clustering):
   CorLoc and mask mIoU with no masking, outliers masked, and the top 2 % masked.

Example:
    >>> out = run(Path("/tmp/registers"), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from encoderscope.capture.extract import iter_batches
from encoderscope.capture.outputs import LayerOutput
from encoderscope.nave import prepare_encoder
from encoderscope.report.figures import new_figure
from encoderscope.studies._common import (
    StudySettings,
    StudySummary,
    localisation,
    maps_by_index,
    nave_runs,
    scenes,
    with_device,
)

DEFAULT_MODELS = ("zoo:dinov2-vits14",)


@dataclass
class RegistersConfig(StudySettings):
    """Settings; :meth:`quick` is the < 60 s variant run by the tests."""

    models: tuple[str, ...] = DEFAULT_MODELS
    random_init: bool = False
    n_images: int = 40
    size: int | str | None = "default"
    outlier_ratio: float = 2.0
    top_share: float = 0.02
    k: int = 5
    batch_size: int = 8

    @classmethod
    def quick(cls, models: tuple[str, ...] = DEFAULT_MODELS, random_init: bool = False) -> RegistersConfig:
        """4 scenes at 112 px."""
        return cls(models=models, random_init=random_init, n_images=4, size=112)


def valid_cells(prepared: Any, grid_hw: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns of the feature grid that hold image content (not padding)."""
    rows = -(-prepared.content_hw[0] * grid_hw[0] // prepared.padded_hw[0])
    cols = -(-prepared.content_hw[1] * grid_hw[1] // prepared.padded_hw[1])
    return rows, cols


def inpaint(grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Replace the masked cells of a ``(C, h, w)`` grid by the mean of their unmasked 3 x 3 neighbours.

    Cells without an unmasked neighbour take the mean of all unmasked cells.

    Example:
        >>> g = torch.ones(1, 3, 3); g[0, 1, 1] = 100.0
        >>> m = torch.zeros(3, 3, dtype=torch.bool); m[1, 1] = True
        >>> float(inpaint(g, m)[0, 1, 1])
        1.0
    """
    keep = (~mask).float()[None, None]
    kernel = torch.ones(1, 1, 3, 3)
    total = F.conv2d(grid[:, None] * keep, kernel, padding=1)[:, 0]
    count = F.conv2d(keep, kernel, padding=1)[0, 0]
    fallback = (grid * keep[0]).sum((1, 2)) / keep.sum().clamp(min=1)
    filled = torch.where(count > 0, total / count.clamp(min=1), fallback[:, None, None])
    return torch.where(mask[None], filled, grid)


@dataclass
class NormStats:
    """Token norms of one model, per block: patch norms (valid cells), CLS and register norms."""

    patch: dict[str, list[np.ndarray]]
    cls: dict[str, list[float]]
    registers: dict[str, list[float]]


def token_norms(encoder: Any, images: list[Any], batch_size: int, autocast: bool = False) -> NormStats:
    """Patch-token norm grids (per image in input order, valid cells) and prefix-token norms for every block."""
    patch: dict[str, dict[int, np.ndarray]] = {}
    stats = NormStats({}, {}, {})
    batches = iter_batches(encoder, images, encoder.depth_layers, batch_size=batch_size, progress=False,
                           autocast=autocast)
    for batch in batches:
        for name, output in batch.outputs.items():
            norms = output.grid.norm(dim=1)
            for j, prepared in enumerate(batch.prepared):
                rows, cols = valid_cells(prepared, tuple(norms.shape[-2:]))
                patch.setdefault(name, {})[batch.indices[j]] = norms[j, :rows, :cols].numpy()
            if output.prefix is not None:
                for j in range(len(batch.prepared)):
                    for kind, token in zip(output.prefix_kinds, output.prefix[j], strict=True):
                        target = stats.cls if kind == "cls" else stats.registers
                        target.setdefault(name, []).append(float(token.norm()))
    # batches group images by padded size: put the grids back in input order
    stats.patch = {name: [grids[i] for i in sorted(grids)] for name, grids in patch.items()}
    return stats


def block_table(stats: NormStats, ratio: float) -> dict[str, dict[str, float]]:
    """Per block: norm quantiles, max/median, outlier share (%), median CLS and register norms."""
    table = {}
    for name, grids in stats.patch.items():
        pooled = np.concatenate([g.ravel() for g in grids])
        median = float(np.median(pooled))
        table[name] = {
            "p1": float(np.percentile(pooled, 1)),
            "median": median,
            "p99": float(np.percentile(pooled, 99)),
            "max": float(pooled.max()),
            "max_over_median": float(pooled.max() / median) if median > 0 else float("nan"),
            "outlier_percent": 100.0 * float((pooled > ratio * median).mean()),
            "cls_median": float(np.median(stats.cls[name])) if stats.cls.get(name) else float("nan"),
            "register_median": float(np.median(stats.registers[name])) if stats.registers.get(name) else float("nan"),
        }
    return table


def _cell_background(scene: Any, grid_hw: tuple[int, int]) -> np.ndarray:
    """Whether the centre pixel of each valid grid cell is scene background."""
    h, w = scene.object_map.shape
    rows = ((np.arange(grid_hw[0]) + 0.5) * h / grid_hw[0]).astype(int).clip(0, h - 1)
    cols = ((np.arange(grid_hw[1]) + 0.5) * w / grid_hw[1]).astype(int).clip(0, w - 1)
    return scene.object_map[rows[:, None], cols[None, :]] == 0


@dataclass(frozen=True)
class MaskHighNorms:
    """A NAVE grid transform: every image's cells whose norm is above ``threshold`` are inpainted
    (:func:`inpaint`) before the depths are combined."""

    threshold: float

    def __call__(self, name: str, output: LayerOutput) -> torch.Tensor:
        assert output.grid is not None
        return torch.stack([inpaint(grid, grid.norm(dim=0) > self.threshold) for grid in output.grid])


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else float("nan")


def study_model(spec: str, cfg: RegistersConfig, scene_list: list[Any]) -> dict[str, Any]:
    """All numbers of one model (see the module docstring) plus example pictures."""
    encoder = prepare_encoder(spec, random_init=cfg.random_init, seed=cfg.seed, size=cfg.size, device=cfg.device)
    images = [scene.image for scene in scene_list]
    stats = token_norms(encoder, images, cfg.batch_size, cfg.autocast)
    blocks = block_table(stats, cfg.outlier_ratio)
    last = encoder.depth_layers[-1]
    grids = stats.patch[last]
    pooled = np.concatenate([g.ravel() for g in grids])
    outlier_threshold = cfg.outlier_ratio * float(np.median(pooled))
    top_threshold = float(np.quantile(pooled, 1.0 - cfg.top_share))
    on_background = {"outlier": [], "top": [], "all": []}  # type: dict[str, list[float]]
    for grid, scene in zip(grids, scene_list, strict=True):
        background = _cell_background(scene, grid.shape)
        on_background["all"].append(float(background.mean()))
        for name, threshold in (("outlier", outlier_threshold), ("top", top_threshold)):
            chosen = grid > threshold
            if chosen.any():
                on_background[name].append(float(background[chosen].mean()))
    variants = {"none": None, "outliers masked": outlier_threshold, f"top {cfg.top_share:.0%} masked": top_threshold}
    scores: dict[str, dict[str, float]] = {}
    maps: dict[str, Any] = {}
    for label, threshold in variants.items():
        transform = None if threshold is None else MaskHighNorms(threshold)
        result = nave_runs(encoder, images, [[last]], [cfg.k], seed=cfg.seed, batch_size=cfg.batch_size,
                           transform=transform, autocast=cfg.autocast)[(0, cfg.k)]
        scores[label] = localisation(result, scene_list)
        maps[label] = result
    plain = {record.index: record.labels for record in maps["none"].records}
    high_cluster = {"share": [], "jaccard_top": [], "norm_ratio": []}  # type: dict[str, list[float]]
    for labels, grid in ((plain[i], grid) for i, grid in enumerate(grids) if i in plain):
        rows, cols = grid.shape
        cells = labels[:rows, :cols]
        means = [grid[cells == c].mean() if (cells == c).any() else -np.inf for c in range(cfg.k)]
        best = int(np.argmax(means))
        high_cluster["share"].append(float((cells == best).mean()))
        high_cluster["jaccard_top"].append(_jaccard(cells == best, grid > top_threshold))
        high_cluster["norm_ratio"].append(float(means[best] / np.median(grid)))
    return {
        "model": spec + (" (random init)" if cfg.random_init else ""),
        "layout": encoder.layout.describe(),
        "blocks": blocks,
        "last_block": last,
        "outlier_threshold": outlier_threshold,
        "top_threshold": top_threshold,
        "background_share": {k: float(np.mean(v)) if v else float("nan") for k, v in on_background.items()},
        "images_with_outliers": int(sum(bool((g > outlier_threshold).any()) for g in grids)),
        "high_norm_concept": {k: float(np.nanmean(v)) for k, v in high_cluster.items()},
        "nave_localisation": scores,
        "_grids": grids,
        "_all_grids": [stats.patch[name] for name in blocks],
        "_maps": {label: maps_by_index(result) for label, result in maps.items()},
    }


def run(out_dir: Path, quick: bool = False, models: list[str] | tuple[str, ...] | None = None,
        random_init: bool = False, config: RegistersConfig | None = None, device: str | None = None,
        autocast: bool = False) -> Path:
    """Run the study into ``out_dir``; ``models`` overrides the default (zoo:dinov2-vits14)."""
    chosen = tuple(models) if models else DEFAULT_MODELS
    if config is not None:
        cfg = config
    elif quick:
        cfg = RegistersConfig.quick(chosen, random_init)
    else:
        cfg = RegistersConfig(models=chosen, random_init=random_init)
    cfg = with_device(cfg, device, autocast)
    config_dict = dataclasses.asdict(cfg)
    summary = StudySummary(Path(out_dir), "registers", quick, config=config_dict, seed=cfg.seed)
    with summary.timed("scenes"):
        scene_list = scenes(cfg.n_images, cfg.seed)
    results = []
    for spec in cfg.models:
        with summary.timed(spec):
            results.append(study_model(spec, cfg, scene_list))
    summary.numbers["models"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
    _write(summary, cfg, results, scene_list)
    return summary.finish()


def _write(summary: StudySummary, cfg: RegistersConfig, results: list[dict[str, Any]], scene_list: list[Any]) -> None:
    summary.text(
        f"{cfg.n_images} scenes of the annotated benchmark (seed {cfg.seed}); a patch token is an outlier when its "
        f"norm is above {cfg.outlier_ratio} x the block's median patch norm; the top {cfg.top_share:.0%} are the "
        f"highest-norm patch tokens of the last block. NAVE: last block, K = {cfg.k}, per-image k-means."
    )
    for r in results:
        rows = [[name, b["p1"], b["median"], b["p99"], b["max"], b["max_over_median"], b["outlier_percent"],
                 b["cls_median"], b["register_median"]] for name, b in r["blocks"].items()]
        summary.table(
            f"Token norms per block: {r['model']} ({r['layout']})",
            ["block", "p1", "median", "p99", "max", "max/median", "outliers (%)", "CLS", "registers"],
            rows, digits=2,
        )
    rows = []
    for r in results:
        bg, hc = r["background_share"], r["high_norm_concept"]
        rows.append([r["model"], r["images_with_outliers"], bg["all"], bg["outlier"], bg["top"], hc["share"],
                     hc["norm_ratio"], hc["jaccard_top"]])
    summary.table(
        "Where the high-norm tokens sit, and the highest-norm NAVE concept (last block)",
        ["model", "images with outliers", "background share, all cells", "background share, outliers",
         f"background share, top {cfg.top_share:.0%}", "high-norm concept: size", "its norm / median",
         f"its Jaccard with top {cfg.top_share:.0%}"],
        rows, digits=2,
    )
    rows = [[r["model"], label, s["corloc"], s["miou"]] for r in results for label, s in r["nave_localisation"].items()]
    summary.table("NAVE with and without high-norm tokens masked", ["model", "masking", "CorLoc", "mIoU (%)"], rows)
    _norm_figure(summary, results)
    _location_figure(summary, results, scene_list, cfg)


def _norm_figure(summary: StudySummary, results: list[dict[str, Any]]) -> None:
    fig, axes = new_figure(1, len(results), figsize=(5 * len(results), 3), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        blocks = list(r["blocks"])
        data = [np.concatenate([g.ravel() for g in grids]) for grids in r["_all_grids"]]
        ax.boxplot(data, whis=(1, 99), showfliers=True, flierprops={"markersize": 2})
        ax.set_xticks(range(1, len(blocks) + 1), [b.split(".")[-1] for b in blocks], fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("block")
        ax.set_ylabel("patch-token norm")
        ax.set_title(r["model"], fontsize=8)
    summary.figure(fig, "norms.png", "Patch-token norms per block (boxes: quartiles, whiskers: 1-99 %, dots beyond).")


def _location_figure(summary: StudySummary, results: list[dict[str, Any]], scene_list: list[Any],
                     cfg: RegistersConfig) -> None:
    from matplotlib.patches import Rectangle

    from encoderscope.report.palette import concept_palette

    n = min(3, len(scene_list))
    fig, axes = new_figure(len(results) * n, 3, figsize=(8, 2.6 * n * len(results)), squeeze=False)
    palette = concept_palette(cfg.k)
    for m, r in enumerate(results):
        for i in range(n):
            row = axes[m * n + i]
            image = np.asarray(scene_list[i].image)
            grid = r["_grids"][i]
            row[0].imshow(image)
            h, w = image.shape[:2]
            ys, xs = np.nonzero(grid > r["top_threshold"])
            cell_h, cell_w = h / grid.shape[0], w / grid.shape[1]
            for y, x in zip(ys, xs, strict=True):
                row[0].add_patch(Rectangle((x * cell_w, y * cell_h), cell_w, cell_h, fill=False, ec="red", lw=1))
            row[0].set_title(f"top {cfg.top_share:.0%} norms (red)", fontsize=7)
            row[0].set_ylabel(r["model"].split(":")[-1], fontsize=6)
            row[1].imshow(grid, cmap="inferno")
            row[1].set_title(f"{r['last_block']} patch norms", fontsize=7)
            if i in r["_maps"]["none"]:
                row[2].imshow(palette[r["_maps"]["none"][i] % cfg.k])
            row[2].set_title(f"NAVE K={cfg.k}", fontsize=7)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
    summary.figure(fig, "locations.png", "High-norm tokens on the image (red cells), the norm map and the NAVE map.")
