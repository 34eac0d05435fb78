"""Reading results back: :func:`load_result` returns the result object of any folder a command or ``.save()`` wrote;
:func:`explore` writes the interactive explorer page of run folders or results.

The folder's run.json (:class:`~encoderscope.runs.RunRecord`) names its ``kind``; the kind's result class reads the
rest. ``.save()`` of a loaded result writes the same arrays and tables again.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from encoderscope.nave.baselines import baseline_maps
    >>> folder = baseline_maps([Image.new("RGB", (32, 24))], "slic", 3, progress=False).save(tempfile.mkdtemp())
    >>> load_result(folder)
    NaveResult('SLIC baseline (about 3 regions)', 1 images, K=4, slic, scope image)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from encoderscope._io import make_folder, read_json, write_json, write_text
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by, import_object
from encoderscope.runs import RUN_FILE, Recorded, RunRecord

#: run kind -> "module:Class" whose ``load(folder)`` reads it (imported when needed).
LOADERS: dict[str, str] = {
    "nave": "encoderscope.nave.result:NaveResult",
    "compare": "encoderscope.nave.compare:Comparison",
    "flow": "encoderscope.nave.flow:FlowResult",
    "dissect": "encoderscope.dissect.describe:Dissection",
    "link-pairs": "encoderscope.linking.pairs:PairedData",
    "link-fit": "encoderscope.linking.network:LinkFit",
    "link-tune": "encoderscope.linking.tune:SweepResult",
    "link-quantify": "encoderscope.linking.quantify:QuantifyResult",
    "link-counterfactual": "encoderscope.linking.counterfactual:CounterfactualResult",
    "lwta-train": "encoderscope.lwta.train:TrainResult",
    "scenes": "encoderscope.data.scenes:ScenesSummary",
    "study": "encoderscope.results:StudyResult",
}
_CORLOC = {
    "LocalisationScores": "encoderscope.nave.evaluate:LocalisationScores",
    "CorLocResult": "encoderscope.nave.metrics:CorLocResult",
}


@dataclass
class StudyResult(Recorded):
    """A study's output folder: its numbers (``numbers.json`` or ``results.json``), ``summary.md`` and record."""

    name: str
    numbers: dict[str, Any]
    summary: str | None = None
    numbers_file: str = "numbers.json"

    def __repr__(self) -> str:
        quick = " --quick" if self.run is not None and self.run.details.get("quick") else ""
        return f"StudyResult({self.name}{quick}: {len(self.numbers)} numbers)"

    def figure(self, max_bars: int = 30) -> Any:
        """A matplotlib figure: the study's numbers as bars (the study's own figures are PNGs in its folder)."""
        from encoderscope.report.summaries import study_figure

        return study_figure(self, max_bars)

    _repr_html_ = drawn_by("encoderscope.report.summaries:study_html", "The notebook view (HTML).")

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the numbers, ``summary.md`` (when there is one) and run.json (figures stay where they are)."""
        out = make_folder(folder)
        write_json(out / self.numbers_file, self.numbers)
        if self.summary is not None:
            write_text(out / "summary.md", self.summary)
        if self.run is not None:
            self.run.write(out)
        return out

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> StudyResult:
        """The numbers and summary of a folder written by ``encoderscope study``."""
        path = Path(folder)
        run = RunRecord.read(path, "study", "a study")
        name = str(run.details.get("study", "?"))
        numbers_file = next((n for n in ("numbers.json", "results.json") if (path / n).is_file()), None)
        if numbers_file is None:
            raise ParameterError(f"{path} holds the study {name!r} but no numbers.json; run the study again")
        summary = (path / "summary.md").read_text(encoding="utf-8") if (path / "summary.md").is_file() else None
        return cls(name, read_json(path / numbers_file), summary, run=run, numbers_file=numbers_file)


def load_result(folder: str | os.PathLike[str]) -> Any:
    """The result saved in ``folder`` (a run folder, or a pairs ``.npz`` file), of the type its run.json names.

    NaveResult, Comparison, FlowResult, LocalisationScores / CorLocResult, Dissection, PairedData, LinkFit, SweepResult,
    QuantifyResult, CounterfactualResult, TrainResult (LWTA), ScenesSummary, StudyResult. A folder without run.json,
    with a record of another tool or of a newer encoderscope gives one line saying so.
    """
    path = Path(folder)
    if path.is_file() and path.suffix == ".npz":
        return import_object(LOADERS["link-pairs"]).load(path)
    if path.is_file() and path.name == RUN_FILE:
        path = path.parent
    if not path.is_dir():
        raise ParameterError(f"no result at {path}: not a folder")
    run = RunRecord.read(path)
    if run.kind == "corloc":
        spec = _CORLOC.get(str(run.details.get("result")), _CORLOC["LocalisationScores"])
        return import_object(spec).load(path)
    if run.kind not in LOADERS:
        raise ParameterError(f"{path} holds a {run.kind!r} run, which has no result to load")
    return import_object(LOADERS[run.kind]).load(path)


EXPLORABLE = ("nave", "compare", "flow", "dissect")
"""Run kinds :func:`explore` shows."""
EXPLORER_FILE = "explorer.html"


def _explorable(run: str | os.PathLike[str] | Any) -> Any:
    if not isinstance(run, str | os.PathLike):
        return run
    path = Path(run)
    folder = path.parent if path.is_file() and path.name == RUN_FILE else path
    if folder.is_dir():
        kind = RunRecord.read(folder).kind
        if kind not in EXPLORABLE:
            raise ParameterError(f"{folder} holds a {kind!r} run; the explorer shows {', '.join(EXPLORABLE)} runs")
    return load_result(folder)


def explore(
    runs: str | os.PathLike[str] | Any | Sequence[str | os.PathLike[str] | Any],
    out: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Path:
    """Write the interactive explorer (one self-contained HTML file) of run folders and/or results; returns its path.

    ``runs``: a folder written by ``nave``, ``compare``, ``flow`` or ``dissect`` (or ``.save()``), a NaveResult,
    Comparison, FlowResult or Dissection, or a list of them (one tab each; plain NAVE results of the same images
    share one tab, side by side). ``out`` defaults to ``explorer.html`` in the first run folder, or in the current
    folder when the first run is a result object.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from encoderscope.nave.baselines import baseline_maps
        >>> folder = baseline_maps([Image.new("RGB", (32, 24))], "slic", 3, progress=False).save(tempfile.mkdtemp())
        >>> explore(folder).name
        'explorer.html'
    """
    from encoderscope.report.explorer import write_explorer

    items = list(runs) if isinstance(runs, list | tuple) else [runs]
    if not items:
        raise ParameterError("nothing to explore: give at least one run folder or result")
    results = [_explorable(run) for run in items]
    if out is None:
        first = items[0]
        if isinstance(first, str | os.PathLike):
            folder = Path(first)
            out = (folder.parent if folder.is_file() else folder) / EXPLORER_FILE
        else:
            out = Path.cwd() / EXPLORER_FILE
    return write_explorer(results, out, title=title)
