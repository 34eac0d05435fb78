"""Naming units: match each unit's activations to the concept whose scores fit best (docs/methods/dissection.md).

:func:`dissect` runs the whole pipeline (activations through the capture core, concept scores from a scorer, a
similarity function); :func:`describe_units` starts from the two matrices. The result, :class:`Dissection`, holds
each unit's best concepts and top-activating images, explains single images (:meth:`Dissection.explain`) and saves
``descriptions.csv``, ``top_concepts.csv``, ``dissection.npz`` (what :meth:`Dissection.load` reads back: the
descriptions and the ``(N, U)`` activations), ``run.json`` and per-neuron galleries.

Example:
    >>> import torch
    >>> from encoderscope.dissect.activations import activations_from_tensor
    >>> acts = activations_from_tensor(torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.5, 0.1]]), "fc")
    >>> P = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> result = describe_units(acts, P, ["stripes", "dots"], top_images=2, top_k=2)
    >>> [row["concept"] for row in result.descriptions()]
    ['stripes', 'dots']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from encoderscope import devices
from encoderscope._io import read_npz, write_csv, write_json, write_npz
from encoderscope.configs import resolve_config
from encoderscope.dissect.activations import NeuronActivations
from encoderscope.dissect.config import DissectConfig
from encoderscope.dissect.similarity import get_similarity
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call


@dataclass
class Explanation:
    """One block's winner for one image: the unit, its concept and its activation."""

    block: int
    unit: int
    concept: str
    activation: float
    score: float


@dataclass
class Dissection(Recorded):
    """Descriptions of the units of one layer.

    Attributes:
        layer: dotted layer name.
        concepts: the concept set.
        similarity: name of the similarity function; ``params`` its keyword arguments.
        best: ``(U, R)`` concept indices of each unit's ``R`` best concepts, best first.
        best_scores: ``(U, R)`` their similarity scores.
        top_images: ``(U, T)`` probe-image indices of each unit's highest activations, highest first.
        activations: the :class:`NeuronActivations` the descriptions come from.
        scorer: name of the concept scorer.
        config: resolved configuration for run.json.
        explain_images: :meth:`save` writes ``explanations.csv`` for the first ``explain_images`` probe images,
            with LWTA blocks of ``block_size`` units.
        run: the run's record (typed configuration, command, timings), written as run.json by :meth:`save`.
    """

    layer: str
    concepts: list[str] = field(repr=False)
    similarity: str
    params: dict[str, Any]
    best: torch.Tensor = field(repr=False)
    best_scores: torch.Tensor = field(repr=False)
    top_images: torch.Tensor = field(repr=False)
    activations: NeuronActivations = field(repr=False)
    scorer: str = "given"
    config: dict[str, Any] = field(default_factory=dict)
    explain_images: int = 0
    block_size: int = 1

    def __repr__(self) -> str:
        return (f"Dissection({self.config.get('model', '?')} · {self.layer}: {self.n_units} units, "
                f"{len(self.concepts)} concepts, {len(self.activations.items)} images, {self.similarity})")

    @property
    def n_units(self) -> int:
        """Number of units."""
        return int(self.best.shape[0])

    def concept_of(self, unit: int) -> str:
        """The description (best concept) of ``unit``."""
        return self.concepts[int(self.best[unit, 0])]

    def descriptions(self) -> list[dict[str, Any]]:
        """One row per unit: layer, unit, concept, score, top image keys (``;``-separated)."""
        keys = self.activations.keys
        return [
            {
                "layer": self.layer,
                "unit": unit,
                "concept": self.concept_of(unit),
                "score": float(self.best_scores[unit, 0]),
                "top_images": ";".join(keys[int(i)] for i in self.top_images[unit]),
            }
            for unit in range(self.n_units)
        ]

    def explain(self, image: int, block_size: int = 1) -> list[Explanation]:
        """Per-image explanation (docs/methods/dissection.md): each block's winner with its concept, by activation.

        The units are split into blocks of ``block_size`` consecutive units (U of the LWTA layer). The winner of a
        block is its non-zero unit. This fixes the released code, which takes the argmax and so picks a zeroed
        loser when the winner's linear value is negative. When a block has several non-zero units (non-LWTA
        layers, spatially pooled conv LWTA outputs) the largest value wins, as in the released code.
        """
        values = self.activations.values[image]
        if block_size < 1 or values.numel() % block_size:
            raise ParameterError(f"block size {block_size} does not divide the {values.numel()} units")
        blocks = values.reshape(-1, block_size)
        rows = []
        for block, block_values in enumerate(blocks):
            nonzero = torch.nonzero(block_values).flatten()
            local = int(nonzero[0]) if len(nonzero) == 1 else int(block_values.argmax())
            unit = block * block_size + local
            rows.append(
                Explanation(
                    block, unit, self.concept_of(unit), float(block_values[local]), float(self.best_scores[unit, 0])
                )
            )
        return sorted(rows, key=lambda row: -row.activation)

    def explanations(self, n_images: int | None = None, block_size: int | None = None) -> list[dict[str, Any]]:
        """Rows of :meth:`explain` for the first ``n_images`` probe images (default: ``explain_images``)."""
        n = self.explain_images if n_images is None else n_images
        U = self.block_size if block_size is None else block_size
        return [
            {"image": self.activations.keys[i], "rank": r + 1, "block": e.block, "unit": e.unit, "concept": e.concept,
             "activation": e.activation, "score": e.score}
            for i in range(min(n, len(self.activations.items)))
            for r, e in enumerate(self.explain(i, U))
        ]

    def save(self, folder: str | Path, galleries: int = 16, gallery_images: int = 6) -> Path:
        """Write descriptions.csv, top_concepts.csv, dissection.npz, explanations.csv (with ``explain_images``),
        skipped.json, run.json and galleries of the first ``galleries`` units."""
        folder = Path(folder)
        rows = self.descriptions()
        write_csv(folder / "descriptions.csv", ["layer", "unit", "concept", "score", "top_images"], rows)
        ranked = [
            {"unit": u, "rank": r + 1, "concept": self.concepts[int(c)], "score": float(s)}
            for u in range(self.n_units)
            for r, (c, s) in enumerate(zip(self.best[u], self.best_scores[u], strict=True))
        ]
        write_csv(folder / "top_concepts.csv", ["unit", "rank", "concept", "score"], ranked)
        items = self.activations.items
        paths = [str(getattr(item, "path", None) or "") for item in items]
        write_npz(folder / "dissection.npz", {
            "best": self.best.numpy(), "best_scores": self.best_scores.numpy(), "top_images": self.top_images.numpy(),
            "values": self.activations.values.numpy(), "concepts": np.array(self.concepts, dtype=str),
            "keys": np.array(self.activations.keys, dtype=str), "paths": np.array(paths, dtype=str),
        })
        explained = self.explanations()
        if explained:
            write_csv(folder / "explanations.csv", list(explained[0]), explained)
        write_json(folder / "skipped.json", self.activations.skipped)
        if galleries > 0:
            self.save_galleries(folder / "galleries", range(min(galleries, self.n_units)), gallery_images)
        self.run_record().write(folder)  # last: a folder with a run.json is complete
        return folder

    def run_record(self) -> RunRecord:
        """The run record: the typed configuration and timings; ``details`` holds what loading needs beside
        ``dissection.npz`` (layer, similarity and its options, scorer, pool, the resolved configuration)."""
        run = self.run or RunRecord.create("dissect", self.config, seed=self.config.get("seed"))
        details = {
            "resolved": self.config,
            "layer": self.layer,
            "similarity": self.similarity,
            "similarity_params": self.params,
            "scorer": self.scorer,
            "pool": self.activations.pool,
            "n_images": int(self.activations.values.shape[0]),
            "n_units": self.n_units,
            "n_concepts": len(self.concepts),
            "explain_images": self.explain_images,
            "block_size": self.block_size,
        }
        return run.replace(skipped=self.activations.skipped, details=details)

    def run_info(self) -> dict[str, Any]:
        """What run.json holds (:meth:`run_record` as a dict)."""
        return self.run_record().to_dict()

    @classmethod
    def load(cls, folder: str | Path) -> Dissection:
        """A dissection written by :meth:`save` (probe images found again by their recorded paths)."""
        from encoderscope.data.images import ImageItem
        from encoderscope.dissect.activations import activations_from_tensor

        path = Path(folder)
        run = RunRecord.read(path, "dissect", "a dissection")
        arrays = read_npz(path / "dissection.npz")
        d = run.details
        keys = [str(k) for k in arrays["keys"]]
        acts = activations_from_tensor(torch.as_tensor(arrays["values"]), d["layer"], keys, pool=d["pool"])
        acts.items = [ImageItem(key, None, Path(p)) if p else item
                      for key, p, item in zip(keys, (str(p) for p in arrays["paths"]), acts.items, strict=True)]
        acts.skipped = [(entry["key"], entry["reason"]) for entry in run.skipped]
        return cls(
            layer=d["layer"], concepts=[str(c) for c in arrays["concepts"]], similarity=d["similarity"],
            params=dict(d["similarity_params"]), best=torch.as_tensor(arrays["best"]),
            best_scores=torch.as_tensor(arrays["best_scores"]), top_images=torch.as_tensor(arrays["top_images"]),
            activations=acts, scorer=d["scorer"], config=dict(d["resolved"]), explain_images=d["explain_images"],
            block_size=d["block_size"], run=run,
        )

    def save_galleries(self, folder: Path, units: Sequence[int], n_images: int = 6, per_figure: int = 8) -> None:
        """Per-neuron galleries of top-activating probe images, ``per_figure`` units per PNG."""
        from encoderscope.report.dissect import write_galleries

        write_galleries(self, folder, units, n_images, per_figure)

    def figure(self, units: Sequence[int] | None = None, n_images: int = 6) -> Any:
        """A matplotlib figure: the gallery of ``units`` (default: the first eight), or their scores as bars when
        the probe images cannot be loaded."""
        from encoderscope.report.dissect import dissection_figure

        return dissection_figure(self, units, n_images)

    _repr_html_ = drawn_by("encoderscope.report.dissect:dissection_html", "The notebook view (HTML).")


def describe_units(
    activations: NeuronActivations,
    concept_scores: torch.Tensor,
    concepts: Sequence[str],
    similarity: str = "soft_wpmi",
    keep: int = 5,
    top_images: int = 10,
    scorer: str = "given",
    config: dict[str, Any] | None = None,
    device: devices.DeviceSpec = None,
    **params: Any,
) -> Dissection:
    """Describe every unit from its activations ``(N, U)`` and the concept scores ``P`` ``(N, M)``.

    The similarity runs on ``device`` (default: where the activations are; :func:`dissect` uses the encoder's);
    the result's tensors are on the CPU.

    Args:
        activations: from :func:`~encoderscope.dissect.activations.neuron_activations`.
        concept_scores: P, rows in the order of ``activations.items``.
        concepts: the M concept strings.
        similarity: a name in :data:`encoderscope.dissect.similarity.SIMILARITIES`.
        keep: best concepts kept per unit.
        top_images: top-activating images kept per unit.
        **params: passed to the similarity function (defaults in docs/methods/dissection.md#defaults).
    """
    target = activations.values.device if device is None else devices.resolve_device(device)
    P = devices.to_device(torch.as_tensor(concept_scores, dtype=torch.float32), target)
    if P.shape[1] != len(concepts):
        raise ParameterError(f"concept scores have {P.shape[1]} columns for {len(concepts)} concepts")
    A = devices.to_device(activations.values, target)
    scores = get_similarity(similarity)(P, A, **params)
    keep = min(keep, len(concepts))
    best = torch.topk(scores, k=keep, dim=1)
    top = torch.topk(A, k=min(top_images, A.shape[0]), dim=0).indices.T
    return Dissection(
        layer=activations.layer,
        concepts=list(concepts),
        similarity=similarity,
        params=params,
        best=best.indices.cpu(),
        best_scores=best.values.cpu(),
        top_images=top.cpu(),
        activations=activations,
        scorer=scorer,
        config=dict(config or {}),
    )


def load_dissect_model(
    model: Any, random_init: bool = False, arch: str | None = None, seed: int = 0, device: devices.DeviceSpec = None
) -> Any:
    """An :class:`~encoderscope.zoo.Encoder` for dissection: a spec, module or Encoder, or a folder written by
    ``encoderscope lwta train`` (also as ``lwta:FOLDER``)."""
    from encoderscope.zoo import load_model

    if isinstance(model, str | Path):
        text = str(model)
        folder = Path(text.removeprefix("lwta:"))
        if text.startswith("lwta:") or ((folder / "config.json").is_file() and (folder / "model.pt").is_file()):
            from encoderscope.lwta.models import encoder_for, load_checkpoint

            target = devices.resolve_device(device)
            net, config = load_checkpoint(folder, seed=seed)
            return encoder_for(net, config, spec=f"lwta:{folder}").to(target)
    return load_model(model, random_init=random_init, arch=arch, seed=seed, device=device)


def dissect(
    model: Any = None,
    probe: Any = None,
    layer: str | None = None,
    concepts: Sequence[str] | str | None = None,
    scorer: Any = None,
    *,
    config: DissectConfig | None = None,
    progress: bool = True,
    device: devices.DeviceSpec = None,
    **options: Any,
) -> Dissection:
    """The whole pipeline: activations of ``layer`` on ``probe``, concept scores, similarity, descriptions.

    Everything runs on the encoder's device: the forward passes, a scorer given as a spec (its CLIP or classifier
    and text models) and the similarity function.

    Args:
        model: a spec, ``nn.Module``, :class:`~encoderscope.zoo.Encoder` or LWTA checkpoint folder (default:
            ``config.model``).
        probe: an ``ImageSet`` or anything ``open_images`` takes (default: ``config.probe``).
        layer: the layer to dissect (default: ``config.layer``).
        concepts: a list of strings, a built-in set name or a text file
            (:func:`~encoderscope.dissect.concepts.load_concepts`; default: ``config.concepts``, else the scorer's).
        scorer: a :class:`~encoderscope.dissect.scorers.ConceptScorer` or a spec (``labelspace``,
            ``clip:MODEL:WEIGHTS``, ``annotations:FILE``; default: ``config.scorer``).
        config: a :class:`~encoderscope.dissect.config.DissectConfig`.
        progress: show progress bars.
        device: where the model runs (default: an Encoder or module stays where it is, a spec goes to ``cuda``
            when available, else ``cpu``).
        **options: :class:`~encoderscope.dissect.config.DissectConfig` fields (``similarity``, ``pool``,
            ``batch_size``, ``seed``, ``autocast``, ``workers``, ``cache``, ``explain``...) and the similarity
            function's own options (``top_k``...), overriding ``config``.
    """
    from encoderscope.capture.engine import preflight
    from encoderscope.data.images import ImageSet, open_images, recorded_sources
    from encoderscope.dissect.activations import neuron_activations
    from encoderscope.dissect.concepts import load_concepts
    from encoderscope.dissect.scorers import make_scorer
    from encoderscope.lwta import lwta_layers

    known = set(DissectConfig.field_names())
    params = {name: options.pop(name) for name in list(options) if name not in known}
    cfg = resolve_config(DissectConfig, config, options)
    given = {"model": model, "layer": layer, "scorer": scorer, "concepts": concepts}
    cfg = cfg.replace(**{name: value for name, value in given.items() if isinstance(value, str)})
    probe_record = recorded_sources(probe if probe is not None else cfg.probe or None)
    if probe_record is not None:
        cfg = cfg.replace(probe=probe_record)
    if params:
        cfg = cfg.replace(similarity_params={**cfg.similarity_params, **params})
    model, layer = model if model is not None else cfg.model, layer if layer is not None else cfg.layer
    scorer = scorer if scorer is not None else cfg.scorer
    probe = probe if probe is not None else (cfg.probe or None)
    if model is None or layer is None or probe is None:
        raise ParameterError("dissection needs a model, a layer and probe images (arguments or DissectConfig)")
    watch = Stopwatch()
    preflight(cfg.engine, cfg.ray_address)  # a missing Ray or an unreachable cluster, before the model loads
    encoder = load_dissect_model(model, cfg.random_init, cfg.arch, cfg.seed, device)
    if isinstance(scorer, str):
        scorer = make_scorer(scorer, device=encoder.device, workers=cfg.workers)
    if concepts is None:
        concepts = cfg.concepts if cfg.concepts is not None else getattr(scorer, "concepts", None)
        if not concepts:
            raise ParameterError("concepts are needed (the scorer has no concept names of its own)")
    if isinstance(concepts, str):
        concepts = load_concepts(concepts)
    image_set = probe if isinstance(probe, ImageSet) else open_images(probe, limit=cfg.limit)
    acts = neuron_activations(
        encoder, image_set, layer, pool=cfg.pool, batch_size=cfg.batch_size, seed=cfg.seed, progress=progress,
        autocast=cfg.autocast, workers=cfg.workers, cache=cfg.cache or False, engine=cfg.engine,
        ray_address=cfg.ray_address, ray_actors=cfg.ray_actors,
    )
    watch.lap("activations")
    P = scorer.scores(acts.items, list(concepts))
    watch.lap("concept scores")
    resolved = {"model": encoder.spec, "weights": encoder.weights, "seed": cfg.seed, "autocast": cfg.autocast,
                "device": devices.describe(encoder.device)}
    result = describe_units(
        acts, P, concepts, similarity=cfg.similarity, keep=cfg.keep, top_images=cfg.top_images, scorer=scorer.name,
        config=resolved, device=encoder.device, **cfg.similarity_params,
    )
    watch.lap("similarity")
    result.explain_images = cfg.explain
    result.block_size = cfg.block_size or getattr(lwta_layers(encoder.module).get(result.layer), "U", 1)
    result.run = RunRecord.create("dissect", cfg, command=python_call("encoderscope.dissect.dissect", cfg),
                                  seed=cfg.seed, seconds=watch.seconds(), stages=watch.stages)
    return result
