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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from encoderscope import devices
from encoderscope._io import make_folder, write_json, write_text
from encoderscope.nave.pipeline import GridTransform, nave_layer_sets
from encoderscope.nave.result import NaveResult
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
        self.out_dir = make_folder(self.out_dir)

    def text(self, markdown: str) -> None:
        """Append a paragraph of markdown."""
        self.parts.append(markdown.strip())

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> None:
        """Append a titled markdown table."""
        self.parts.append(f"### {title}\n\n{markdown_table(header, rows, digits)}")

    def figure(self, fig: Any, filename: str, caption: str, dpi: int = 90) -> Path:
        """Save a matplotlib figure (:func:`~encoderscope.report.figures.new_figure`) as ``out_dir/filename`` (PNG,
        atomically, cropped to what it draws) and reference it."""
        from encoderscope.report.encoding import figure_png

        return self.picture(figure_png(fig, dpi, tight=True), filename, caption)

    def picture(self, image: Any, filename: str, caption: str) -> Path:
        """Save an RGB picture (e.g. a ``report.panel_grid``) or PNG bytes as ``out_dir/filename`` and reference it."""
        from encoderscope.report.encoding import save_png

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

    def finish(self, seconds: float | None = None) -> Path:
        """Write ``summary.md``, ``numbers.json`` and ``run.json``; return the output folder. ``seconds``: the wall
        time to report (default: since the summary was created)."""
        seconds = round(time.perf_counter() - self.started if seconds is None else seconds, 1)
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


@dataclass(kw_only=True)
class StudySettings:
    """What every study's settings hold: the seed, and where and how its models run (keyword-only, so a study's
    own fields keep their positions)."""

    seed: int = 0
    device: str | None = None
    autocast: bool = False


@dataclass(kw_only=True)
class SceneStudySettings(StudySettings):
    """The settings of the studies scored on the annotated scenes: how many, at which size, and the K to ask for."""

    n_images: int = 24
    ks: tuple[int, ...] = tuple(range(3, 11))
    size: int | str | None = "default"


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


STUDY_BACKEND = "faiss"
"""The k-means back-end of every study's NAVE maps, named here so that the studies' numbers do not move with the
pipeline's default."""


def layer_label(layers: Sequence[str]) -> str:
    """``blocks.11`` or ``blocks.9+10+11`` style label of a layer set.

    Example:
        >>> layer_label(["blocks.9", "blocks.10"])
        'blocks.9+10'
    """
    if len(layers) == 1:
        return layers[0]
    prefix = layers[0].rsplit(".", 1)[0]
    return layers[0] + "+" + "+".join(name.rsplit(".", 1)[-1] for name in layers[1:]) if all(
        name.rsplit(".", 1)[0] == prefix for name in layers
    ) else "+".join(layers)


def nave_runs(
    encoder: Encoder,
    images: Any,
    layer_sets: Sequence[Sequence[str]],
    ks: Sequence[int],
    seed: int = 0,
    batch_size: int = 8,
    transform: GridTransform | None = None,
    autocast: bool = False,
) -> dict[tuple[int, int], NaveResult]:
    """NAVE's results (per-image k-means, the paper's scope) by ``(layer set index, K)``, from one forward pass per
    batch (:func:`~encoderscope.nave.nave_layer_sets`); ``transform`` may replace a layer's grids before the depths
    are combined (the registers study masks high-norm tokens). An image whose grid has fewer positions than K is
    skipped for that K (listed in the result's ``skipped``), as the pipeline does everywhere."""
    results = nave_layer_sets(
        encoder, images, [list(s) for s in layer_sets], ks=list(ks), seed=seed, batch_size=batch_size,
        backend=STUDY_BACKEND, autocast=autocast, transform=transform, progress=False,
    )
    runs = [(s, int(k)) for s in range(len(layer_sets)) for k in ks]
    return dict(zip(runs, results, strict=True))


def maps_by_index(result: NaveResult) -> dict[int, np.ndarray]:
    """Image index -> ``(H, W)`` concept map, for the images the result kept."""
    return {record.index: record.label_map() for record in result.records}


def scenes(n: int, seed: int = 0) -> list[Any]:
    """``n`` scenes of the annotated benchmark (:mod:`encoderscope.data.scenes`), generated in memory."""
    from encoderscope.data.scenes import generate_scenes

    return list(generate_scenes(n, seed=seed))


def localisation(result: NaveResult, scene_list: Sequence[Any]) -> dict[str, float]:
    """CorLoc (reference pixel thresholds) and Hungarian mask mIoU (objects and background) of concept maps, over
    the scenes the result holds a map of (``record.index`` into ``scene_list``).

    Example:
        >>> from encoderscope.data.scenes import generate_scenes
        >>> from encoderscope.nave.baselines import baseline_maps
        >>> scene = next(generate_scenes(1, seed=0))
        >>> sorted(localisation(baseline_maps([scene.image], "slic", 3, progress=False), [scene]))
        ['corloc', 'miou']
    """
    from encoderscope.nave.metrics import corloc, hungarian_miou

    maps = maps_by_index(result)
    kept = [scene_list[index] for index in maps]
    score = corloc(list(maps.values()), [scene.boxes() for scene in kept]).corloc
    miou = [hungarian_miou(m, scene.object_map).miou for m, scene in zip(maps.values(), kept, strict=True)]
    return {"corloc": float(score), "miou": 100.0 * float(np.mean(miou))}
