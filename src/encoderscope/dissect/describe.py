"""Naming units: match each unit's activations to the concept whose scores fit best (docs/methods/dissection.md).

:func:`dissect` runs the whole pipeline (activations through the capture core, concept scores from a scorer, a
similarity function); :func:`describe_units` starts from the two matrices. The result, :class:`Dissection`, holds
each unit's best concepts and top-activating images, explains single images (:meth:`Dissection.explain`) and saves
``descriptions.csv``, ``top_concepts.csv``, ``run.json`` and per-neuron galleries.

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

import csv
import io
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from encoderscope import devices
from encoderscope._io import write_json, write_text
from encoderscope._progress import warn
from encoderscope.dissect.activations import NeuronActivations
from encoderscope.dissect.similarity import get_similarity
from encoderscope.errors import ParameterError


@dataclass
class Explanation:
    """One block's winner for one image: the unit, its concept and its activation."""

    block: int
    unit: int
    concept: str
    activation: float
    score: float


@dataclass
class Dissection:
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
    """

    layer: str
    concepts: list[str]
    similarity: str
    params: dict[str, Any]
    best: torch.Tensor
    best_scores: torch.Tensor
    top_images: torch.Tensor
    activations: NeuronActivations
    scorer: str = "given"
    config: dict[str, Any] = field(default_factory=dict)

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

    def save(self, folder: str | Path, galleries: int = 16, gallery_images: int = 6) -> Path:
        """Write descriptions.csv, top_concepts.csv, run.json and galleries of the first ``galleries`` units."""
        folder = Path(folder)
        rows = self.descriptions()
        write_text(folder / "descriptions.csv", _csv(rows, ["layer", "unit", "concept", "score", "top_images"]))
        ranked = [
            {"unit": u, "rank": r + 1, "concept": self.concepts[int(c)], "score": float(s)}
            for u in range(self.n_units)
            for r, (c, s) in enumerate(zip(self.best[u], self.best_scores[u], strict=True))
        ]
        write_text(folder / "top_concepts.csv", _csv(ranked, ["unit", "rank", "concept", "score"]))
        write_json(folder / "run.json", self.run_info())
        if galleries > 0:
            self.save_galleries(folder / "galleries", range(min(galleries, self.n_units)), gallery_images)
        return folder

    def run_info(self) -> dict[str, Any]:
        """Resolved configuration, versions and skipped inputs."""
        import encoderscope

        return {
            **self.config,
            "layer": self.layer,
            "similarity": self.similarity,
            "similarity_params": self.params,
            "scorer": self.scorer,
            "pool": self.activations.pool,
            "n_images": int(self.activations.values.shape[0]),
            "n_units": self.n_units,
            "n_concepts": len(self.concepts),
            "skipped": self.activations.skipped,
            "versions": {
                "encoderscope": encoderscope.__version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
        }

    def save_galleries(self, folder: Path, units: Sequence[int], n_images: int = 6, per_figure: int = 8) -> None:
        """Per-neuron galleries of top-activating probe images, ``per_figure`` units per PNG."""
        try:
            from encoderscope.report import save_png
            from encoderscope.report.gallery import neuron_gallery
        except ImportError:
            warn("galleries skipped: encoderscope.report.gallery is not available")
            return
        units = list(units)
        values = self.activations.values
        for start in range(0, len(units), per_figure):
            chunk = units[start : start + per_figure]
            tops = [[int(i) for i in self.top_images[unit, :n_images]] for unit in chunk]
            try:
                images = [[self.activations.items[i].load() for i in top] for top in tops]
            except Exception as err:  # images given as a matrix, or unreadable now
                warn(f"galleries skipped: {err}")
                return
            picture = neuron_gallery(
                chunk,
                images,
                [f"{self.concept_of(u)} ({self.similarity} {float(self.best_scores[u, 0]):.3g})" for u in chunk],
                [[float(values[i, u]) for i in top] for u, top in zip(chunk, tops, strict=True)],
                title=f"{self.layer}: units {chunk[0]}-{chunk[-1]}",
            )
            save_png(folder / f"units_{chunk[0]:05d}-{chunk[-1]:05d}.png", picture)


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


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


def dissect(
    model: Any,
    probe: Any,
    layer: str,
    concepts: Sequence[str] | str,
    scorer: Any,
    similarity: str = "soft_wpmi",
    pool: str = "auto",
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
    autocast: bool = False,
    device: devices.DeviceSpec = None,
    **params: Any,
) -> Dissection:
    """The whole pipeline: activations of ``layer`` on ``probe``, concept scores, similarity, descriptions.

    Everything runs on the encoder's device: the forward passes, a scorer given as a spec (its CLIP or classifier
    and text models) and the similarity function.

    Args:
        model: a spec, ``nn.Module`` or :class:`~encoderscope.zoo.Encoder`.
        probe: an ``ImageSet`` or anything ``open_images`` takes.
        layer: the layer to dissect.
        concepts: a list of strings, a built-in set name or a text file
            (:func:`~encoderscope.dissect.concepts.load_concepts`).
        scorer: a :class:`~encoderscope.dissect.scorers.ConceptScorer` or a spec (``labelspace``,
            ``clip:MODEL:WEIGHTS``, ``annotations:FILE``).
        similarity, pool, batch_size, seed, progress, autocast, params: see :func:`describe_units` and
            :func:`~encoderscope.dissect.activations.neuron_activations`.
        device: where the model runs (default: an Encoder or module stays where it is, a spec goes to ``cuda``
            when available, else ``cpu``).
    """
    from encoderscope.data.images import ImageSet, open_images
    from encoderscope.dissect.activations import neuron_activations
    from encoderscope.dissect.concepts import load_concepts
    from encoderscope.dissect.scorers import make_scorer
    from encoderscope.zoo import load_model

    encoder = load_model(model, device=device)
    if isinstance(scorer, str):
        scorer = make_scorer(scorer, device=encoder.device)
    if isinstance(concepts, str):
        concepts = load_concepts(concepts)
    image_set = probe if isinstance(probe, ImageSet) else open_images(probe)
    acts = neuron_activations(
        encoder, image_set, layer, pool=pool, batch_size=batch_size, seed=seed, progress=progress, autocast=autocast
    )
    P = scorer.scores(acts.items, list(concepts))
    config = {"model": encoder.spec, "weights": encoder.weights, "seed": seed, "autocast": autocast,
              "device": devices.describe(encoder.device)}
    return describe_units(
        acts, P, concepts, similarity=similarity, scorer=scorer.name, config=config, device=encoder.device, **params
    )
