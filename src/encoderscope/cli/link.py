"""``encoderscope link pairs|fit|tune|quantify|counterfactual``: Linking in Style from the command line.

Each step records the generator and classifier it used, so the later steps find them again by default
(``--generator`` / ``--classifier`` override).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from encoderscope._io import read_npz, write_json
from encoderscope.cli.app import app
from encoderscope.cli.common import AUTOCAST, DEVICE, RANDOM_INIT, SEED, split_list
from encoderscope.errors import ParameterError

link_app = typer.Typer(no_args_is_help=True, help="Linking in Style: features -> generator latent, unit sweeps, "
                       "part metrics, counterfactuals.")
app.add_typer(link_app, name="link")

GENERATOR = typer.Option(None, "--generator", "-g", help="zoo:eyes-cdcgan, zoo:dcgan-faces, synthetic:linear or "
                         "stylegan:PATH.pkl (default: the one recorded by the previous step).")
CLASSIFIER = typer.Option(None, "--classifier", "-c", help="Model spec (zoo:efficientnet-lite0, timm:..., "
                          "synthetic:linear); default: the one recorded by the previous step.")
FEATURE_LAYER = typer.Option(None, "--feature-layer", help="Feature layer (default: the penultimate layer).")
HEAD = typer.Option(None, "--head", help="Module mapping the feature layer to the logits (default: found).")
TRUST = typer.Option(False, "--trust-pickle", help="Allow loading a StyleGAN pickle (runs code from the file).")
NO_PROGRESS = typer.Option(False, "--quiet", help="No progress bars.")


def _generator(spec: str | None, recorded: dict[str, Any], device: str | None, autocast: bool,
               trust_pickle: bool = False):
    """The generator given, else the one recorded; a recorded pickle must still have its recorded sha256."""
    from encoderscope.devices import resolve_device
    from encoderscope.linking.generators import generator_spec, load_generator

    target = resolve_device(device)
    name = spec or recorded.get("generator")
    if not name:
        raise ParameterError("no generator recorded; pass --generator")
    same = generator_spec(name) == recorded.get("generator")
    return load_generator(name, trust_pickle=trust_pickle, device=target, autocast=autocast,
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


def _link_meta(link_dir: Path) -> dict[str, Any]:
    from encoderscope.linking.network import LinkingNetwork

    return LinkingNetwork.load(link_dir).meta


@link_app.command("pairs")
def pairs_cmd(
    generator: str = typer.Option(..., "--generator", "-g", help="Generator spec (see `link --help`)."),
    classifier: str = typer.Option(..., "--classifier", "-c", help="Classifier model spec."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .npz file (or folder for pairs.npz)."),
    n: int = typer.Option(5000, "--n", help="Pairs per class (in total for unconditional generators)."),
    truncation: float = typer.Option(0.7, "--truncation", help="Class-centred truncation psi (1 = none)."),
    classes: str = typer.Option(None, "--classes", help="Comma list of generator classes (default: all)."),
    class_map: str = typer.Option(None, "--class-map", help="Generator->classifier classes, e.g. '0:151,1:254'."),
    filter_correct: bool = typer.Option(None, "--filter/--no-filter", help="Keep only correctly classified "
                                        "samples (default: when the classes are shared)."),
    feature_layer: str = FEATURE_LAYER,
    batch_size: int = typer.Option(32, "--batch-size"),
    seed: int = SEED,
    random_init: bool = RANDOM_INIT,
    trust_pickle: bool = TRUST,
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Sample latents (advancing RNG), synthesise, classify and store (latent, features) pairs."""
    from encoderscope.linking.pairs import make_pairs

    gen = _generator(generator, {}, device, autocast, trust_pickle)
    clf = _classifier(classifier, feature_layer, None, {}, random_init, device, autocast)
    mapping = None
    if class_map:
        try:
            mapping = {int(a): int(b) for a, b in (item.split(":") for item in split_list(class_map) or [])}
        except ValueError as err:
            raise ParameterError(f"--class-map {class_map!r} is not like '0:151,1:254'") from err
    chosen = [int(c) if c.isdigit() else c for c in split_list(classes)] if classes else None
    pairs = make_pairs(gen, clf, n, seed=seed, truncation=None if truncation >= 1.0 else truncation,
                       classes=chosen, class_map=mapping, filter_correct=filter_correct, batch_size=batch_size,
                       progress=not quiet)
    path = pairs.save(out)
    typer.echo(f"{len(pairs)} pairs (latent {pairs.latents.shape[1]}-d, features {pairs.features.shape[1]}-d) "
               f"-> {path}; accepted/tried per class: "
               + ", ".join(f"{k} {pairs.meta['accepted'][k]}/{pairs.meta['tried'][k]}" for k in pairs.meta["accepted"]))


@link_app.command("fit")
def fit_cmd(
    pairs: Path = typer.Option(..., "--pairs", "-p", help="Pairs .npz from `link pairs`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (link.npz, link.json, scores.json)."),
    method: str = typer.Option("ols", "--method", help="ols (paper), ridge, ridge-cv, elasticnet or mlp."),
    test_fraction: float = typer.Option(0.2, "--test-fraction"),
    alpha: float = typer.Option(1.0, "--alpha", help="Ridge / elastic-net strength."),
    l1_ratio: float = typer.Option(0.5, "--l1-ratio", help="Elastic-net mixing."),
    seed: int = SEED,
) -> None:
    """Fit the linking network features -> latent and report held-out R^2 and MSE."""
    from encoderscope.linking.network import fit_link
    from encoderscope.linking.pairs import PairedData

    data = PairedData.load(pairs)
    fit = fit_link(data.features, data.latents, method=method, test_fraction=test_fraction, seed=seed, alpha=alpha,
                   l1_ratio=l1_ratio, meta=data.meta)
    fit.save(out)
    s = fit.scores()
    typer.echo(f"{s['method']}: train R^2 {s['train_r2']:.4f}, test R^2 {s['test_r2']:.4f}, train MSE "
               f"{s['train_mse']:.4g}, test MSE {s['test_mse']:.4g} ({s['n_train']}/{s['n_test']}) -> {out}")


def _tuning_features(gen, clf, samples: int, seed: int, quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    from encoderscope.linking.pairs import make_pairs

    tuning = make_pairs(gen, clf, samples, seed=seed, truncation=0.7, progress=not quiet)
    return tuning.features, tuning.labels


def _units(text: str, link, features: np.ndarray) -> list[int] | None:
    from encoderscope.linking.tune import latent_effect, unit_ranges

    if text == "all":
        return None
    if text.startswith("top:"):
        lo, hi = unit_ranges(features)
        return np.argsort(-latent_effect(link, lo, hi))[: int(text[4:])].tolist()
    try:
        return [int(u) for u in split_list(text) or []]
    except ValueError as err:
        raise ParameterError(f"--units {text!r}: use '0,2', 'all' or 'top:K'") from err


@link_app.command("tune")
def tune_cmd(
    link: Path = typer.Option(..., "--link", "-l", help="Folder of `link fit`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    units: str = typer.Option("0,2", "--units", help="'0,2' (the reference default), 'all', or 'top:K' (largest "
                              "latent effect)."),
    n_steps: int = typer.Option(3, "--n-steps", help="Values per unit over [min, max] (3: min, mid, max)."),
    samples: int = typer.Option(2, "--samples", help="Tuning samples per class (seed 136, psi 0.7)."),
    samples_seed: int = typer.Option(136, "--samples-seed"),
    generator: str = GENERATOR,
    classifier: str = CLASSIFIER,
    feature_layer: str = FEATURE_LAYER,
    random_init: bool = RANDOM_INIT,
    trust_pickle: bool = TRUST,
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Sweep units over their observed range, synthesise strips and rank units by effect size."""
    from encoderscope.linking.generators import generator_record
    from encoderscope.linking.network import LinkingNetwork
    from encoderscope.linking.tune import sweep_units

    network = LinkingNetwork.load(link)
    gen = _generator(generator, network.meta, device, autocast, trust_pickle)
    clf = _classifier(classifier, feature_layer, None, network.meta, random_init, device, autocast)
    feats, labels = _tuning_features(gen, clf, samples, samples_seed, quiet)
    sweep = sweep_units(network, gen, clf, feats, units=_units(units, network, feats), n_steps=n_steps,
                        sample_classes=labels, progress=not quiet)
    sweep.config.update({"link": str(link), "samples_seed": samples_seed, **generator_record(gen),
                         "classifier": clf.describe()})
    sweep.save(out)
    top = sweep.ranking()[:5]
    typer.echo("largest pixel change: " + ", ".join(f"unit {r['unit']} ({r['pixel_change']:.4f})" for r in top)
               + f" -> {out}")


@link_app.command("quantify")
def quantify_cmd(
    sweep: Path = typer.Option(..., "--sweep", "-s", help="Folder of `link tune`."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    parts: str = typer.Option("kmeans", "--parts", help="kmeans (unsupervised) or masks (few-shot, --masks)."),
    k: int = typer.Option(4, "--k", help="Number of unsupervised parts."),
    source: str = typer.Option("generator", "--source", help="Part features: generator, pixels, or "
                               "classifier:<layer>."),
    masks: Path = typer.Option(None, "--masks", help=".npz with images (N,H,W,3) uint8, masks (N,H,W) int "
                               "[, latents (N,L), part_names]."),
    size: int = typer.Option(32, "--feature-size", help="Resolution of the per-pixel features."),
    generator: str = GENERATOR,
    classifier: str = CLASSIFIER,
    random_init: bool = RANDOM_INIT,
    trust_pickle: bool = TRUST,
    seed: int = SEED,
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Part maps of the sweep images and per-part changes (area, luminance, entropy, ellipses) per unit."""
    from encoderscope.linking.parts import FeatureSource, fit_mask_model, fit_part_model
    from encoderscope.linking.quantify import quantify_sweep
    from encoderscope.linking.tune import SweepResult

    result = SweepResult.load(sweep)
    recorded = result.config
    kind, _, layer = source.partition(":")
    kwargs: dict[str, Any] = {"kind": kind, "size": size}
    if kind == "generator":
        kwargs["generator"] = _generator(generator, recorded, device, autocast, trust_pickle)
    if kind == "classifier":
        clf = _classifier(classifier, None, None, recorded, random_init, device, autocast)
        kwargs["classifier"], kwargs["layer"] = clf, layer
    feature_source = FeatureSource(**kwargs)
    images = result.images.reshape(-1, *result.images.shape[3:])
    latents = result.latents.reshape(-1, result.latents.shape[-1])
    if parts == "kmeans":
        model = fit_part_model(images, k=k, source=feature_source, latents=latents, seed=seed)
    elif parts == "masks":
        if masks is None:
            raise ParameterError("--parts masks needs --masks FILE.npz")
        data = read_npz(masks)
        if "images" not in data or "masks" not in data:
            raise ParameterError(f"{masks} needs arrays 'images' and 'masks'")
        names = [str(n) for n in data["part_names"]] if "part_names" in data else None
        model = fit_mask_model(data["images"], data["masks"], names, source=feature_source,
                               latents=data.get("latents"), seed=seed)
    else:
        raise ParameterError(f"--parts {parts!r}: use kmeans or masks")
    quant = quantify_sweep(result, model, progress=not quiet)
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


@link_app.command("counterfactual")
def counterfactual_cmd(
    link: Path = typer.Option(..., "--link", "-l", help="Folder of `link fit` (a linear link)."),
    origin: str = typer.Option(..., "--origin", help="Origin class (classifier name or index)."),
    target: str = typer.Option(..., "--target", help="Target class (classifier name or index)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    n: int = typer.Option(8, "--n", help="Number of origin samples."),
    pairs: Path = typer.Option(None, "--pairs", help="Take origin samples from this pairs file (default: draw "
                               "fresh ones of the origin class)."),
    lr: float = typer.Option(0.5, "--lr"),
    max_steps: int = typer.Option(2000, "--max-steps"),
    generator: str = GENERATOR,
    classifier: str = CLASSIFIER,
    feature_layer: str = FEATURE_LAYER,
    head: str = HEAD,
    random_init: bool = RANDOM_INIT,
    trust_pickle: bool = TRUST,
    seed: int = SEED,
    quiet: bool = NO_PROGRESS,
    device: str = DEVICE,
    autocast: bool = AUTOCAST,
) -> None:
    """Counterfactuals with the paper's loss; success rate, steps, latent distance, before/after images."""
    from encoderscope.linking.counterfactual import counterfactuals
    from encoderscope.linking.network import LinkingNetwork
    from encoderscope.linking.pairs import PairedData, make_pairs

    network = LinkingNetwork.load(link)
    gen = _generator(generator, network.meta, device, autocast, trust_pickle)
    clf = _classifier(classifier, feature_layer, head, network.meta, random_init, device, autocast)
    names = list(clf.class_names) if clf.class_names else None
    o, t = _class_index(origin, names, gen), _class_index(target, names, gen)
    if pairs is not None:
        data = PairedData.load(pairs)
        feats = data.features[data.predictions == o][:n]
    else:
        if not gen.class_names or not names or names[o] not in gen.class_names:
            raise ParameterError("the generator has no class matching the origin; pass --pairs")
        drawn = make_pairs(gen, clf, n, seed=seed + 1, classes=[gen.class_names.index(names[o])],
                           progress=not quiet)
        feats = drawn.features
    if len(feats) == 0:
        raise ParameterError(f"no sample classified as {origin!r} to start from")
    result = counterfactuals(feats, [o] * len(feats), [t] * len(feats), network, clf, gen, lr=lr,
                             max_steps=max_steps, seed=seed, progress=not quiet)
    result.save(out)
    s = result.summary()
    write_json(out / "summary.json", s)
    typer.echo(f"success {s['success_rate']:.2f} of {s['n']}, mean steps {s['mean_steps_success']:.1f}, "
               f"mean latent distance {s['mean_latent_distance_success']:.3f} -> {out}")
