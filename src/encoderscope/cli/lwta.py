"""``encoderscope lwta train|eval``: train small LWTA networks on Fashion-MNIST and evaluate checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import AUTOCAST, DEVICE, SEED

lwta_app = typer.Typer(help="DISCOVER's stochastic LWTA networks: train and evaluate.", no_args_is_help=True)
app.add_typer(lwta_app, name="lwta")


@lwta_app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", help="Checkpoint folder (model.pt, config.json, metrics, plots)."),
    arch: str = typer.Option("vit", "--arch", help="vit (patch 4, 32 px) or resnet (narrow ResNet-10)."),
    U: int = typer.Option(4, "--U", "-U", help="Competitors per LWTA block (1 = GELU/ReLU baseline)."),
    epochs: int = typer.Option(2, "--epochs"),
    batch_size: int = typer.Option(128, "--batch-size"),
    optimizer: str = typer.Option("auto", "--optimizer", help="adamw, sgd or auto (AdamW for vit, SGD for resnet)."),
    lr: float = typer.Option(None, "--lr", help="Peak learning rate (default 1e-3 AdamW, 0.2 SGD)."),
    train_limit: int = typer.Option(12000, "--train-limit", help="Training images (seeded subset; 0 = all 60k)."),
    test_limit: int = typer.Option(2000, "--test-limit", help="Test images (seeded subset; 0 = all 10k)."),
    kl_weight: float = typer.Option(
        0.0, "--kl-weight", help="Weight of the KL to the uniform prior (0: released code)."
    ),
    passes: int = typer.Option(None, "--passes", help="Stochastic passes at evaluation (default 6 vit, 3 resnet)."),
    seed: int = SEED,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Train one network with the CPU recipe (cosine schedule, label smoothing 0.1) and evaluate it."""
    from encoderscope.lwta.models import ModelConfig
    from encoderscope.lwta.train import TrainConfig, train

    config = TrainConfig(
        model=ModelConfig(arch=arch, U=U, kl_weight=kl_weight, seed=seed),  # type: ignore[arg-type]
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        train_limit=train_limit or None,
        test_limit=test_limit or None,
        seed=seed,
        device=device,
        autocast=autocast,
    )
    result = train(config, passes=passes)
    result.save(out)
    ev = result.evaluation
    typer.echo(
        f"{arch} U={U}: accuracy {ev.accuracy:.4f} (mean of {ev.passes} passes), one pass {ev.accuracy_single:.4f}, "
        f"deterministic {ev.accuracy_deterministic:.4f}; checkpoint in {out}"
    )


@lwta_app.command("eval")
def eval_command(
    checkpoint: Path = typer.Argument(..., help="A folder written by `encoderscope lwta train`."),
    passes: int = typer.Option(None, "--passes", help="Stochastic passes (default 6 vit, 3 resnet)."),
    test_limit: int = typer.Option(0, "--test-limit", help="Test images (seeded subset; 0 = all 10k)."),
    seed: int = SEED,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Evaluate a checkpoint: S-pass accuracy, one pass, deterministic pass and the measured sparsity per layer."""
    from encoderscope._io import write_json
    from encoderscope.devices import resolve_device
    from encoderscope.lwta.models import load_checkpoint
    from encoderscope.lwta.train import evaluate, fashion_tensors

    target = resolve_device(device)
    model, config = load_checkpoint(checkpoint)
    pixels, labels = fashion_tensors("t10k", config, test_limit or None, seed)
    ev = evaluate(model.to(target), pixels, labels, passes or config.default_passes, seed=seed, autocast=autocast)
    write_json(checkpoint / "eval.json", ev.as_dict())
    typer.echo(
        f"accuracy {ev.accuracy:.4f} (mean of {ev.passes} passes), one pass {ev.accuracy_single:.4f}, "
        f"deterministic {ev.accuracy_deterministic:.4f} on {ev.n_images} images"
    )
    for name, value in ev.active_fraction.items():
        typer.echo(f"  {name}: non-zero fraction {value:.4f} (1/U = {ev.expected_fraction[name]:.4f})")
