"""``encoderscope dissect MODEL --layer L --probe IMAGES --concepts SET --scorer SPEC --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import ARCH, AUTOCAST, DEVICE, RANDOM_INIT, SEED


def _load(model: str, random_init: bool, arch: str | None, seed: int, device: str | None):
    """A model spec, or a folder written by ``encoderscope lwta train`` (also as ``lwta:FOLDER``)."""
    from encoderscope.devices import resolve_device
    from encoderscope.zoo import load_model

    folder = Path(model.removeprefix("lwta:"))
    if model.startswith("lwta:") or ((folder / "config.json").is_file() and (folder / "model.pt").is_file()):
        from encoderscope.lwta.models import encoder_for, load_checkpoint

        target = resolve_device(device)
        net, config = load_checkpoint(folder, seed=seed)
        return encoder_for(net, config, spec=f"lwta:{folder}").to(target)
    return load_model(model, random_init=random_init, arch=arch, seed=seed, device=device)


@app.command()
def dissect(
    model: str = typer.Argument(..., help="Model spec (zoo:, timm:, tv:, hf:, file:) or an LWTA checkpoint folder."),
    layer: str = typer.Option(..., "--layer", help="Layer to dissect, e.g. blocks.11.mlp.act or layer4."),
    probe: list[str] = typer.Option(..., "--probe", help="Probe images: folder, file list, zoo:photos, ..."),
    concepts: str = typer.Option(
        None, "--concepts", help="Concept set: imagenet, fashion-mnist, words-1k/3k/10k or a text file."
    ),
    scorer: str = typer.Option(
        "labelspace", "--scorer", help="clip:MODEL[:PRETRAINED|:FILE], labelspace[:MODEL] or annotations:FILE."
    ),
    similarity: str = typer.Option("soft_wpmi", "--similarity", help="soft_wpmi, wpmi, cos_similarity, ..."),
    pool: str = typer.Option("auto", "--pool", help="auto (CLS for ViTs, mean for CNNs), mean, max, cls, ..."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    limit: int = typer.Option(None, "--limit", help="Use the first N probe images."),
    galleries: int = typer.Option(16, "--galleries", help="Units with a gallery of top images (0: none)."),
    explain: int = typer.Option(0, "--explain", help="Per-image explanations for the first N probe images."),
    block_size: int = typer.Option(None, "--block-size", help="LWTA block size U for explanations (default: found)."),
    batch_size: int = typer.Option(32, "--batch-size"),
    random_init: bool = RANDOM_INIT,
    arch: str = ARCH,
    seed: int = SEED,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Name every unit of a layer with its best-matching concept (CLIP-Dissect / DISCOVER)."""
    from encoderscope._io import write_json, write_text
    from encoderscope.data.images import open_images
    from encoderscope.dissect import dissect as run_dissect
    from encoderscope.dissect import load_concepts, make_scorer
    from encoderscope.dissect.describe import _csv
    from encoderscope.errors import ParameterError
    from encoderscope.lwta import lwta_layers

    encoder = _load(model, random_init, arch, seed, device)
    chosen = make_scorer(scorer, device=encoder.device)
    names = load_concepts(concepts) if concepts else getattr(chosen, "concepts", None)
    if not names:
        raise ParameterError("--concepts is needed (the scorer has no concept names of its own)")
    images = open_images(probe, limit=limit)
    result = run_dissect(
        encoder, images, layer, names, chosen, similarity=similarity, pool=pool, batch_size=batch_size, seed=seed,
        autocast=autocast,
    )
    result.save(out, galleries=galleries)
    if explain:
        U = block_size or getattr(lwta_layers(encoder.module).get(result.layer), "U", 1)
        rows = [
            {
                "image": result.activations.keys[n],
                "rank": r + 1,
                "block": e.block,
                "unit": e.unit,
                "concept": e.concept,
                "activation": e.activation,
                "score": e.score,
            }
            for n in range(min(explain, len(result.activations.items)))
            for r, e in enumerate(result.explain(n, U))
        ]
        write_text(out / "explanations.csv", _csv(rows, list(rows[0])))
    write_json(out / "skipped.json", result.activations.skipped)
    typer.echo(f"described {result.n_units} units of {result.layer} with {len(names)} concepts; wrote {out}")
    if result.activations.skipped:
        typer.echo(f"skipped {len(result.activations.skipped)} unreadable probe image(s)")
