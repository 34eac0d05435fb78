"""``encoderscope corloc``: how well NAVE concept maps localise objects (CorLoc, docs/methods/corloc.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import ARCH, AUTOCAST, DEVICE, RANDOM_INIT, SEED, split_list
from encoderscope.cli.nave import BACKEND, BATCH, LAYERS, MAX_SIDE, METHOD, SIZE, K, _k, _size


def open_annotated(dataset: str, coco_images: Path | None, image_set: str | None, limit: int | None):
    """A VOC folder (``Annotations/*.xml``) or a COCO json file (with ``--coco-images``)."""
    from encoderscope.data.voc import open_coco, open_voc

    if dataset.endswith(".json"):
        return open_coco(dataset, images_dir=coco_images, limit=limit)
    return open_voc(dataset, image_set=image_set, limit=limit)


@app.command("corloc")
def corloc_command(
    model: str = typer.Argument(..., help="Model spec: zoo:NAME, timm:NAME, tv:NAME, hf:ORG/NAME or file:PATH."),
    dataset: str = typer.Argument(..., help="VOC folder (Annotations/, JPEGImages/) or a COCO json file."),
    layers: str = LAYERS,
    k: str = K,
    method: str = METHOD,
    out: Path = typer.Option(None, "--out", help="Folder for corloc.csv (per image), masks.csv, scores.json."),
    random_init: bool = RANDOM_INIT,
    seed: int = SEED,
    size: str = SIZE,
    max_side: int = MAX_SIDE,
    backend: str = BACKEND,
    batch_size: int = BATCH,
    min_area: float = typer.Option(784, "--min-area", help="Keep components larger than this many pixels."),
    border: int = typer.Option(14, "--border", help="Clear a border band this many pixels wide."),
    relative: bool = typer.Option(
        False, "--relative", help="Scale area and border with the image (784 px / 14 px on a 500x375 image)."
    ),
    split_boxes: bool = typer.Option(False, "--split-boxes", help="The split-boxes variant (IoU > 0.5)."),
    no_hard: bool = typer.Option(False, "--no-hard", help="Drop difficult and truncated boxes (VOC)."),
    classes: str = typer.Option(None, "--classes", help="Only these object classes, comma-separated."),
    image_set: str = typer.Option(None, "--image-set", help="VOC ImageSets/Main list name (e.g. trainval)."),
    coco_images: Path = typer.Option(None, "--coco-images", help="Image folder of a COCO json."),
    limit: int = typer.Option(None, "--limit", help="Only the first N images."),
    arch: str = ARCH,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Print CorLoc (and mask mIoU where masks exist) of NAVE maps on an annotated dataset."""
    from encoderscope.nave.evaluate import evaluate_localisation
    from encoderscope.nave.metrics import CorLocConfig
    from encoderscope.zoo import load_model

    data = open_annotated(dataset, coco_images, image_set, limit)
    encoder = load_model(model, random_init=random_init, arch=arch, seed=seed, device=device)
    config = (
        CorLocConfig.relative_default(split_boxes=split_boxes)
        if relative
        else CorLocConfig(min_area=min_area, border=border, split_boxes=split_boxes)
    )
    filters = {"no_hard": no_hard, "classes": split_list(classes)}
    (scores,) = evaluate_localisation(
        encoder, data, [split_list(layers)], k=_k(k), config=config, box_filters=filters, method=method,
        seed=seed, backend=backend, batch_size=batch_size, size=_size(size), max_side=max_side, autocast=autocast,
    )
    summary = scores.summary()
    line = f"CorLoc {summary['corloc']:.1f} % on {summary['n_images']} images ({scores.result.name})"
    if summary["miou"] is not None:
        line += f"; mask mIoU {summary['miou']:.3f}, best-match IoU {summary['best_iou']:.3f}"
    typer.echo(line)
    if out is not None:
        typer.echo(f"per-image scores -> {scores.save(out)}")
