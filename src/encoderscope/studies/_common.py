"""Shared helpers of the studies: a summary writer (markdown tables, PNG figures, numbers JSON, run.json) and timing.

Every study writes into its output folder:

* ``summary.md``: the tables and figures, in the order they were added;
* ``numbers.json``: every number shown in the tables (and more), as plain JSON;
* ``run.json``: the run record (:class:`~encoderscope.runs.RunRecord`, kind ``study``): the configuration, the
  seed, versions, the wall time and the timed stages; ``details`` holds the study name, the ``quick`` switch, the
  device and the CPU time;
* ``*.png``: the figures referenced from ``summary.md``.

Every study's configuration has ``device`` (where its models run and train; ``None``: ``cuda`` when available, else
``cpu``) and ``autocast`` (mixed-precision forward passes); :func:`with_device` applies ``--device``/``--autocast``.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     summary = StudySummary(Path(tmp), "demo", quick=True, config={"k": 3}, seed=0)
    ...     summary.table("scores", ["model", "score"], [["a", 1.0]])
    ...     summary.numbers["a"] = 1.0
    ...     sorted(p.name for p in summary.finish().iterdir())
    ['numbers.json', 'run.json', 'summary.md']
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from encoderscope import devices
from encoderscope._io import atomic_path, write_json, write_text
from encoderscope.capture.outputs import LayerOutput
from encoderscope.runs import RunRecord
from encoderscope.zoo.encoder import Encoder


def fmt(value: Any, digits: int = 1) -> str:
    """A table cell: floats with ``digits`` decimals, ``nan`` as an en dash, everything else as ``str``."""
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> str:
    """A GitHub markdown table.

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 2.25]]))
        | a | b |
        |---|---|
        | 1 | 2.2 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(cell, digits) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class StudySummary:
    """Collects a study's markdown, figures and numbers, and writes them atomically on :meth:`finish`."""

    out_dir: Path
    name: str
    quick: bool
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    numbers: dict[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def text(self, markdown: str) -> None:
        """Append a paragraph of markdown."""
        self.parts.append(markdown.strip())

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> None:
        """Append a titled markdown table."""
        self.parts.append(f"### {title}\n\n{markdown_table(header, rows, digits)}")

    def figure(self, fig: Any, filename: str, caption: str, dpi: int = 90) -> Path:
        """Save a matplotlib figure as ``out_dir/filename`` (PNG, atomically), close it, and reference it."""
        import matplotlib.pyplot as plt

        path = self.out_dir / filename
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        self.parts.append(f"![{caption}]({filename})\n\n*{caption}*")
        return path

    def picture(self, image: Any, filename: str, caption: str) -> Path:
        """Save an RGB picture (e.g. a ``report.panel_grid``) as ``out_dir/filename`` and reference it."""
        from encoderscope.report import save_png

        path = save_png(self.out_dir / filename, image)
        self.parts.append(f"![{caption}]({filename})\n\n*{caption}*")
        return path

    @contextmanager
    def timed(self, label: str) -> Iterator[None]:
        """Record the wall time of a block under ``label`` (reported in run.json and summary.md)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[label] = round(time.perf_counter() - start, 2)

    def finish(self) -> Path:
        """Write ``summary.md``, ``numbers.json`` and ``run.json``; return the output folder."""
        seconds = round(time.perf_counter() - self.started, 1)
        cpu = round(time.process_time() - self.cpu_started, 1)
        mode = "--quick" if self.quick else "default"
        command = f"encoderscope study {self.name} --out DIR" + (" --quick" if self.quick else "")
        head = (f"# Study `{self.name}` ({mode} run)\n\nRegenerate with `{command}`. "
                f"Wall time: {seconds} s (CPU {cpu} s).")
        write_text(self.out_dir / "summary.md", "\n\n".join([head, *self.parts]) + "\n")
        write_json(self.out_dir / "numbers.json", self.numbers)
        study_record(
            self.name, self.quick, self.config, self.seed, seconds, self.timings, cpu_seconds=cpu
        ).write(self.out_dir)
        return self.out_dir


def study_record(
    name: str,
    quick: bool,
    config: dict[str, Any],
    seed: int,
    seconds: float,
    stages: dict[str, float],
    **details: Any,
) -> RunRecord:
    """The run record of a study (kind ``study``; ``details``: the study name, ``quick``, the device and more)."""
    command = f"encoderscope study {name} --out DIR" + (" --quick" if quick else "")
    device = devices.describe(devices.resolve_device(config.get("device")))
    return RunRecord.create(
        "study", config, command=command, seed=seed, seconds=seconds, stages=stages,
        details={"study": name, "quick": quick, "device": device, **details},
    )


ConfigT = TypeVar("ConfigT")


def with_device(config: ConfigT, device: devices.DeviceSpec = None, autocast: bool = False) -> ConfigT:
    """``config`` (a study configuration dataclass) with ``--device`` and ``--autocast`` applied when given.

    The device is checked here, before the study starts.

    Example:
        >>> from encoderscope.studies.baselines import BaselinesConfig
        >>> cfg = with_device(BaselinesConfig.quick(), "cpu", autocast=True)
        >>> cfg.device, cfg.autocast
        ('cpu', True)
    """
    changes: dict[str, Any] = {}
    if device is not None:
        devices.resolve_device(device)
        changes["device"] = str(device)
    if autocast:
        changes["autocast"] = True
    return dataclasses.replace(config, **changes) if changes else config  # type: ignore[type-var]


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg back-end (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


GridTransform = Callable[[str, LayerOutput, int], torch.Tensor]
"""``(layer name, layer output, image index in batch) -> (C, h, w) grid`` used instead of the captured grid."""


@dataclass
class MapSet:
    """NAVE label maps of a set of images for several layer sets and several K, from one forward pass per batch.

    ``maps[(s, k)][i]`` is the ``(H, W)`` concept map (original resolution) of image ``i`` for layer set ``s`` and
    ``K = k``; ``grids[(s, k)][i]`` the same on the feature grid; ``keys[i]`` the image key.
    """

    layer_sets: list[list[str]]
    ks: list[int]
    keys: list[str] = field(default_factory=list)
    maps: dict[tuple[int, int], list[np.ndarray]] = field(default_factory=dict)
    grids: dict[tuple[int, int], list[np.ndarray]] = field(default_factory=dict)


def nave_maps(
    encoder: Encoder,
    images: Any,
    layer_sets: Sequence[Sequence[str]],
    ks: Sequence[int],
    seed: int = 0,
    batch_size: int = 8,
    transform: GridTransform | None = None,
    progress: bool = False,
    autocast: bool = False,
) -> MapSet:
    """NAVE maps (per-image k-means, the paper's scope) for every layer set and every K in ``ks``.

    The composition of the NAVE package's parts (:func:`~encoderscope.nave.combine_depths`,
    :func:`~encoderscope.nave.cluster_positions`, :func:`~encoderscope.nave.grid_to_image`) so that all layer sets
    and all K share one forward pass; ``transform`` may replace a layer's grid before combining (used by the
    registers study to mask high-norm tokens). The forward passes run where ``encoder`` is (``autocast``: in mixed
    precision).
    """
    from encoderscope.capture.extract import iter_batches
    from encoderscope.nave import cluster_positions, combine_depths, grid_to_image

    names = list(dict.fromkeys(name for layer_set in layer_sets for name in layer_set))
    result = MapSet([list(s) for s in layer_sets], [int(k) for k in ks])
    # batches group images by padded size, so results are gathered by input index and put in input order at the end
    found: dict[int, tuple[str, dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]]] = {}
    for batch in iter_batches(encoder, images, names, batch_size=batch_size, progress=progress, autocast=autocast):
        for j, prepared in enumerate(batch.prepared):
            per_image: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
            for s, layer_set in enumerate(layer_sets):
                grids = []
                for name in layer_set:
                    output = batch.outputs[name]
                    grid = output.grid[j] if transform is None else transform(name, output, j)
                    grids.append(grid[None])
                feats = combine_depths(grids)[0]
                h, w, dim = feats.shape
                flat = feats.reshape(-1, dim)
                for k in result.ks:
                    labels = cluster_positions(flat, min(k, h * w), seed=seed).reshape(h, w)
                    full = grid_to_image(labels, prepared.padded_hw, prepared.content_hw, prepared.original_hw)
                    per_image[(s, k)] = (labels, full)
            found[batch.indices[j]] = (batch.items[j].key, per_image)
    order = sorted(found)
    result.keys = [found[i][0] for i in order]
    for key in ((s, k) for s in range(len(layer_sets)) for k in result.ks):
        result.grids[key] = [found[i][1][key][0] for i in order]
        result.maps[key] = [found[i][1][key][1] for i in order]
    return result


def scenes(n: int, seed: int = 0) -> list[Any]:
    """``n`` scenes of the annotated benchmark (:mod:`encoderscope.data.scenes`), generated in memory."""
    from encoderscope.data.scenes import generate_scenes

    return list(generate_scenes(n, seed=seed))


def localisation(maps: Sequence[np.ndarray], scene_list: Sequence[Any]) -> dict[str, float]:
    """CorLoc (reference pixel thresholds) and Hungarian mask mIoU (objects and background) of concept maps.

    Example:
        >>> from encoderscope.data.scenes import generate_scenes
        >>> scene = next(generate_scenes(1, seed=0))
        >>> sorted(localisation([scene.object_map.astype(int)], [scene]))
        ['corloc', 'miou']
    """
    from encoderscope.nave.metrics import corloc, hungarian_miou

    boxes = [scene.boxes() for scene in scene_list]
    score = corloc(list(maps), boxes).corloc
    miou = [hungarian_miou(m, scene.object_map).miou for m, scene in zip(maps, scene_list, strict=True)]
    return {"corloc": float(score), "miou": 100.0 * float(np.mean(miou))}
