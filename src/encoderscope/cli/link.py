"""``encoderscope link pairs|fit|tune|quantify|counterfactual``: Linking in Style from the command line.

Each step records the generator and classifier it used, so the later steps find them again by default
(``--generator`` / ``--classifier`` override). The options are the fields of the step's configuration
(:mod:`encoderscope.linking.config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from encoderscope.cli.app import app
from encoderscope.cli.common import DEVICE, out_option
from encoderscope.cli.options import config_command, require_inputs
from encoderscope.errors import ParameterError
from encoderscope.linking.config import (
    LinkCounterfactualConfig,
    LinkFitConfig,
    LinkPairsConfig,
    LinkQuantifyConfig,
    LinkTuneConfig,
)

link_app = typer.Typer(no_args_is_help=True, help="Linking in Style: features -> generator latent, unit sweeps, "
                       "part metrics, counterfactuals.")
app.add_typer(link_app, name="link")

NO_PROGRESS = typer.Option(False, "--quiet", help="No progress bars.")


def _generator(spec: str | None, recorded: dict[str, Any], device: str | None, autocast: bool):
    """The generator given, else the one recorded; a recorded pickle must still have its recorded sha256."""
    from encoderscope.devices import resolve_device
    from encoderscope.zoo.generators import generator_spec, load_generator

    target = resolve_device(device)
    name = spec or recorded.get("generator")
    if not name:
        raise ParameterError("no generator recorded; pass --generator")
    same = generator_spec(name) == recorded.get("generator")
    return load_generator(name, device=target, autocast=autocast,
                          sha256=recorded.get("generator_sha256") if same else None)


def _classifier(spec: str | None, layer: str | None, head: str | None, recorded: dict[str, Any], random_init: bool,
                device: str | None, autocast: bool):
    from encoderscope.devices import resolve_device
    from encoderscope.linking.classifier import as_classifier

    target = resolve_device(device)
    info = recorded.get("classifier") or {}
    name = spec or info.get("spec")
    if not name or name == "module":
        raise ParameterError("no classifier spec recorded; pass --classifier")
    return as_classifier(name, feature_layer=layer or info.get("feature_layer"), head=head or None,
                         random_init=random_init, device=target, autocast=autocast)


def _linked(config: LinkTuneConfig | LinkCounterfactualConfig, head: str | None,
            device: str | None) -> tuple[Any, Any, Any]:
    """The linking network of ``config.link`` and the generator and classifier it links (as recorded, unless the
    configuration names others)."""
    from encoderscope.linking.network import LinkingNetwork

    network = LinkingNetwork.load(config.link)
    gen = _generator(config.generator, network.meta, device, config.autocast)
    clf = _classifier(config.classifier, config.feature_layer, head, network.meta, config.random_init, device,
                      config.autocast)
    return network, gen, clf


@config_command(link_app, "pairs", LinkPairsConfig, kind="link-pairs", loads_models=True)
def pairs_cmd(
    config: LinkPairsConfig,
    out: Path = out_option("Output .npz file (or folder for pairs.npz and run.json).", folder=False),
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
) -> None:
    """Sample latents (advancing RNG), synthesise, classify and store (latent, features) pairs."""
    from encoderscope.linking.pairs import make_pairs

    require_inputs(config, "generator", "classifier")
    gen = _generator(config.generator, {}, device, config.autocast)
    clf = _classifier(config.classifier, config.feature_layer, None, {}, config.random_init, device, config.autocast)
    pairs = make_pairs(gen, clf, config=config, progress=not quiet)
    path = pairs.save(out)
    typer.echo(f"{len(pairs)} pairs (latent {pairs.latents.shape[1]}-d, features {pairs.features.shape[1]}-d) "
               f"-> {path}; accepted/tried per class: "
               + ", ".join(f"{k} {pairs.meta['accepted'][k]}/{pairs.meta['tried'][k]}" for k in pairs.meta["accepted"]))


@config_command(link_app, "fit", LinkFitConfig, kind="link-fit")
def fit_cmd(
    config: LinkFitConfig,
    out: Path = out_option("Output folder (link.npz, link.json, scores.json)."),
) -> None:
    """Fit the linking network features -> latent and report held-out R^2 and MSE."""
    from encoderscope.linking.network import fit_link
    from encoderscope.linking.pairs import PairedData

    require_inputs(config, "pairs")
    data = PairedData.load(config.pairs)
    fit = fit_link(data.features, data.latents, config=config, meta=data.meta)
    fit.save(out)
    s = fit.scores()
    typer.echo(f"{s['method']}: train R^2 {s['train_r2']:.4f}, test R^2 {s['test_r2']:.4f}, train MSE "
               f"{s['train_mse']:.4g}, test MSE {s['test_mse']:.4g} ({s['n_train']}/{s['n_test']}) -> {out}")


@config_command(link_app, "tune", LinkTuneConfig, kind="link-tune", loads_models=True)
def tune_cmd(
    config: LinkTuneConfig,
    out: Path = out_option(),
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
) -> None:
    """Sweep units over their observed range, synthesise strips and rank units by effect size."""
    from encoderscope.linking.tune import sweep_units, tuning_features
    from encoderscope.zoo.generators import generator_record

    require_inputs(config, "link")
    network, gen, clf = _linked(config, None, device)
    feats, labels = tuning_features(gen, clf, config.samples, config.samples_seed, progress=not quiet)
    sweep = sweep_units(network, gen, clf, feats, sample_classes=labels, progress=not quiet, config=config)
    sweep.config.update({"link": str(config.link), "samples_seed": config.samples_seed, **generator_record(gen),
                         "classifier": clf.describe()})
    sweep.save(out)
    top = sweep.ranking()[:5]
    typer.echo("largest pixel change: " + ", ".join(f"unit {r['unit']} ({r['pixel_change']:.4f})" for r in top)
               + f" -> {out}")


@config_command(link_app, "quantify", LinkQuantifyConfig, kind="link-quantify", loads_models=True)
def quantify_cmd(
    config: LinkQuantifyConfig,
    out: Path = out_option(),
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
) -> None:
    """Part maps of the sweep images and per-part changes (area, luminance, entropy, ellipses) per unit."""
    from encoderscope._io import read_npz
    from encoderscope.linking.parts import FeatureSource, fit_mask_model, fit_part_model
    from encoderscope.linking.quantify import quantify_sweep
    from encoderscope.linking.tune import SweepResult

    require_inputs(config, "sweep")
    result = SweepResult.load(config.sweep)
    recorded = result.config
    kind, _, layer = config.source.partition(":")
    kwargs: dict[str, Any] = {"kind": kind, "size": config.feature_size}
    if kind == "generator":
        kwargs["generator"] = _generator(config.generator, recorded, device, config.autocast)
    if kind == "classifier":
        clf = _classifier(config.classifier, None, None, recorded, config.random_init, device, config.autocast)
        kwargs["classifier"], kwargs["layer"] = clf, layer
    feature_source = FeatureSource(**kwargs)
    images = result.images.reshape(-1, *result.images.shape[3:])
    latents = result.latents.reshape(-1, result.latents.shape[-1])
    if config.parts == "kmeans":
        model = fit_part_model(images, k=config.k, source=feature_source, latents=latents, seed=config.seed)
    else:
        data = read_npz(config.masks)
        if "images" not in data or "masks" not in data:
            raise ParameterError(f"{config.masks} needs arrays 'images' and 'masks'")
        names = [str(n) for n in data["part_names"]] if "part_names" in data else None
        model = fit_mask_model(data["images"], data["masks"], names, source=feature_source,
                               latents=data.get("latents"), seed=config.seed)
    quant = quantify_sweep(result, model, min_area=config.min_area, progress=not quiet, config=config,
                           sweep_dir=config.sweep)
    quant.save(out)
    typer.echo(f"{len(quant.rows)} (unit, sample, part) rows; selective units -> {out / 'selective_units.csv'}")


#: a classifier that knows a generator's classes, for the error of a classifier that does not
CLASSIFIER_FOR = {"zoo:eyes-cdcgan": "zoo:eyes-colour-cnn"}


def _class_index(value: str, names: list[str] | None, gen: Any) -> int:
    if value.isdigit():
        return int(value)
    if names and value in names:
        return names.index(value)
    known = f"; classes: {', '.join(names[:20])}{', ...' if len(names) > 20 else ''}" if names else ""
    if gen.class_names and value in gen.class_names:
        suggestion = CLASSIFIER_FOR.get(gen.name)
        raise ParameterError(
            f"the classifier has no class {value!r}{known}: {value!r} is a class of the generator {gen.name}, so "
            "link it to a classifier of the generator's classes"
            + (f" (make the pairs with -c {suggestion})" if suggestion else "")
        )
    raise ParameterError(f"unknown class {value!r}{known}")


@config_command(link_app, "counterfactual", LinkCounterfactualConfig, kind="link-counterfactual", loads_models=True)
def counterfactual_cmd(
    config: LinkCounterfactualConfig,
    out: Path = out_option(),
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
) -> None:
    """Counterfactuals with the paper's loss; success rate, steps, latent distance, before/after images."""
    from encoderscope.linking.counterfactual import counterfactuals
    from encoderscope.linking.pairs import PairedData, make_pairs

    require_inputs(config, "link", "origin", "target")
    network, gen, clf = _linked(config, config.head, device)
    names = list(clf.class_names) if clf.class_names else None
    o, t = _class_index(str(config.origin), names, gen), _class_index(str(config.target), names, gen)
    if config.pairs is not None:
        data = PairedData.load(config.pairs)
        feats = data.features[data.predictions == o][: config.n]
    else:
        if not gen.class_names or not names or names[o] not in gen.class_names:
            raise ParameterError("the generator has no class matching the origin; pass --pairs")
        drawn = make_pairs(gen, clf, config.n, seed=config.seed + 1, classes=[gen.class_names.index(names[o])],
                           progress=not quiet)
        feats = drawn.features
    if len(feats) == 0:
        raise ParameterError(f"no sample classified as {config.origin!r} to start from")
    result = counterfactuals(feats, [o] * len(feats), [t] * len(feats), network, clf, gen, lr=config.lr,
                             lambda_origin=config.lambda_origin, lambda_cos=config.lambda_cos,
                             max_steps=config.max_steps, seed=config.seed, progress=not quiet, config=config)
    result.save(out)
    s = result.summary()
    typer.echo(f"success {s['success_rate']:.2f} of {s['n']}, mean steps {s['mean_steps_success']:.1f}, "
               f"mean latent distance {s['mean_latent_distance_success']:.3f} -> {out}")
