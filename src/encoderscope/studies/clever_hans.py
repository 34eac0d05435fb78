"""Study ``clever-hans``: a watermark shortcut in the training set, seen by NAVE (docs/methods/nave.md).

Two small classifiers (a ResNet-10 "cnn" and a 4-block "vit", :mod:`encoderscope.studies.training`) are trained on
Fashion-MNIST twice: on clean data, and with a fixed logo stamp (:mod:`encoderscope.data.watermark`) in the
bottom-right corner of ``share`` (default 95 %) of the training images of one class (default "Shirt"). Then:

(a) the Clever Hans test: accuracy on the target class with and without the stamp, and the share of other classes'
    test images read as the target class once they carry the stamp;
(b) NAVE per depth on stamped test images: the best IoU between a concept and the stamp's pixel mask, and the depth
    from which a concept captures the stamp (IoU >= 0.5 on most images);
(c) information saturation, per depth (definitions in ``docs/studies/clever-hans.md``):
    ``NMI_wm`` = normalised mutual information between the concept map and the stamp mask (how much of the
    clustering the stamp explains), ``NMI_obj`` = the same against the garment mask (object/background separation),
    measured on the clean and on the stamped version of the same test images, and
    ``saturation = NMI_obj(clean) - NMI_obj(stamped)``: the object information the stamp pushes out of the map.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = run(Path(tempfile.mkdtemp()), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.metrics import normalized_mutual_info_score

from encoderscope.data.watermark import Watermark, stamp_array
from encoderscope.data.zoo_images import FASHION_MNIST_CLASSES
from encoderscope.report.figures import new_figure
from encoderscope.report.palette import concept_palette
from encoderscope.studies._common import StudySettings, StudySummary, maps_by_index, nave_runs, with_device
from encoderscope.studies.training import as_encoder, fashion_arrays, predict, train_classifier

CAPTURE_IOU = 0.5


@dataclass
class CleverHansConfig(StudySettings):
    """Settings; :meth:`quick` gives the < 60 s variant run by the tests."""

    size: int = 64
    train_limit: int = 10000
    test_limit: int = 1000
    epochs: int = 4
    batch_size: int = 64
    target_class: int = 6  # "Shirt"
    share: float = 0.95
    archs: tuple[str, ...] = ("cnn", "vit")
    k: int = 4
    capture_ks: tuple[int, ...] = (4, 6, 8)
    figure_ks: tuple[int, ...] = (4, 6)
    nave_images: int = 32
    object_threshold: int = 40
    watermark: Watermark = dataclasses.field(
        default_factory=lambda: Watermark(kind="logo", size=0.25, corner="bottom-right", margin=0.02)
    )

    @classmethod
    def quick(cls) -> CleverHansConfig:
        """Small images, a few hundred training images, one epoch, 6 NAVE images."""
        return cls(size=32, train_limit=192, test_limit=128, epochs=1, nave_images=3, capture_ks=(4, 6), figure_ks=(6,))


def _rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images[..., None], 3, axis=-1)


def _stamp(images: np.ndarray, config: CleverHansConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return stamp_array(images, config.watermark, seed=seed)


def poison(images: np.ndarray, labels: np.ndarray, config: CleverHansConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stamp ``share`` of the target class's images (seeded choice); returns the images and the stamped flags."""
    out = images.copy()
    target = np.flatnonzero(labels == config.target_class)
    rng = np.random.default_rng([config.seed, 1])
    chosen = np.sort(rng.choice(target, size=round(config.share * len(target)), replace=False))
    if len(chosen):
        out[chosen], _ = _stamp(images[chosen], config, config.seed)
    flags = np.zeros(len(labels), dtype=bool)
    flags[chosen] = True
    return out, flags


def clever_hans_test(model: Any, model_config: Any, x: np.ndarray, y: np.ndarray, x_stamped: np.ndarray,
                     target: int) -> dict[str, float]:
    """Accuracies (%) on clean and stamped test images, for the target class and the others."""
    clean = predict(model, x, model_config)
    stamped = predict(model, x_stamped, model_config)
    is_target = y == target
    others = ~is_target
    return {
        "acc_clean": 100 * float((clean == y).mean()),
        "acc_target_clean": 100 * float((clean[is_target] == target).mean()),
        "acc_target_stamped": 100 * float((stamped[is_target] == target).mean()),
        "acc_others_clean": 100 * float((clean[others] == y[others]).mean()),
        "acc_others_stamped": 100 * float((stamped[others] == y[others]).mean()),
        "others_read_as_target_clean": 100 * float((clean[others] == target).mean()),
        "others_read_as_target_stamped": 100 * float((stamped[others] == target).mean()),
    }


def best_iou(label_map: np.ndarray, mask: np.ndarray) -> float:
    """The largest IoU between one concept's region and a boolean mask.

    Example:
        >>> labels = np.array([[0, 0], [1, 1]])
        >>> best_iou(labels, np.array([[False, False], [True, False]]))
        0.5
    """
    best = 0.0
    for concept in np.unique(label_map):
        region = label_map == concept
        union = np.logical_or(region, mask).sum()
        if union:
            best = max(best, float(np.logical_and(region, mask).sum() / union))
    return best


def nmi(label_map: np.ndarray, mask: np.ndarray) -> float:
    """Normalised mutual information (arithmetic normalisation) between a concept map and a boolean mask.

    Example:
        >>> round(nmi(np.array([0, 0, 1, 1]), np.array([False, False, True, True])), 3)
        1.0
    """
    return float(normalized_mutual_info_score(mask.ravel().astype(int), label_map.ravel()))


def depth_metrics(
    clean_maps: list[np.ndarray], stamped_maps: list[np.ndarray], stamp_masks: np.ndarray, object_masks: np.ndarray
) -> dict[str, float]:
    """Per-depth means over images: watermark IoU/NMI/capture rate, object NMI clean/stamped and the saturation."""
    iou = [best_iou(m, w) for m, w in zip(stamped_maps, stamp_masks, strict=True)]
    nmi_wm = [nmi(m, w) for m, w in zip(stamped_maps, stamp_masks, strict=True)]
    obj_clean = [nmi(m, o) for m, o in zip(clean_maps, object_masks, strict=True)]
    obj_stamped = [nmi(m, o & ~w) for m, o, w in zip(stamped_maps, object_masks, stamp_masks, strict=True)]
    return {
        "wm_iou": float(np.mean(iou)),
        "wm_captured": 100 * float(np.mean(np.array(iou) >= CAPTURE_IOU)),
        "nmi_wm": float(np.mean(nmi_wm)),
        "nmi_obj_clean": float(np.mean(obj_clean)),
        "nmi_obj_stamped": float(np.mean(obj_stamped)),
        "saturation": float(np.mean(obj_clean) - np.mean(obj_stamped)),
    }


def capture_by_k(maps_by_k: dict[int, list[np.ndarray]], stamp_masks: np.ndarray) -> dict[int, dict[str, float]]:
    """Per K: mean stamp IoU and the share (%) of images whose best concept captures the stamp (IoU >= 0.5).

    Example:
        >>> mask = np.array([[[True, False], [False, False]]])
        >>> capture_by_k({2: [np.array([[1, 0], [0, 0]])]}, mask)
        {2: {'wm_iou': 1.0, 'wm_captured': 100.0}}
    """
    out = {}
    for k, maps in maps_by_k.items():
        iou = np.array([best_iou(m, w) for m, w in zip(maps, stamp_masks, strict=True)])
        out[k] = {"wm_iou": float(iou.mean()), "wm_captured": 100 * float((iou >= CAPTURE_IOU).mean())}
    return out


def _write_capture_by_k(summary: StudySummary, cfg: CleverHansConfig,
                        per_k: dict[str, dict[str, dict[int, dict[str, float]]]]) -> None:
    ks = list(cfg.capture_ks)
    rows = [[name, depth, *[v for k in ks for v in (by_k[k]["wm_iou"], by_k[k]["wm_captured"])]]
            for name, depths in per_k.items() for depth, by_k in depths.items()]
    summary.table(
        "(b) Stamp capture against the number of concepts (stamped test images; stamp IoU / captured %)",
        ["model", "depth", *[f"{label}, K={k}" for k in ks for label in ("IoU", "captured")]],
        rows, digits=3,
    )
    firsts = {name: {k: first_capture_depth({d: by_k[k] for d, by_k in depths.items()}) for k in ks}
              for name, depths in per_k.items()}
    summary.numbers["first_capture_depth_by_k"] = firsts
    summary.text("First depth that captures the stamp on at least half the images, per K: " + "; ".join(
        f"{name}: " + ", ".join(f"K={k} {depth}" for k, depth in by_k.items()) for name, by_k in firsts.items()
    ) + ".")


def _usable_depths(encoder: Any, size: int, k: int) -> list[str]:
    from encoderscope.capture.layers import list_layers

    infos = {info.name: info for info in list_layers(encoder, size)}
    return [n for n in encoder.depth_layers if infos[n].grid is not None and infos[n].grid[0] * infos[n].grid[1] > k]


def run(out_dir: Path, quick: bool = False, config: CleverHansConfig | None = None, progress: bool = False,
        device: str | None = None, autocast: bool = False) -> Path:
    """Run the study into ``out_dir`` (summary.md, numbers.json, run.json, figures); returns ``out_dir``."""
    cfg = with_device(config or (CleverHansConfig.quick() if quick else CleverHansConfig()), device, autocast)
    summary = StudySummary(Path(out_dir), "clever-hans", quick, config=_config_dict(cfg), seed=cfg.seed)
    names = list(FASHION_MNIST_CLASSES)
    target_name = names[cfg.target_class]
    with summary.timed("data"):
        train_x, train_y = fashion_arrays("train", cfg.train_limit, cfg.size, cfg.seed)
        test_x, test_y = fashion_arrays("t10k", cfg.test_limit, cfg.size, cfg.seed)
        train_x, test_x = _rgb(train_x), _rgb(test_x)
        poisoned_x, flags = poison(train_x, train_y, cfg)
        test_stamped, test_masks = _stamp(test_x, cfg, cfg.seed + 7)
    n_target = int((train_y == cfg.target_class).sum())
    summary.numbers["data"] = {
        "train_images": len(train_y), "test_images": len(test_y), "target_class": target_name,
        "target_train_images": n_target, "stamped_train_images": int(flags.sum()),
        "stamped_share_of_target": float(flags.sum() / max(1, n_target)),
    }
    # NAVE images: the first test images, a mix of classes; object mask = garment pixels (grey level threshold)
    pick = np.arange(min(cfg.nave_images, len(test_y)))
    grey = test_x[pick, :, :, 0]
    object_masks = grey > cfg.object_threshold
    stamp_masks = test_masks[pick]
    clean_pil = [Image.fromarray(a) for a in test_x[pick]]
    stamped_pil = [Image.fromarray(a) for a in test_stamped[pick]]

    tests: dict[str, dict[str, float]] = {}
    per_depth: dict[str, dict[str, dict[str, float]]] = {}
    per_k: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    example_maps: dict[int, dict[str, dict[str, np.ndarray]]] = {k: {} for k in cfg.figure_ks}
    for arch in cfg.archs:
        for training, data_x in (("clean", train_x), ("watermarked", poisoned_x)):
            name = f"{arch}-{training}"
            with summary.timed(f"train {name}"):
                result = train_classifier(arch, (data_x, train_y), (test_x, test_y), epochs=cfg.epochs,  # type: ignore[arg-type]
                                          seed=cfg.seed, class_names=names, batch_size=cfg.batch_size,
                                          progress=progress, device=cfg.device, autocast=cfg.autocast)
            tests[name] = clever_hans_test(result.model, result.config.model, test_x, test_y, test_stamped,
                                           cfg.target_class)
            tests[name]["train_seconds"] = result.seconds
            encoder = as_encoder(result, name)
            ks = sorted({cfg.k, *cfg.capture_ks, *cfg.figure_ks})
            depths = _usable_depths(encoder, cfg.size, max(ks))
            with summary.timed(f"nave {name}"):
                sets = [[d] for d in depths]
                clean = nave_runs(encoder, clean_pil, sets, [cfg.k], seed=cfg.seed, autocast=cfg.autocast)
                stamped = nave_runs(encoder, stamped_pil, sets, ks, seed=cfg.seed, autocast=cfg.autocast)
            per_depth[name] = {}
            per_k[name] = {}
            for k in cfg.figure_ks:
                example_maps[k][name] = {}
            for s, depth in enumerate(depths):
                clean_maps, stamped_maps = maps_by_index(clean[(s, cfg.k)]), maps_by_index(stamped[(s, cfg.k)])
                kept = sorted(clean_maps.keys() & stamped_maps.keys())  # images with a map clean and stamped
                per_depth[name][depth] = depth_metrics(
                    [clean_maps[i] for i in kept], [stamped_maps[i] for i in kept], stamp_masks[kept],
                    object_masks[kept],
                )
                per_k[name][depth] = {}
                for k in cfg.capture_ks:
                    maps = maps_by_index(stamped[(s, k)])
                    per_k[name][depth] |= capture_by_k({k: list(maps.values())}, stamp_masks[list(maps)])
                for k in cfg.figure_ks:
                    example = maps_by_index(stamped[(s, k)]).get(0)
                    if example is not None:
                        example_maps[k][name][depth] = example
    summary.numbers.update(clever_hans_test=tests, nave_per_depth=per_depth, k=cfg.k, capture_by_k=per_k)
    _write(summary, cfg, tests, per_depth, example_maps, test_stamped[pick[0]], stamp_masks[0], target_name)
    _write_capture_by_k(summary, cfg, per_k)
    return summary.finish()


def _config_dict(cfg: CleverHansConfig) -> dict[str, Any]:
    data = dataclasses.asdict(cfg)
    data["archs"] = list(cfg.archs)
    return data


def first_capture_depth(rows: dict[str, dict[str, float]], threshold: float = 50.0) -> str:
    """The shallowest depth whose concept captures the stamp (IoU >= 0.5) on at least ``threshold`` % of images."""
    for depth, row in rows.items():
        if row["wm_captured"] >= threshold:
            return depth
    return "none"


def _write(summary: StudySummary, cfg: CleverHansConfig, tests: dict[str, dict[str, float]],
           per_depth: dict[str, dict[str, dict[str, float]]], example_maps: dict[int, dict[str, dict[str, np.ndarray]]],
           example: np.ndarray, example_mask: np.ndarray, target_name: str) -> None:
    data = summary.numbers["data"]
    summary.text(
        f"Fashion-MNIST at {cfg.size} px; {data['train_images']} training and {data['test_images']} test images; "
        f"{cfg.epochs} epochs. The watermarked training set carries a {cfg.watermark.kind} stamp (bottom-right, "
        f"{cfg.watermark.size:.0%} of the side) on {data['stamped_train_images']} of the {data['target_train_images']} "
        f"'{target_name}' images ({data['stamped_share_of_target']:.0%}) and on no other image."
    )
    rows = [
        [name, t["acc_clean"], t["acc_target_clean"], t["acc_target_stamped"], t["acc_others_clean"],
         t["acc_others_stamped"], t["others_read_as_target_stamped"]]
        for name, t in tests.items()
    ]
    summary.table(
        "(a) Clever Hans test: accuracy (%) on the test set",
        ["model", "all, clean", f"{target_name}, no stamp", f"{target_name}, stamped", "others, clean",
         "others, stamped", f"others read as {target_name} when stamped"],
        rows,
    )
    rows = []
    for name, depths in per_depth.items():
        for depth, m in depths.items():
            rows.append([name, depth, m["wm_iou"], m["wm_captured"], m["nmi_wm"], m["nmi_obj_clean"],
                         m["nmi_obj_stamped"], m["saturation"]])
    summary.table(
        f"(b, c) NAVE per depth (K = {cfg.k}, {cfg.nave_images} test images, each clean and stamped)",
        ["model", "depth", "stamp IoU", "captured (%)", "NMI stamp", "NMI object, clean", "NMI object, stamped",
         "saturation"],
        rows, digits=3,
    )
    summary.text(
        "First depth at which a concept captures the stamp (IoU >= 0.5 on at least half the images): "
        + "; ".join(f"{name}: {first_capture_depth(d)}" for name, d in per_depth.items())
        + ". *Saturation* = NMI(concepts, garment) on clean images minus the same on stamped images (garment mask "
        "without the stamp): the object information the stamp pushes out of the concept map."
    )
    fig, axes = new_figure(1, 2, figsize=(9, 3.2))
    for name, depths in per_depth.items():
        xs = list(range(len(depths)))
        style = "-" if name.endswith("watermarked") else "--"
        axes[0].plot(xs, [m["nmi_wm"] for m in depths.values()], style, marker="o", label=name)
        axes[1].plot(xs, [m["saturation"] for m in depths.values()], style, marker="o", label=name)
    axes[0].set_title("NMI(concepts, stamp)")
    axes[1].set_title("saturation = NMI_obj clean - stamped")
    for ax in axes:
        ax.set_xlabel("depth index (shallow to deep)")
    axes[0].legend(fontsize=7)
    summary.figure(fig, "saturation.png", "Stamp information and saturation per depth, all four models.")
    for k, maps in example_maps.items():
        _map_figure(summary, maps, example, example_mask, k)


def _map_figure(summary: StudySummary, example_maps: dict[str, dict[str, np.ndarray]], example: np.ndarray,
                mask: np.ndarray, k: int) -> None:
    palette = concept_palette(k)
    n_cols = 1 + max(len(d) for d in example_maps.values())
    fig, axes = new_figure(len(example_maps), n_cols, figsize=(1.6 * n_cols, 1.7 * len(example_maps)),
                             squeeze=False)
    for row, (name, depths) in enumerate(example_maps.items()):
        axes[row, 0].imshow(example)
        axes[row, 0].contour(mask, levels=[0.5], colors="red", linewidths=0.6)
        axes[row, 0].set_ylabel(name, fontsize=7)
        for col, (depth, labels) in enumerate(depths.items(), start=1):
            axes[row, col].imshow(palette[labels % k])
            axes[row, col].contour(mask, levels=[0.5], colors="red", linewidths=0.6)
            axes[row, col].set_title(depth, fontsize=7)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes[row, len(depths) + 1 :]:
            ax.axis("off")
    summary.figure(fig, f"maps_k{k}.png",
                   f"NAVE concept maps per depth, K = {k}, on one stamped test image (red: the stamp).")
