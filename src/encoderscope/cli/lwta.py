"""``encoderscope lwta train|eval``: train small LWTA networks on Fashion-MNIST and evaluate checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option
from encoderscope.cli.options import config_command, field_option
from encoderscope.lwta.config import LwtaTrainConfig

lwta_app = typer.Typer(help="DISCOVER's stochastic LWTA networks: train and evaluate.", no_args_is_help=True)
app.add_typer(lwta_app, name="lwta")


@config_command(lwta_app, "train", LwtaTrainConfig, kind="lwta-train")
def train_command(
    config: LwtaTrainConfig,
    out: Path = out_option("Checkpoint folder (model.pt, config.json, metrics, plots)."),
    device: str = DEVICE,
) -> None:
    """Train one network with the CPU recipe (cosine schedule, label smoothing 0.1) and evaluate it."""
    from encoderscope.lwta.train import train

    result = train(config, device=device)
    result.save(out)
    ev = result.evaluation
    typer.echo(
        f"{config.arch} U={config.U}: accuracy {ev.accuracy:.4f} (mean of {ev.passes} passes), one pass "
        f"{ev.accuracy_single:.4f}, deterministic {ev.accuracy_deterministic:.4f}; checkpoint in {out}"
    )


@lwta_app.command("eval")
def eval_command(
    checkpoint: Path = typer.Argument(..., help="A folder written by `encoderscope lwta train`."),
    passes: int = typer.Option(None, "--passes", help="Stochastic passes (default 6 vit, 3 resnet)."),
    test_limit: int = typer.Option(0, "--test-limit", help="Test images (seeded subset; 0 = all 10k)."),
    seed: int = field_option(LwtaTrainConfig, "seed"),
    device: str = DEVICE,
    autocast: bool = field_option(LwtaTrainConfig, "autocast"),
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
