"""Study ``lwta``: DISCOVER at a CPU scale (docs/methods/lwta.md#a-cpu-scale-reproduction).

1. A small ViT (patch 4, U in {1, 2, 4, 8, 16}) and a narrow ResNet-10 (U in {1, 2, 4, 8}) are trained from scratch
   on a seeded Fashion-MNIST subset (28 -> 32 px). U=1 is the GELU/ReLU baseline.
2. Each is evaluated with logits averaged over S stochastic passes (6 ViT, 3 ResNet), one pass, and the
   deterministic argmax pass; the measured fraction of non-zero LWTA outputs is compared with 1/U.
3. Dissection with the ``annotations`` scorer (one-hot class labels of the probe images, SoftWPMI with the paper's
   defaults): final-layer units (``head`` / ``fc``) are matched to class names (top-1/top-5), the last LWTA layer
   is described (CLS token for the ViT, spatial mean for the ResNet), and per-image explanations list the winner of
   each LWTA block with its concept.
4. Real networks (full run only): zoo:dinov2-vits14 (``blocks.11.mlp.act``, CLS) and zoo:efficientnet-lite0
   (``_blocks.15``, mean) named with the ``labelspace`` scorer (a stand-in for CLIP) on the zoo photos and
   generated scenes, with galleries.

Example:
    >>> result = run(Path("/tmp/lwta-study"), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from encoderscope._io import write_csv
from encoderscope._progress import console, warn
from encoderscope.studies._common import StudySettings, StudySummary, with_device


@dataclass
class StudyPlan(StudySettings):
    """Sizes of one run (``quick`` keeps it under a minute), and where it runs (``device``, ``autocast``)."""

    vit_us: tuple[int, ...] = (1, 2, 4, 8, 16)
    resnet_us: tuple[int, ...] = (1, 2, 4, 8)
    train_limit: int = 10000
    test_limit: int = 1000
    epochs: int = 4
    batch_size: int = 64
    probe: int = 300
    embed_dim: int = 48
    depth: int = 3
    resnet_channels: tuple[int, ...] = (16, 32, 64, 128)
    real_networks: bool = True
    real_concepts: str = "words-1k"
    scenes: int = 9
    explain_images: int = 3

    @classmethod
    def quick(cls) -> StudyPlan:
        """The ``--quick`` plan."""
        return cls(
            vit_us=(4,),
            resnet_us=(2,),
            train_limit=256,
            test_limit=64,
            epochs=1,
            batch_size=64,
            probe=80,
            embed_dim=32,
            depth=2,
            resnet_channels=(8, 8, 16, 16),
            real_networks=False,
            explain_images=1,
        )


@dataclass
class LwtaStudyResult:
    """Rows of the trained models, dissection summaries and the explanation examples."""

    plan: StudyPlan
    rows: list[dict[str, Any]]
    sparsity: list[dict[str, Any]]
    explanations: list[dict[str, Any]]
    real: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def save(self, folder: Path) -> Path:
        """summary.md, numbers.json (the rows and the real networks), results.csv, sparsity.csv, explanations.csv,
        real_networks.csv, the figures and run.json."""
        quick = dataclasses.replace(self.plan, device=None, autocast=False) == StudyPlan.quick()
        summary = StudySummary(Path(folder), "lwta", quick, config=dataclasses.asdict(self.plan), seed=self.plan.seed)
        tables = (("results", self.rows, "Trained models: accuracy (S passes, one pass, deterministic), measured "
                   "sparsity and the final layer's dissection"), ("sparsity", self.sparsity, "Non-zero fraction per "
                   "LWTA layer"), ("explanations", self.explanations, "Per-image explanations: the winners of the "
                   "last LWTA layer's blocks"), ("real_networks", self.real, "Real networks named by the labelspace "
                   "scorer"))
        for name, rows, title in tables:
            if rows:
                write_csv(summary.out_dir / f"{name}.csv", list(rows[0]), rows)
                summary.table(title, list(rows[0]), [list(row.values()) for row in rows], digits=3)
        summary.numbers.update(rows=self.rows, real=self.real)
        self.plot(summary)
        return summary.finish(seconds=self.seconds)

    def plot(self, summary: Any) -> None:
        """accuracy_vs_U.png and sparsity_vs_U.png, through the study's summary."""
        from encoderscope.report.figures import new_figure

        # one accuracy scale for both panels, from 0 to 1 with chance marked, so that small gaps do not look large
        fig, axes = new_figure(1, 2, figsize=(8, 3.2), sharey=True)
        for arch, ax in zip(("vit", "resnet"), axes, strict=True):
            rows = [r for r in self.rows if r["arch"] == arch]
            if not rows:
                ax.set_visible(False)
                continue
            us = [r["U"] for r in rows]
            ax.plot(us, [r["acc_S"] for r in rows], "o-", label=f"mean of S={rows[0]['passes']} passes")
            ax.plot(us, [r["acc_single"] for r in rows], "s--", label="one pass")
            ax.plot(us, [r["acc_deterministic"] for r in rows], "^:", label="deterministic")
            ax.set_xscale("log", base=2)
            ax.set_xticks(us, [str(u) for u in us])
            ax.set_xlabel("U (competitors per block)")
            ax.axhline(0.1, color="grey", lw=0.8, ls="--", label="chance (10 classes)")
            ax.set_ylim(0, 1)
            ax.set_ylabel("test accuracy")
            ax.set_title(arch)
            ax.legend(fontsize=7)
        fig.tight_layout()
        summary.figure(fig, "accuracy_vs_U.png", "Test accuracy against U.", dpi=110)
        fig, ax = new_figure(figsize=(4.2, 3.2))
        for arch, marker in (("vit", "o"), ("resnet", "s")):
            rows = [r for r in self.sparsity if r["arch"] == arch]
            ax.scatter(
                [r["U"] for r in rows], [r["active_fraction"] for r in rows], marker=marker, label=arch, alpha=0.6
            )
        us = sorted({r["U"] for r in self.sparsity})
        ax.plot(us, [1 / u for u in us], "k-", lw=0.8, label="1/U")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("U")
        ax.set_ylabel("measured non-zero fraction")
        ax.legend(fontsize=7)
        fig.tight_layout()
        summary.figure(fig, "sparsity_vs_U.png", "Measured non-zero fraction of the LWTA outputs against 1/U.",
                       dpi=110)


def _last_lwta(model: torch.nn.Module) -> str:
    from encoderscope.lwta import lwta_layers

    return list(lwta_layers(model))[-1]


def _train_and_dissect(
    arch: str, U: int, plan: StudyPlan, data: tuple, probe: Any, folder: Path, progress: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    from encoderscope.data.zoo_images import FASHION_MNIST_CLASSES
    from encoderscope.dissect import AnnotationScorer, describe_units, final_layer_accuracy, neuron_activations
    from encoderscope.lwta.models import ModelConfig, encoder_for
    from encoderscope.lwta.train import TrainConfig, train

    names = list(FASHION_MNIST_CLASSES)
    model_cfg = ModelConfig(
        arch=arch,
        U=U,
        class_names=names,
        embed_dim=plan.embed_dim,
        depth=plan.depth,
        num_heads=4 if plan.embed_dim >= 64 else 2,
        channels=plan.resnet_channels,
        seed=plan.seed,
    )
    cfg = TrainConfig(
        model=model_cfg,
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        train_limit=plan.train_limit,
        test_limit=plan.test_limit,
        seed=plan.seed,
        device=plan.device,
        autocast=plan.autocast,
    )
    result = train(cfg, data=data, progress=progress)
    result.save(folder / "models" / f"{arch}-U{U}")
    ev = result.evaluation
    encoder = encoder_for(result.model, model_cfg, spec=f"lwta:{arch}-U{U}")
    labels = [names.index(item.label) for item in probe.items]
    scorer = AnnotationScorer.from_labels(labels, names, keys=[item.key for item in probe.items])
    head = "head" if arch == "vit" else "fc"
    head_acts = neuron_activations(encoder, probe, head, seed=plan.seed, progress=progress, autocast=plan.autocast)
    head_dis = describe_units(head_acts, scorer.scores(head_acts.items, names), names, scorer=scorer.name,
                              device=encoder.device)
    head_dis.save(folder / "dissection" / f"{arch}-U{U}" / head, galleries=0)
    final = final_layer_accuracy(head_dis, names)
    layer = _last_lwta(result.model)
    acts = neuron_activations(encoder, probe, layer, seed=plan.seed, progress=progress, autocast=plan.autocast)
    dis = describe_units(acts, scorer.scores(acts.items, names), names, scorer=scorer.name, device=encoder.device)
    dis.save(folder / "dissection" / f"{arch}-U{U}" / layer, galleries=1 if U > 1 else 0)
    covered = len({dis.concept_of(u) for u in range(dis.n_units)})
    explanations = []
    if U > 1:
        for image in range(min(plan.explain_images, len(probe.items))):
            for rank, row in enumerate(dis.explain(image, block_size=U)[:5]):
                explanations.append(
                    {
                        "model": f"{arch}-U{U}",
                        "layer": layer,
                        "image": acts.keys[image],
                        "true_class": probe.items[image].label,
                        "rank": rank + 1,
                        "block": row.block,
                        "unit": row.unit,
                        "concept": row.concept,
                        "activation": row.activation,
                    }
                )
    sparsity = [
        {"arch": arch, "U": U, "layer": name, "active_fraction": value, "expected": ev.expected_fraction[name]}
        for name, value in ev.active_fraction.items()
    ]
    active = [v for v in ev.active_fraction.values()]
    row = {
        "arch": arch,
        "U": U,
        "passes": ev.passes,
        "acc_S": ev.accuracy,
        "acc_single": ev.accuracy_single,
        "acc_deterministic": ev.accuracy_deterministic,
        "active_fraction_mean": sum(active) / len(active),
        "expected_fraction": (1 / U) if U > 1 else float("nan"),
        "final_layer_top1": final["top1"],
        "final_layer_top5": final["top5"],
        "last_lwta_layer": layer,
        "last_lwta_concepts_used": covered,
        "train_seconds": result.seconds,
    }
    console().print(
        f"lwta study: {arch} U={U}: acc S-pass {ev.accuracy:.3f}, det {ev.accuracy_deterministic:.3f}, "
        f"active {row['active_fraction_mean']:.4f}, final-layer top-1 {final['top1']:.2f}"
    )
    return row, sparsity, explanations


def _real_networks(plan: StudyPlan, folder: Path, progress: bool) -> list[dict[str, Any]]:
    """Dissect two pretrained zoo networks with the labelspace scorer (skipped with a warning when missing)."""
    from encoderscope.data.images import open_images
    from encoderscope.dissect import LabelspaceScorer, describe_units, load_concepts, neuron_activations
    from encoderscope.errors import EncoderscopeError
    from encoderscope.zoo import load_model

    try:
        from encoderscope.data.scenes import SceneConfig, generate_scenes

        scenes = [
            s.image
            for s in generate_scenes(
                plan.scenes, seed=plan.seed, config=SceneConfig(kinds=("fashion", "horse", "shape"))
            )
        ]
    except Exception as err:  # scenes are optional here
        warn(f"scenes skipped: {err}")
        scenes = []
    probe = open_images(["zoo:photos", *scenes])
    concepts = load_concepts(plan.real_concepts)
    rows = []
    try:
        effnet = load_model("zoo:efficientnet-lite0", device=plan.device)
        scorer = LabelspaceScorer(effnet)
        P = None
        for spec, layer, encoder in (
            ("zoo:efficientnet-lite0", "_blocks.15", effnet),
            ("zoo:dinov2-vits14", "blocks.11.mlp.act", None),
        ):
            encoder = encoder or load_model(spec, device=plan.device)
            acts = neuron_activations(encoder, probe, layer, seed=plan.seed, progress=progress, batch_size=8,
                                      autocast=plan.autocast)
            if P is None:
                P = scorer.scores(acts.items, concepts)
            dis = describe_units(
                acts,
                P,
                concepts,
                scorer=scorer.name,
                config={"model": spec, "weights": encoder.weights, "seed": plan.seed},
                device=encoder.device,
            )
            out = folder / "dissection" / spec.removeprefix("zoo:") / layer
            dis.save(out, galleries=16)
            used = len({dis.concept_of(u) for u in range(dis.n_units)})
            rows.append(
                {
                    "model": spec,
                    "layer": layer,
                    "pool": acts.pool,
                    "n_images": len(acts.items),
                    "n_units": dis.n_units,
                    "n_concepts": len(concepts),
                    "distinct_descriptions": used,
                    "examples": "; ".join(f"{u}: {dis.concept_of(u)}" for u in range(8)),
                }
            )
    except EncoderscopeError as err:  # missing zoo packages: the trained-model part still stands
        warn(f"real-network dissection skipped: {err}")
    return rows


def run(
    out_dir: Path,
    quick: bool = False,
    progress: bool = True,
    parts: tuple[str, ...] = ("vit", "resnet", "real"),
    device: str | None = None,
    autocast: bool = False,
) -> LwtaStudyResult:
    """Run the study into ``out_dir`` (see the module docstring); ``quick`` is the under-a-minute variant.

    ``parts`` selects ``vit``, ``resnet`` and ``real`` (the pretrained networks), e.g. to run them in parallel.
    ``device``/``autocast``: where the networks train and run, and in which precision.
    """
    from encoderscope.data.images import open_images
    from encoderscope.lwta.models import ModelConfig
    from encoderscope.lwta.train import fashion_tensors

    start = time.perf_counter()
    plan = with_device(StudyPlan.quick() if quick else StudyPlan(), device, autocast)
    out_dir = Path(out_dir)
    base = ModelConfig(seed=plan.seed)
    train_x, train_y = fashion_tensors("train", base, plan.train_limit, plan.seed)
    test_x, test_y = fashion_tensors("t10k", base, plan.test_limit, plan.seed)
    data = (train_x, train_y, test_x, test_y)
    probe = open_images("zoo:fashion-mnist", limit=plan.probe)
    rows, sparsity, explanations = [], [], []
    for arch, us in (("vit", plan.vit_us), ("resnet", plan.resnet_us)):
        if arch not in parts:
            continue
        for U in us:
            row, sp, ex = _train_and_dissect(arch, U, plan, data, probe, out_dir, progress)
            rows.append(row)
            sparsity.extend(sp)
            explanations.extend(ex)
    result = LwtaStudyResult(plan, rows, sparsity, explanations, [], time.perf_counter() - start)
    result.save(out_dir)
    if plan.real_networks and "real" in parts:
        result.real = _real_networks(plan, out_dir, progress)
        result.seconds = time.perf_counter() - start
        result.save(out_dir)
    return result


def study(out_dir: Path, quick: bool, device: str | None = None, autocast: bool = False) -> None:
    """Registry entry point for ``encoderscope study lwta``."""
    result = run(out_dir, quick=quick, device=device, autocast=autocast)
    console().print(f"lwta study written to {out_dir} in {result.seconds:.0f} s")
