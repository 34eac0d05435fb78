"""NAVE end to end: images -> one forward pass per batch -> combined depths -> concept maps (a :class:`NaveResult`).

Scopes:

* ``"image"`` (the paper): one clustering per image.
* ``"dataset"``: one clustering shared by all images, so concept ids mean the same everywhere. A first streaming
  pass keeps a seeded sample of positions: every image contributes the same quota,
  ``ceil(fit_positions / n_images)`` positions drawn without replacement with ``default_rng([seed, image index])``;
  the clustering is fitted on that sample; a second streaming pass assigns every position to its nearest concept.
  Only the sample (at most about ``fit_positions`` rows) and the grid-level label maps are held, so peak memory
  does not grow with the number of images. For each concept, the gallery lists the images it covers most.

Several layer sets of one encoder, and several K for each, can share one forward pass (:func:`nave_layer_sets`); the
demo and the studies use this.

Example:
    >>> from PIL import Image
    >>> from encoderscope.zoo import load_model
    >>> enc = load_model("timm:vit_tiny_patch16_224", random_init=True)
    >>> result = nave(enc, [Image.new("RGB", (64, 48), "red")], k=2, progress=False)
    >>> result.label_map(0).shape
    (48, 64)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from encoderscope import devices
from encoderscope._progress import warn
from encoderscope.capture.chunks import Batch
from encoderscope.capture.engine import ModelPass, engine_session, map_batches, preflight
from encoderscope.capture.layers import LayerSpec, resolve_layers
from encoderscope.capture.outputs import LayerOutput
from encoderscope.cluster import Clustering, assign_labels, fit_clusters, fit_clusters_batch, parse_k
from encoderscope.cluster.agglomerative import MAX_WARD_POINTS
from encoderscope.cluster.batch import BACKEND_NAME, BATCH_METHODS
from encoderscope.configs import resolve_config
from encoderscope.errors import EncoderscopeError, LayerError, ParameterError
from encoderscope.nave.attention import attention_labels, attention_module
from encoderscope.nave.combine import combine_depths
from encoderscope.nave.config import NaveConfig
from encoderscope.nave.result import NaveRecord, NaveResult
from encoderscope.runs import RunRecord, Stopwatch, python_call
from encoderscope.zoo import load_model
from encoderscope.zoo.encoder import Encoder

GridTransform = Callable[[str, LayerOutput], torch.Tensor]
"""``(layer name, captured output) -> (B, C, h, w) grid`` used in place of ``output.grid`` before the depths are
combined (e.g. to mask tokens; Python calls only: it is named in the result's notes, not recorded as configuration)."""

@dataclasses.dataclass
class _LayerSet:
    names: list[str]
    capture: list[str]
    attn: nn.Module | None = None


def prepare_encoder(
    encoder: str | nn.Module | Encoder,
    random_init: bool = False,
    seed: int = 0,
    size: int | str | None = "default",
    max_side: int | str | None = "default",
    device: devices.DeviceSpec = None,
    arch: str | None = None,
) -> Encoder:
    """Load ``encoder`` when it is a spec and apply the input size options (a copy; the original is untouched).

    ``size``: shorter side in pixels, ``None`` for the native resolution (the reference's choice), ``"default"`` for
    the encoder's own (224 for the zoo). ``max_side``: cap on the longer side, ``"default"`` keeps the encoder's.
    ``device``: where the model runs (``None``: an Encoder or module stays where it is, a spec goes to
    :func:`~encoderscope.devices.resolve_device`'s default); see :func:`~encoderscope.zoo.load_model` (also for
    ``arch``, the architecture of a ``file:`` checkpoint).
    """
    enc = load_model(encoder, random_init=random_init, seed=seed, device=device, arch=arch)
    changes: dict[str, Any] = {}
    if size != "default":
        changes["size"] = size
    if max_side != "default":
        changes["max_side"] = max_side
    for name, value in changes.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ParameterError(f"{name} must be a positive number of pixels or None, got {value!r}")
    if not changes:
        return enc
    return dataclasses.replace(enc, preprocess=dataclasses.replace(enc.preprocess, **changes))


def _layer_sets(encoder: Encoder, layer_sets: Sequence[LayerSpec | None], method: str) -> list[_LayerSet]:
    sets = []
    for spec in layer_sets:
        names = resolve_layers(encoder, spec)
        if method != "attention":
            sets.append(_LayerSet(names, names))
            continue
        if len(names) != 1:
            raise ParameterError(f"method 'attention' uses one block, got {len(names)} layers {names}")
        qkv, attn = attention_module(encoder, names[0])
        sets.append(_LayerSet(names, [qkv], attn))
    return sets


def _features(batch: Batch, layer_set: _LayerSet, resample: str, transform: GridTransform | None) -> torch.Tensor:
    grids = []
    for name in layer_set.names:
        grid = batch.outputs[name].grid
        if grid is None:
            raise LayerError(
                f"layer {name!r} has no spatial grid (output kind {batch.outputs[name].kind!r}); NAVE needs "
                "convolutional maps or patch tokens"
            )
        grids.append(grid if transform is None else transform(name, batch.outputs[name]))
    return combine_depths(grids, resample=resample, input_hw=batch.input_hw)


def _record(batch: Batch, j: int, labels: np.ndarray, k: int, k_choice: Any = None) -> NaveRecord:
    """Image ``j``'s record (without its item: the driver attaches its own, so no pixels travel back)."""
    item, prepared = batch.items[j], batch.prepared[j]
    return NaveRecord(
        key=item.key,
        index=batch.indices[j],
        labels=labels.astype(np.int16),
        k=k,
        original_hw=prepared.original_hw,
        content_hw=prepared.content_hw,
        padded_hw=prepared.padded_hw,
        path=None if item.path is None else str(item.path),
        k_choice=None if k_choice is None else dataclasses.asdict(k_choice),
    )


def _backend_used(backend: str, method: str, scope: str) -> str:
    """The back-end that ``"auto"`` resolves to: batched torch for the image scope, torch for one shared fit."""
    if backend != "auto" or method == "attention":
        return backend
    return BACKEND_NAME if scope == "image" and method in BATCH_METHODS else "torch"


def _sample_rows(flat: torch.Tensor, indices: list[int], quota: int, seed: int) -> np.ndarray:
    """Each image's seeded sample of positions (``default_rng([seed, index])``, sorted), gathered on the features'
    device and brought to the host in one transfer."""
    n = flat.shape[1]
    picks = [np.sort(np.random.default_rng([seed, i]).choice(n, size=min(n, quota), replace=False)) for i in indices]
    rows = torch.from_numpy(np.repeat(np.arange(len(picks)), [len(p) for p in picks])).to(flat.device)
    cols = torch.from_numpy(np.concatenate(picks)).to(flat.device)
    return flat[rows, cols].cpu().numpy()


def _display_name(encoder: Encoder, layer_set: _LayerSet, method: str) -> str:
    model = encoder.spec + (" (random init)" if encoder.random_init else "")
    if method == "attention":
        return f"{model} · attention heads of {layer_set.names[0]}"
    return f"{model} · {', '.join(layer_set.names)}"


def _gallery(records: list[NaveRecord], k: int, size: int) -> dict[int, list[tuple[str, float]]]:
    if not records:
        return {}
    coverage = np.stack([record.coverage()[:k] for record in records])
    gallery = {}
    for concept in range(k):
        order = np.argsort(-coverage[:, concept], kind="stable")[:size]
        gallery[concept] = [(records[i].key, float(coverage[i, concept])) for i in order if coverage[i, concept] > 0]
    return gallery


def _notes(encoder: Encoder, records: list[NaveRecord]) -> list[str]:
    pre = encoder.preprocess
    notes = [f"input: {pre.input_policy}"] if pre.input_policy else []
    if pre.max_side is None:
        return notes
    unbounded = dataclasses.replace(pre, max_side=None)
    capped = [r.key for r in records if unbounded.dense_size(r.original_hw) != r.content_hw]
    if not capped:
        return notes
    return [*notes, f"{len(capped)} image(s) downscaled to max_side={pre.max_side} px: {', '.join(capped[:20])}"]


def nave_inputs(encoder: Any, images: Any, config: NaveConfig) -> tuple[Any, Any, NaveConfig]:
    """The encoder and images (arguments first, else the configuration's), and the configuration recording them."""
    from encoderscope.data.images import recorded_sources

    model = encoder if encoder is not None else config.model
    if model is None:
        raise ParameterError("no encoder: pass one (a spec, module or Encoder) or set NaveConfig.model")
    sources = images if images is not None else (config.images or None)
    if sources is None:
        raise ParameterError("no images: pass them or set NaveConfig.images")
    recorded: dict[str, Any] = {}
    if isinstance(model, str):
        recorded["model"] = model
    images = recorded_sources(sources)
    if images is not None:
        recorded["images"] = images
    return model, sources, config.replace(**recorded)


def nave_layer_sets(
    encoder: str | nn.Module | Encoder | None = None,
    images: Any = None,
    layer_sets: Sequence[LayerSpec | None] | None = None,
    *,
    config: NaveConfig | None = None,
    ks: Sequence[int | str] | None = None,
    transform: GridTransform | None = None,
    progress: bool = True,
    device: devices.DeviceSpec = None,
    **options: Any,
) -> list[NaveResult]:
    """:func:`nave` for several layer sets of one encoder, and several K, sharing one forward pass per batch (and
    per scope pass).

    ``options`` are :class:`~encoderscope.nave.config.NaveConfig` fields (they override ``config``); ``layer_sets``
    default to ``[config.layers]``, ``ks`` to ``[config.k]``. Returns one :class:`NaveResult` per layer set and K,
    layer set by layer set, K by K: the result of layer set ``s`` and ``ks[i]`` is ``results[s * len(ks) + i]``.
    ``transform`` replaces the captured grids before the depths are combined (see :data:`GridTransform`).

    Example:
        >>> from PIL import Image
        >>> from encoderscope.zoo import load_model
        >>> enc = load_model("timm:vit_tiny_patch16_224", random_init=True)
        >>> results = nave_layer_sets(enc, [Image.new("RGB", (64, 48), "red")], [["blocks.5"], ["blocks.11"]],
        ...                           ks=[2, 3], progress=False)
        >>> [(r.config["layers"], r.k) for r in results]
        [(['blocks.5'], 2), (['blocks.5'], 3), (['blocks.11'], 2), (['blocks.11'], 3)]
    """
    cfg = resolve_config(NaveConfig, config, options)
    model, sources, cfg = nave_inputs(encoder, images, cfg)
    watch = Stopwatch()
    chosen_ks = [parse_k(k) for k in ks] if ks else [cfg.k]
    if not chosen_ks:
        raise ParameterError("ks needs at least one K")
    results = _nave_layer_sets(model, sources, list(layer_sets) if layer_sets else [cfg.layers], chosen_ks, cfg,
                               progress, device, watch, transform)
    runs = [(layer_set, k) for layer_set in (layer_sets or [cfg.layers]) for k in chosen_ks]
    for result, (layer_set, k) in zip(results, runs, strict=True):
        run_config = cfg.replace(layers=layer_set, k=k) if layer_sets else cfg.replace(k=k)
        if transform is not None:
            result.notes.append(f"grids transformed by {getattr(transform, '__qualname__', repr(transform))} "
                                "before the depths were combined")
        result.run = RunRecord.create(
            "nave", run_config, command=python_call("encoderscope.nave", run_config), seed=cfg.seed,
            seconds=watch.seconds(), stages=watch.stages,
        )
    return results


@dataclasses.dataclass
class _Grids:
    """How a batch's captured outputs become each layer set's ``(B, h, w, C)`` features."""

    sets: list[_LayerSet]
    resample: str
    transform: GridTransform | None

    def features(self, batch: Batch, s: int) -> torch.Tensor:
        return _features(batch, self.sets[s], self.resample, self.transform)


Found = list[tuple[int, NaveRecord]]
"""``(run index, record)`` pairs: run ``s * len(ks) + i`` is layer set ``s`` with K number ``i``."""
Failed = list[tuple[int, str, str]]
"""``(run index, image key, reason)`` of maps that could not be computed."""


@dataclasses.dataclass
class _ImageScopeJob:
    """The image scope on one batch (a batch job of :func:`~encoderscope.capture.engine.map_batches`, run where the
    encoder is): one clustering per image and K, or the attention heads' labels."""

    grids: _Grids
    ks: list[int | str]
    used: str
    clustering: dict[str, Any]
    heads: Sequence[int] | None

    def __call__(self, encoder: Encoder, batch: Batch) -> tuple[Found, Failed]:
        found: Found = []
        failed: Failed = []
        n_ks = len(self.ks)
        for s, layer_set in enumerate(self.grids.sets):
            if layer_set.attn is not None:
                labels, n_heads = attention_labels(batch.outputs[layer_set.capture[0]], layer_set.attn, encoder,
                                                   self.heads)
                for i, j in ((i, j) for i in range(n_ks) for j in range(len(batch.indices))):
                    found.append((s * n_ks + i, _record(batch, j, labels[j].numpy(), n_heads)))
                continue
            feats = self.grids.features(batch, s)
            for i in range(n_ks):
                if self.used == BACKEND_NAME:
                    self._batch(batch, s * n_ks + i, self.ks[i], feats, found, failed)
                else:
                    self._each(batch, s * n_ks + i, self.ks[i], feats, found, failed)
        return found, failed

    def _batch(self, batch: Batch, run: int, k: int | str, feats: torch.Tensor, found: Found, failed: Failed) -> None:
        b, h, w, dim = feats.shape
        c = self.clustering
        out = fit_clusters_batch(feats.reshape(b, h * w, dim), k, method=c["method"], seed=c["seed"],
                                 indices=batch.indices, n_init=c["n_init"])
        for j, (fit, err) in enumerate(zip(out.fits, out.errors, strict=True)):
            if fit is None:
                assert err is not None
                failed.append((run, batch.items[j].key, str(err)))
            else:
                found.append((run, _record(batch, j, fit.labels.reshape(h, w), fit.k, fit.k_choice)))

    def _each(self, batch: Batch, run: int, k: int | str, feats: torch.Tensor, found: Found, failed: Failed) -> None:
        h, w, dim = feats.shape[1:]
        for j in range(len(batch.indices)):
            try:
                fit = fit_clusters(feats[j].reshape(-1, dim), k, **self.clustering)
            except EncoderscopeError as err:
                failed.append((run, batch.items[j].key, str(err)))
                continue
            found.append((run, _record(batch, j, fit.labels.reshape(h, w), fit.k, fit.k_choice)))


@dataclasses.dataclass
class _SampleJob:
    """The dataset scope's first pass on one batch: each layer set's seeded sample of positions (see
    :func:`_sample_rows`); only these rows leave the process that holds the encoder."""

    grids: _Grids
    quota: int
    seed: int

    def __call__(self, encoder: Encoder, batch: Batch) -> list[np.ndarray]:
        samples = []
        for s in range(len(self.grids.sets)):
            feats = self.grids.features(batch, s)
            samples.append(_sample_rows(feats.reshape(feats.shape[0], -1, feats.shape[-1]), batch.indices,
                                        self.quota, self.seed))
        return samples


@dataclasses.dataclass
class _AssignJob:
    """The dataset scope's second pass on one batch: every position to its nearest concept of each fit."""

    grids: _Grids
    fits: list[Clustering | None]
    n_ks: int
    on_device: bool

    def __call__(self, encoder: Encoder, batch: Batch) -> tuple[Found, Failed]:
        found: Found = []
        for s in range(len(self.grids.sets)):
            feats = self.grids.features(batch, s)
            b, h, w, dim = feats.shape
            for i, fit in enumerate(self.fits[s * self.n_ks : (s + 1) * self.n_ks]):
                if fit is None:
                    continue
                if self.on_device:
                    labels = assign_labels(fit, feats.reshape(-1, dim)).reshape(b, h, w).cpu().numpy()
                else:
                    labels = fit.predict(feats.reshape(-1, dim)).reshape(b, h, w)
                found.extend((s * self.n_ks + i, _record(batch, j, labels[j], fit.k)) for j in range(b))
        return found, []


def _nave_layer_sets(
    encoder: str | nn.Module | Encoder,
    images: Any,
    layer_sets: Sequence[LayerSpec | None],
    ks: list[int | str],
    cfg: NaveConfig,
    progress: bool,
    device: devices.DeviceSpec,
    watch: Stopwatch,
    transform: GridTransform | None,
) -> list[NaveResult]:
    from encoderscope.data.images import ImageSet, open_images

    method, scope, seed, backend, resample = cfg.method, cfg.scope, cfg.seed, cfg.backend, cfg.resample
    batch_size, n_init, heads, autocast = cfg.batch_size, cfg.n_init, cfg.heads, cfg.autocast
    fit_positions = cfg.fit_positions
    if method == "agglomerative":
        fit_positions = min(fit_positions, MAX_WARD_POINTS)  # Ward needs O(N^2) memory
    preflight(cfg.engine, cfg.ray_address)
    enc = prepare_encoder(encoder, random_init=cfg.random_init, seed=seed, size=cfg.size, max_side=cfg.max_side,
                          device=device, arch=cfg.arch)
    if enc.preprocess.fixed_size and enc.preprocess.input_policy:  # said once per run, recorded in run.json notes
        warn(f"{enc.spec}: {enc.preprocess.input_policy}")
    sets = _layer_sets(enc, layer_sets or [None], method)
    capture = tuple(dict.fromkeys(name for layer_set in sets for name in layer_set.capture))
    image_set = images if isinstance(images, ImageSet) else open_images(images)
    used = _backend_used(backend, method, scope)
    on_device = backend == "auto" and method != "attention"  # features stay on the encoder's device
    # with a store, the dataset scope's second pass reads the first pass's shards instead of running the model
    model_pass = ModelPass(
        layers=capture, batch_size=batch_size, autocast=autocast, to_host=not on_device, cache=cfg.cache,
        workers=cfg.workers, engine=cfg.engine, ray_address=cfg.ray_address, ray_actors=cfg.ray_actors,
    )
    errors: list[tuple[int, dict[str, str]]] = []  # (run index, skipped entry)
    # one list of records (and one dataset-scope fit) per layer set and K: run index s * len(ks) + i
    records: list[list[NaveRecord]] = [[] for _ in sets for _ in ks]
    fits: list[Clustering | None] = [None for _ in sets for _ in ks]
    clustering = dict(method=method, seed=seed, backend="torch" if backend == "auto" else backend, n_init=n_init)
    grids = _Grids(sets, resample, transform)

    def collect(found: Found, failed: Failed) -> None:
        for run, record in found:
            record.item = image_set.items[record.index]
            records[run].append(record)
        for run, key, reason in failed:
            warn(f"skipped {key}: {reason}")
            errors.append((run, {"key": key, "reason": reason, "layers": ",".join(sets[run // len(ks)].names)}))

    with engine_session(cfg.engine, cfg.ray_address):
        if method == "attention" or scope == "image":
            for found, failed in map_batches(enc, image_set, _ImageScopeJob(grids, ks, used, clustering, heads),
                                             model_pass, progress):
                collect(found, failed)
            watch.lap("forward and clustering")
        else:
            quota = max(1, math.ceil(fit_positions / max(1, len(image_set))))
            # one buffer per layer set, rows filled in place (untouched rows of np.empty are never resident)
            buffers: list[np.ndarray | None] = [None for _ in sets]
            filled = [0 for _ in sets]
            for samples in map_batches(enc, image_set, _SampleJob(grids, quota, seed), model_pass, progress):
                for s, sample in enumerate(samples):
                    if buffers[s] is None:
                        buffers[s] = np.empty((quota * len(image_set), sample.shape[-1]), dtype=np.float32)
                    buffer = buffers[s]
                    assert buffer is not None
                    buffer[filled[s] : filled[s] + len(sample)] = sample
                    filled[s] += len(sample)
            watch.lap("sample pass")
            for s in range(len(sets)):
                buffer = buffers[s]
                if buffer is not None and filled[s]:
                    fit_device = enc.device if on_device else None
                    for i, k in enumerate(ks):
                        fits[s * len(ks) + i] = fit_clusters(buffer[: filled[s]], k, **clustering, device=fit_device)
                buffers[s] = None
            watch.lap("fit")
            for found, failed in map_batches(enc, image_set, _AssignJob(grids, fits, len(ks), on_device), model_pass,
                                             progress):
                collect(found, failed)
            watch.lap("assignment pass")

    unreadable = list({item.key: {"key": item.key, "reason": item.reason} for item in image_set.skipped}.values())
    results = []
    for run, (layer_set, k) in enumerate((layer_set, k) for layer_set in sets for k in ks):
        kept = sorted(records[run], key=lambda record: record.index)
        failed = [entry for index, entry in errors if index == run]
        skipped = unreadable + failed
        if not kept:
            reasons = [entry["reason"] for entry in failed + unreadable]
            raise ParameterError(f"no concept map could be computed: {reasons[0] if reasons else 'no images'}")
        fit = fits[run]
        config = {
            "model": enc.spec,
            "architecture": enc.architecture,
            "weights": enc.weights,
            "layout": enc.layout.describe(),
            "layers": layer_set.names,
            "k": k if method != "attention" else kept[0].k,
            "method": method,
            "scope": scope if method != "attention" else "image",
            "seed": seed,
            "backend": used,
            "n_init": n_init,
            "resample": resample,
            "batch_size": batch_size,
            "preprocess": dataclasses.asdict(enc.preprocess),
            "autocast": autocast,
            "device": devices.describe(enc.device),
        }
        if used != backend:
            config["backend_requested"] = backend
        notes = _notes(enc, kept)
        if method == "attention":
            config["heads"] = list(heads) if heads is not None else "all"
            notes.append("method 'attention': K is the number of heads used; labels are head indices")
        gallery: dict[int, list[tuple[str, float]]] = {}
        if fit is not None:
            config.update(fit_positions=fit_positions, k_fitted=fit.k)
            if fit.k_choice is not None:
                config["k_choice"] = dataclasses.asdict(fit.k_choice)
            gallery = _gallery(kept, fit.k, cfg.gallery_size)
        results.append(
            NaveResult(_display_name(enc, layer_set, method), kept, config, skipped, gallery, notes)
        )
    return results


def nave(
    encoder: str | nn.Module | Encoder | None = None,
    images: Any = None,
    layers: LayerSpec | None = None,
    *,
    config: NaveConfig | None = None,
    progress: bool = True,
    device: devices.DeviceSpec = None,
    **options: Any,
) -> NaveResult:
    """NAVE concept maps of ``images`` under ``encoder`` (docs/methods/nave.md; see the module docstring for scopes).

    Args:
        encoder: an :class:`~encoderscope.zoo.Encoder`, a module, or a spec such as ``"zoo:dinov2-vits14"``
            (default: ``config.model``).
        images: files, folders, ``"zoo:photos"``, PIL images, or an :class:`~encoderscope.data.ImageSet`
            (default: ``config.images``).
        layers: layer names/globs/depth indices, shallow to deep; ``None`` = ``config.layers``, else
            ``encoder.default_layers`` (the last block or stage).
        config: a :class:`~encoderscope.nave.config.NaveConfig` (default: its defaults).
        progress: show progress bars.
        device: where the model runs (default: an Encoder stays where it is, a spec goes to ``cuda`` when
            available, else ``cpu``).
        **options: any :class:`~encoderscope.nave.config.NaveConfig` field, overriding ``config``: ``k`` (5, an
            integer, ``"auto"`` or ``"silhouette"``), ``method`` (``"kmeans"``, ``"pca"``, ``"agglomerative"``,
            ``"attention"``: ViTs, CLS-to-patch attention, label = argmax head, ``heads=[...]`` picks heads),
            ``scope`` (``"image"``: one clustering per image; ``"dataset"``: one shared clustering), ``seed``,
            ``backend`` (``"auto"``, the default: k-means/PCA of all images of a batch at once in torch on the
            encoder's device, image ``i`` seeded with ``[seed, i]``, and the dataset scope's fit and assignment there
            too; or a per-image back-end: ``"faiss"``, the results of earlier versions, ``"torch"``, ``"sklearn"``;
            ``config["backend"]`` records the one used), ``resample`` (``"bicubic"``, the reference, or
            ``"bilinear-input"``), ``batch_size`` (8), ``n_init`` (4), ``fit_positions`` (20000), ``random_init``,
            ``size`` (shorter side in px; ``None`` = native resolution as the reference), ``max_side``,
            ``autocast`` (mixed-precision forward, see :func:`~encoderscope.devices.autocast_dtype`),
            ``gallery_size`` (8), ``workers`` (decoding processes, default ``min(4, cores - 1)``; the results do not
            depend on it), ``cache`` (an activation store folder: activations are stored per chunk of images and
            read back by the next run, which resumes a killed run bit-identically; docs/scale.md), ``engine``
            (``"local"``, or ``"ray"``: the forward passes and the clustering on an actor pool of encoders on a Ray
            cluster, the same results; docs/scale.md), ``ray_address`` and ``ray_actors`` (the Ray cluster and its
            number of encoder actors). An unknown name is a one-line error listing the valid ones.
    """
    if layers is not None:
        options["layers"] = layers
    cfg = resolve_config(NaveConfig, config, options)
    result = nave_layer_sets(encoder, images, config=cfg, progress=progress, device=device)[0]
    if not cfg.naming.name_concepts:
        return result
    from encoderscope.nave.names import name_concepts

    return name_concepts(result, config=cfg.naming, device=device, workers=cfg.workers, progress=progress)


nave_maps = nave
"""The same function as :func:`nave`, under the flat-API name ``encoderscope.nave_maps``."""
