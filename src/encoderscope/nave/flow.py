"""Concept flow across depths: which concepts of one depth persist, split or merge in the next (docs/flow.md).

A flow runs one dataset-scope NAVE clustering per layer (same images, same seed, one forward pass capturing every
layer), so concept ``i`` of a depth means the same region type in every image. Between consecutive depths ``d`` and
``d + 1``:

* **Common grid.** Both label grids of an image cover the same padded input. Each pair of grids is compared on the
  FINER of the two (``grid="finer"``, the default): the coarser map is repeated by nearest neighbour, so every
  position of the finer depth counts once and a coarse cell counts by its area. ``grid="coarser"`` samples the
  finer map at the coarser grid's cell centres instead (nearest). Positions in the zero padding (bottom/right) are
  left out. Counts are summed over the images.
* **Transitions.** ``counts[i, j]``: positions with concept ``i`` at depth ``d`` and concept ``j`` at ``d + 1``.
  ``forward[i, j] = counts[i, j] / sum_j counts[i, j]``: the share of concept ``i`` that lands in ``j`` (rows sum
  to 1). ``backward[i, j] = counts[i, j] / sum_i counts[i, j]``: the share of ``j`` that comes from ``i``.
* **Persist.** ``i`` persists as ``j`` when ``forward[i, j] > p`` and ``backward[i, j] > p`` (``p =
  persist_share``, 0.5): most of ``i`` goes to ``j`` and most of ``j`` comes from ``i``. With ``p >= 0.5`` each
  concept persists as at most one concept and the pairs are one-to-one; strictly more than ``p``, so a half-and-half
  split is a split, not a persistence.
* **Split.** ``i`` splits when two or more targets each take ``forward[i, j] >= b`` (``b = branch_share``, 0.25).
* **Merge** (the mirror image). ``j`` is a merge when two or more sources each give ``backward[i, j] >= b``.
  The three are counted separately: a concept that keeps 60 % of itself in one successor and sends 30 % to another
  both persists and splits.
* **Mutual information** ``I = sum_ij p_ij log(p_ij / (p_i p_j))`` in nats, with ``p = counts / counts.sum()``,
  and the normalised MI ``I / ((H_d + H_{d+1}) / 2)`` (arithmetic mean of the entropies, scikit-learn's default
  ``normalized_mutual_info_score``; 1.0 when both partitions are one concept, 0.0 when only one of them is).

Example:
    >>> a = np.array([[0, 0, 1, 1]]); b = np.array([[0, 1, 2, 2]])
    >>> step = flow_step(transition_counts([a], [b], 2, 3), "d1", "d2")
    >>> step.persist, step.splits, step.merges
    ([(1, 2)], {0: [0, 1]}, {})
    >>> round(step.mutual_information, 4), round(step.normalized_mi, 4)
    (0.6931, 0.8)
"""

from __future__ import annotations

import base64
import html
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from encoderscope import devices
from encoderscope._io import csv_text, make_folder, write_bytes, write_json, write_text
from encoderscope.capture.layers import LayerSpec, resolve_layers
from encoderscope.configs import resolve_config
from encoderscope.errors import ParameterError
from encoderscope.nave.config import FlowConfig
from encoderscope.nave.result import NaveRecord, NaveResult, load_nested
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call
from encoderscope.zoo.encoder import Encoder

TRANSITION_COLUMNS = ["step", "layer_from", "layer_to", "concept_from", "concept_to", "positions", "share_of_from",
                      "share_of_to"]


def _content(labels: np.ndarray, record: NaveRecord) -> np.ndarray:
    """``labels`` (a grid over the padded input) cut to the image's content (padding is bottom/right)."""
    h, w = labels.shape
    rows = -(-record.content_hw[0] * h // record.padded_hw[0])
    cols = -(-record.content_hw[1] * w // record.padded_hw[1])
    return labels[:rows, :cols]


def common_grids(a: np.ndarray, b: np.ndarray, grid: str = "finer") -> tuple[np.ndarray, np.ndarray]:
    """Two label grids of one image on their common grid (nearest neighbour; see the module docstring).

    Example:
        >>> a, b = common_grids(np.array([[0, 1]]), np.array([[0, 1, 1, 2]]))
        >>> a.tolist(), b.tolist()
        ([[0, 0, 1, 1]], [[0, 1, 1, 2]])
    """
    from encoderscope.data.label_maps import resize_labels

    finer_a = a.size >= b.size
    target = a.shape if finer_a == (grid == "finer") else b.shape
    return resize_labels(a, target), resize_labels(b, target)


def transition_counts(
    maps_from: Sequence[np.ndarray], maps_to: Sequence[np.ndarray], k_from: int, k_to: int, grid: str = "finer"
) -> np.ndarray:
    """``(k_from, k_to)`` int64 counts of positions with concept ``i`` in ``maps_from`` and ``j`` in ``maps_to``,
    one pair of maps per image, each pair on its common grid (:func:`common_grids`), summed over images.
    Negative labels are left out.

    Example:
        >>> transition_counts([np.array([[0, 1]])], [np.array([[1, 1, 0, 0]])], 2, 2).tolist()
        [[0, 2], [2, 0]]
    """
    from encoderscope.data.label_maps import overlap_matrix

    if len(maps_from) != len(maps_to):
        raise ParameterError(f"{len(maps_from)} label maps at one depth but {len(maps_to)} at the next")
    pairs = [common_grids(np.asarray(a), np.asarray(b), grid) for a, b in zip(maps_from, maps_to, strict=True)]
    if not pairs:
        return np.zeros((k_from, k_to), dtype=np.int64)
    return overlap_matrix([a for a, _ in pairs], [b for _, b in pairs], k_from, k_to)


def _shares(counts: np.ndarray, axis: int) -> np.ndarray:
    totals = counts.sum(axis=axis, keepdims=True).astype(np.float64)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mutual_information(counts: np.ndarray) -> tuple[float, float, float, float]:
    """``(I, NMI, H_from, H_to)`` of the partitions a contingency table ``counts`` describes (nats; see the module
    docstring).

    Example:
        >>> [round(v, 4) for v in mutual_information(np.array([[2, 0], [0, 2]]))]
        [0.6931, 1.0, 0.6931, 0.6931]
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ParameterError("no positions in common between the two depths")
    p = counts / total
    p_from, p_to = p.sum(axis=1), p.sum(axis=0)
    h_from, h_to = _entropy(p_from), _entropy(p_to)
    outer = np.outer(p_from, p_to)
    nz = p > 0
    mi = max(0.0, float((p[nz] * np.log(p[nz] / outer[nz])).sum()))
    if h_from == 0 and h_to == 0:
        nmi = 1.0
    elif mi == 0:
        nmi = 0.0
    else:
        nmi = min(1.0, mi / ((h_from + h_to) / 2))
    return mi, nmi, h_from, h_to


@dataclass
class FlowStep:
    """The transition from one depth to the next.

    Attributes:
        layer_from, layer_to: the two layers.
        counts: ``(K_from, K_to)`` positions per pair of concepts on the common grids.
        persist: ``(i, j)`` pairs: concept ``i`` persists as ``j``.
        splits: concept ``i`` -> the targets that each take at least ``branch_share`` of it (two or more).
        merges: concept ``j`` -> the sources that each give at least ``branch_share`` of it (two or more).
        mutual_information, normalized_mi, entropy_from, entropy_to: see the module docstring (nats).
    """

    layer_from: str
    layer_to: str
    counts: np.ndarray = field(repr=False)
    persist: list[tuple[int, int]]
    splits: dict[int, list[int]]
    merges: dict[int, list[int]]
    mutual_information: float
    normalized_mi: float
    entropy_from: float
    entropy_to: float

    @property
    def forward(self) -> np.ndarray:
        """``forward[i, j]``: the share of concept ``i`` that lands in concept ``j`` (rows sum to 1)."""
        return _shares(self.counts, axis=1)

    @property
    def backward(self) -> np.ndarray:
        """``backward[i, j]``: the share of concept ``j`` that comes from concept ``i`` (columns sum to 1)."""
        return _shares(self.counts, axis=0)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers of the step (the matrices as nested lists)."""
        return {
            "layer_from": self.layer_from,
            "layer_to": self.layer_to,
            "k_from": int(self.counts.shape[0]),
            "k_to": int(self.counts.shape[1]),
            "positions": int(self.counts.sum()),
            "n_persist": len(self.persist),
            "n_split": len(self.splits),
            "n_merge": len(self.merges),
            "persist": [[i, j] for i, j in self.persist],
            "splits": {str(i): targets for i, targets in self.splits.items()},
            "merges": {str(j): sources for j, sources in self.merges.items()},
            "mutual_information": round(self.mutual_information, 6),
            "normalized_mi": round(self.normalized_mi, 6),
            "entropy_from": round(self.entropy_from, 6),
            "entropy_to": round(self.entropy_to, 6),
            "counts": self.counts.tolist(),
            "forward": np.round(self.forward, 6).tolist(),
            "backward": np.round(self.backward, 6).tolist(),
        }


def flow_step(
    counts: np.ndarray, layer_from: str, layer_to: str, persist_share: float = 0.5, branch_share: float = 0.25
) -> FlowStep:
    """Persistence, splits, merges and mutual information of one transition table (see the module docstring).

    Example:
        >>> flow_step(np.array([[4, 0], [3, 3]]), "a", "b").merges
        {0: [0, 1]}
    """
    counts = np.asarray(counts, dtype=np.int64)
    forward, backward = _shares(counts, axis=1), _shares(counts, axis=0)
    persist = [(int(i), int(j)) for i, j in zip(*np.nonzero((forward > persist_share) & (backward > persist_share)),
                                                 strict=True)]
    splits = {int(i): [int(j) for j in np.flatnonzero(row >= branch_share)] for i, row in enumerate(forward)
              if (row >= branch_share).sum() >= 2}
    merges = {int(j): [int(i) for i in np.flatnonzero(col >= branch_share)] for j, col in enumerate(backward.T)
              if (col >= branch_share).sum() >= 2}
    mi, nmi, h_from, h_to = mutual_information(counts)
    return FlowStep(layer_from, layer_to, counts, persist, splits, merges, mi, nmi, h_from, h_to)


def _layer_of(result: NaveResult) -> str:
    layers = result.config.get("layers") or [result.name]
    return ",".join(str(layer) for layer in layers)


def _steps(results: Sequence[NaveResult], config: FlowConfig) -> tuple[list[FlowStep], list[dict[str, str]]]:
    steps, missing = [], {}
    for a, b in itertools.pairwise(results):
        deeper = {record.key: record for record in b.records}
        records = [(record, deeper[record.key]) for record in a.records if record.key in deeper]
        for key in sorted(set(a.keys) ^ set(deeper)):
            missing[key] = {"key": key, "reason": "not mapped at every depth"}
        counts = transition_counts([_content(ra.labels, ra) for ra, _ in records],
                                   [_content(rb.labels, rb) for _, rb in records], a.k, b.k, config.grid)
        steps.append(flow_step(counts, _layer_of(a), _layer_of(b), config.persist_share, config.branch_share))
    return steps, list(missing.values())


def flow_from_results(
    results: Sequence[NaveResult], config: FlowConfig | None = None, **options: Any
) -> FlowResult:
    """The flow between dataset-scope NAVE results of the same images, shallow to deep (e.g. loaded runs).

    ``options``: ``persist_share``, ``branch_share``, ``grid`` (:class:`~encoderscope.nave.config.FlowConfig`).

    Example:
        >>> from encoderscope.nave.result import NaveRecord
        >>> def depth(grid, layer):
        ...     record = NaveRecord("img", 0, np.array(grid, np.int16), 2, (2, 2), (2, 2), (2, 2))
        ...     return NaveResult(layer, [record], {"scope": "dataset", "layers": [layer]})
        >>> flow = flow_from_results([depth([[0, 0], [1, 1]], "a"), depth([[1, 1], [0, 0]], "b")])
        >>> flow.steps[0].persist, flow.steps[0].normalized_mi
        ([(0, 1), (1, 0)], 1.0)
    """
    cfg = resolve_config(FlowConfig, config, options)
    if len(results) < 2:
        raise ParameterError(f"a concept flow needs at least two depths, got {len(results)}")
    for result in results:
        if result.config.get("scope") != "dataset":
            raise ParameterError(
                f"{result.name!r} is not a dataset-scope result: concept ids differ between images; run NAVE with "
                "scope='dataset'"
            )
    steps, missing = _steps(results, cfg)
    return FlowResult(list(results), steps, cfg, skipped=missing)


@dataclass
class FlowResult(Recorded):
    """Concepts of several depths of one encoder and how they flow from each depth to the next.

    Attributes:
        results: one dataset-scope :class:`~encoderscope.nave.result.NaveResult` per depth, shallow to deep.
        steps: one :class:`FlowStep` per pair of consecutive depths.
        config: the flow's configuration (NAVE options, thresholds, common grid).
        skipped: inputs left out (unreadable, or not mapped at every depth), as ``{"key", "reason"}``.
        run: the run's record, written as run.json by :meth:`save`.
    """

    results: list[NaveResult]
    steps: list[FlowStep]
    config: FlowConfig
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __repr__(self) -> str:
        layers = self.layers if len(self.layers) <= 4 else [self.layers[0], "...", self.layers[-1]]
        ks = "/".join(str(result.k) for result in self.results)
        return (f"FlowResult({self.model!r}, {len(self.layers)} depths {' -> '.join(layers)}, K={ks}, "
                f"{len(self.results[0])} images)")

    @property
    def layers(self) -> list[str]:
        """The layer of each depth, shallow to deep."""
        return [_layer_of(result) for result in self.results]

    @property
    def model(self) -> str:
        """The encoder's spec (as the NAVE results recorded it)."""
        return str(self.results[0].config.get("model", self.results[0].name))

    def summary(self) -> list[dict[str, Any]]:
        """One row per step: layers, K, counts of persisting, splitting and merging concepts, MI and NMI."""
        return [
            {"from": s.layer_from, "to": s.layer_to, "K from": s.counts.shape[0], "K to": s.counts.shape[1],
             "persist": len(s.persist), "split": len(s.splits), "merge": len(s.merges),
             "MI (nats)": round(s.mutual_information, 4), "NMI": round(s.normalized_mi, 4)}
            for s in self.steps
        ]

    def transitions_csv(self) -> str:
        """CSV of every pair of concepts of every step: positions and both shares (:data:`TRANSITION_COLUMNS`)."""
        rows = []
        for n, step in enumerate(self.steps):
            forward, backward = step.forward, step.backward
            for (i, j), positions in np.ndenumerate(step.counts):
                rows.append([n, step.layer_from, step.layer_to, i, j, int(positions), f"{forward[i, j]:.6f}",
                             f"{backward[i, j]:.6f}"])
        return csv_text(TRANSITION_COLUMNS, rows)

    def flow_json(self) -> dict[str, Any]:
        """What ``flow.json`` holds: the layers, thresholds, common grid and every step's numbers and matrices."""
        return {
            "model": self.model,
            "layers": self.layers,
            "k": [result.k for result in self.results],
            "images": len(self.results[0]),
            "grid": self.config.grid,
            "persist_share": self.config.persist_share,
            "branch_share": self.config.branch_share,
            "steps": [step.summary() for step in self.steps],
        }

    def figure(self, names: Sequence[Sequence[str]] | None = None) -> Any:
        """The alluvial (Sankey) figure as a matplotlib ``Figure`` (``names[d][i]`` labels concept ``i`` of depth
        ``d``; default ``c0 · word`` when the depths are named (:func:`depth_labels`), else ``c0, c1, ...``)."""
        from encoderscope.report.flow import flow_figure

        if names is None:
            names = depth_labels(self.results)
        return flow_figure(self.layers, [step.counts for step in self.steps], names=names,
                           notes=[_step_note(step) for step in self.steps], title=self.model)

    def png(self, dpi: int = 150) -> bytes:
        """:meth:`figure` as PNG bytes."""
        from encoderscope.report.flow import figure_png

        return figure_png(self.figure(), dpi=dpi)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row.values()) + "</tr>"
            for row in self.summary()
        )
        head = "".join(f"<th>{html.escape(name)}</th>" for name in self.summary()[0]) if self.steps else ""
        image = base64.b64encode(self.png(dpi=90)).decode("ascii")
        return (f"<div><p>{html.escape(repr(self))}</p><img src='data:image/png;base64,{image}' "
                f"style='max-width:100%'/><table><tr>{head}</tr>{rows}</table></div>")

    def run_record(self) -> RunRecord:
        """The run record: the configuration and, in ``details``, each depth's folder and the step summaries."""
        run = self.run or RunRecord.create("flow", self.config, seed=self.config.nave.seed)
        details = {
            "model": self.model,
            "depths": [{"layer": layer, "folder": f"depths/{n:02d}"} for n, layer in enumerate(self.layers)],
            "steps": self.summary(),
        }
        return run.replace(skipped=self.skipped, details=details)

    def save(self, out: str | os.PathLike[str], report: bool = True) -> Path:
        """Write ``transitions.csv``, ``flow.json``, ``flow.png``, each depth under ``depths/<n>/`` (as
        :meth:`NaveResult.save`, without pictures), run.json and, with ``report``, ``report.html``."""
        from encoderscope.report.flow import write_flow_report

        folder = make_folder(out)
        for n, result in enumerate(self.results):
            result.save(folder / "depths" / f"{n:02d}", report=False)
        write_text(folder / "transitions.csv", self.transitions_csv())
        write_json(folder / "flow.json", self.flow_json())
        png = self.png()
        write_bytes(folder / "flow.png", png)
        if report:
            write_flow_report(folder / "report.html", f"Concept flow: {self.model}", png, self.summary(),
                              caption=_caption(self), config=self.run_record().config)
        self.run_record().write(folder)  # last: a folder with a run.json is complete
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> FlowResult:
        """A flow written by :meth:`save`: its depths are loaded and the transitions computed again (the same)."""
        run, results = load_nested(folder, "flow", "a concept flow", "depths")
        config = FlowConfig.from_json(run.config, source=str(folder))
        loaded = flow_from_results(results, config)
        loaded.skipped, loaded.run = list(run.skipped), run
        return loaded


def _step_note(step: FlowStep) -> str:
    return (f"persist {len(step.persist)} · split {len(step.splits)} · merge {len(step.merges)}\n"
            f"MI {step.mutual_information:.2f} nats · NMI {step.normalized_mi:.2f}")


def _caption(result: FlowResult) -> str:
    cfg = result.config
    return (f"{len(result.results[0])} images; one dataset-scope clustering per depth (K = "
            f"{'/'.join(str(r.k) for r in result.results)}); ribbons: shares of positions on the {cfg.grid} grid of "
            f"each pair of depths; persist > {cfg.persist_share}, split / merge >= {cfg.branch_share} (docs/flow.md).")


def _named(results: list[NaveResult], cfg: Any, device: devices.DeviceSpec, progress: bool) -> list[NaveResult]:
    """Every depth's result named with one scorer (``cfg.naming``, docs/names.md)."""
    from encoderscope.dissect.scorers import make_scorer
    from encoderscope.nave.names import name_concepts

    scorer = make_scorer(cfg.naming.scorer, device=device, workers=cfg.workers)
    if hasattr(scorer, "progress"):
        scorer.progress = progress
    return [name_concepts(result, scorer, config=cfg.naming) for result in results]


def depth_labels(results: Sequence[NaveResult]) -> list[list[str]] | None:
    """``c<i> · <best word>`` for every concept of every depth when the depths are named, else None.

    Example:
        >>> depth_labels([NaveResult("a", [], {})]) is None
        True
    """
    if not any(result.concept_names is not None for result in results):
        return None
    labels = []
    for result in results:
        names = result.concept_names
        words = names.labels(result.k) if names is not None else [""] * result.k
        labels.append([f"c{i} · {word}" if word else f"c{i}" for i, word in enumerate(words)])
    return labels


def flow(
    encoder: str | nn.Module | Encoder | None = None,
    images: Any = None,
    layers: LayerSpec | None = None,
    *,
    config: FlowConfig | None = None,
    progress: bool = True,
    device: devices.DeviceSpec = None,
    **options: Any,
) -> FlowResult:
    """Concept flow across ``layers``: a dataset-scope NAVE clustering at each (one forward pass for all), and the
    transitions between consecutive depths (see the module docstring).

    Args:
        encoder: a spec, module or :class:`~encoderscope.zoo.Encoder` (default: ``config.nave.model``).
        images: as for :func:`~encoderscope.nave.nave` (default: ``config.nave.images``).
        layers: two or more layers, shallow to deep (names, globs or depth indices; default ``config.nave.layers``).
        config: a :class:`~encoderscope.nave.config.FlowConfig`.
        progress: show progress bars.
        device: where the model runs (see :func:`~encoderscope.nave.nave`).
        **options: ``persist_share`` (0.5), ``branch_share`` (0.25), ``grid`` (``"finer"``) and any
            :class:`~encoderscope.nave.config.NaveConfig` field (``k``, ``seed``, ``fit_positions``, ``size``...);
            the scope is always ``"dataset"``.

    Example:
        >>> from PIL import Image
        >>> images = [Image.new("RGB", (48, 48), c) for c in ("red", "navy", "olive")]
        >>> result = flow("timm:resnet18", images, "layer2,layer3", random_init=True, k=2, size=48, progress=False)
        >>> result.layers, result.steps[0].counts.shape
        (['layer2', 'layer3'], (2, 2))
    """
    from encoderscope.nave.pipeline import nave_inputs, nave_layer_sets, prepare_encoder

    if options.get("scope", "dataset") != "dataset":
        scope = options["scope"]
        raise ParameterError(f"a concept flow uses the dataset scope (one clustering per depth), not {scope!r}")
    if layers is not None:
        options["layers"] = layers
    cfg = resolve_config(FlowConfig, config, options)
    model, sources, nave_cfg = nave_inputs(encoder, images, cfg.nave)
    cfg = cfg.replace(nave=nave_cfg)
    if nave_cfg.layers is None:
        raise ParameterError("a concept flow needs layers: two or more, shallow to deep (--layers L1,L2,...)")
    watch = Stopwatch()
    enc = prepare_encoder(model, random_init=nave_cfg.random_init, seed=nave_cfg.seed, size=nave_cfg.size,
                          max_side=nave_cfg.max_side, device=device, arch=nave_cfg.arch)
    names = resolve_layers(enc, list(nave_cfg.layers))
    if len(names) < 2:
        raise ParameterError(f"a concept flow needs at least two layers, got {names}")
    watch.lap("load model")
    results = nave_layer_sets(enc, sources, [[name] for name in names], config=nave_cfg.replace(layers=None),
                              progress=progress)
    clustering = results[0].run.stages if results[0].run is not None else {}
    watch.stages.update(clustering)
    if nave_cfg.naming.name_concepts:
        with watch.stage("names"):
            results = _named(results, nave_cfg, device, progress)
    with watch.stage("transitions"):
        steps, missing = _steps(results, cfg)
    unreadable = {e["key"]: {"key": e["key"], "reason": e["reason"]} for result in results for e in result.skipped}
    skipped = list({**unreadable, **{entry["key"]: entry for entry in missing}}.values())
    run = RunRecord.create("flow", cfg, command=python_call("encoderscope.flow", cfg), seed=nave_cfg.seed,
                           seconds=watch.seconds(), stages=watch.stages, skipped=skipped)
    return FlowResult(results, steps, cfg, skipped=skipped, run=run)


__all__ = [
    "TRANSITION_COLUMNS",
    "FlowResult",
    "FlowStep",
    "common_grids",
    "depth_labels",
    "flow",
    "flow_from_results",
    "flow_step",
    "mutual_information",
    "transition_counts",
]
