"""Quantify what each swept unit changes in the image, per part (docs/methods/linking.md, step 5).

For every (unit, sample) of a :class:`~encoderscope.linking.tune.SweepResult`, the step images get part maps from a
:class:`~encoderscope.linking.parts.PartModel`, and :func:`~encoderscope.linking.metrics.part_changes` scores the
change of area, luminance, entropy, eccentricity and angle of every part from the first step to the last (with the
20 px floor). Per unit and part the changes are averaged over samples; for every (part, property) the units are
ranked by the absolute mean change: the "most selective" units. (How the paper thresholds selectivity is not known,
see docs/methods/linking.md, step 5; the ranking and the per-sample sign agreement are reported instead.)

Example:
    >>> import encoderscope as es
    >>> from encoderscope.linking import fit_part_model, load_generator
    >>> from encoderscope.linking.classifier import synthetic_classifier
    >>> gen, clf = load_generator("synthetic:linear"), synthetic_classifier()
    >>> pairs = es.make_pairs(gen, clf, 20, progress=False)
    >>> link = es.fit_link(pairs.features, pairs.latents).network
    >>> sweep = es.sweep_units(link, gen, clf, pairs.features[:2], units=[0, 1], progress=False)
    >>> parts = fit_part_model(sweep.images.reshape(-1, 16, 16, 3), k=2, source="pixels")
    >>> result = quantify_sweep(sweep, parts, progress=False)
    >>> [key for key in result.summary()[0] if key.startswith("d_") and "sign" not in key]
    ['d_area', 'd_luminance', 'd_entropy', 'd_eccentricity', 'd_angle']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope._io import read_npz, write_csv, write_npz
from encoderscope._progress import progress_bar
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.linking.metrics import MIN_AREA, PROPERTIES, part_changes
from encoderscope.linking.parts import PartModel
from encoderscope.linking.tune import SweepResult
from encoderscope.runs import Recorded, RunRecord, Stopwatch, python_call

SELECTIVE_COLUMNS = ("part", "part_name", "property", "rank", "unit", "mean_change", "sign_agreement")

@dataclass
class QuantifyResult(Recorded):
    """Per (unit, sample, part) change scores of a sweep, their summaries and the part maps used.

    ``sweep_dir`` is the folder the sweep was read from (recorded, so a saved result loads its sweep again).
    """

    rows: list[dict[str, Any]]
    part_names: list[str]
    labels: np.ndarray
    sweep: SweepResult
    config: dict[str, Any] = field(default_factory=dict)
    sweep_dir: str | None = None

    def __repr__(self) -> str:
        units = len({r["unit"] for r in self.rows})
        n_parts, n_rows = len(self.part_names), len(self.rows)
        return f"QuantifyResult({units} units x {n_parts} parts, {n_rows} (unit, sample, part) rows)"

    def summary(self) -> list[dict[str, Any]]:
        """Mean change per (unit, part) over samples, with the fraction of samples agreeing in sign."""
        out = []
        keys = sorted({(r["unit"], r["part"]) for r in self.rows})
        for unit, part in keys:
            sel = [r for r in self.rows if r["unit"] == unit and r["part"] == part]
            row: dict[str, Any] = {"unit": unit, "part": part, "part_name": self.part_names[part],
                                   "n_samples": len(sel)}
            for prop in PROPERTIES:
                values = np.array([r[prop] for r in sel], dtype=np.float64)
                mean = float(values.mean())
                row[prop] = mean
                row[f"{prop}_sign_agreement"] = float(np.mean(np.sign(values) == np.sign(mean))) if mean else 0.0
            out.append(row)
        return out

    def selective_units(self, top: int = 5) -> list[dict[str, Any]]:
        """For every (part, property): the ``top`` units with the largest absolute mean change."""
        summary = self.summary()
        out = []
        for part, name in enumerate(self.part_names):
            for prop in PROPERTIES:
                rows = [r for r in summary if r["part"] == part]
                rows.sort(key=lambda r, p=prop: -abs(r[p]))
                for rank, r in enumerate(rows[:top], start=1):
                    if r[prop] == 0.0:
                        break
                    out.append({"part": part, "part_name": name, "property": prop, "rank": rank, "unit": r["unit"],
                                "mean_change": r[prop], "sign_agreement": r[f"{prop}_sign_agreement"]})
        return out

    def save(self, out_dir: str | Path, max_figures: int = 8) -> Path:
        """Write ``changes.csv``, ``units/unit_XXXX.csv``, ``summary.csv``, ``selective_units.csv``, figures and
        ``run.json``."""
        from encoderscope.report.encoding import save_png
        from encoderscope.report.linking import parts_picture

        out = Path(out_dir)
        columns = list(self.rows[0]) if self.rows else []
        write_csv(out / "changes.csv", columns, self.rows)
        for unit in sorted({r["unit"] for r in self.rows}):
            write_csv(out / "units" / f"unit_{unit:04d}.csv", columns, [r for r in self.rows if r["unit"] == unit])
        summary = self.summary()
        write_csv(out / "summary.csv", list(summary[0]) if summary else [], summary)
        write_csv(out / "selective_units.csv", SELECTIVE_COLUMNS, self.selective_units())
        write_npz(out / "quantify.npz", {"labels": self.labels, "columns": np.array(columns, dtype=str),
                                         **{f"row_{c}": np.array([r[c] for r in self.rows]) for c in columns}})
        ranking = self.sweep.ranking()
        for row in ranking[:max_figures]:
            j = int(np.flatnonzero(self.sweep.units == row["unit"])[0])
            save_png(out / "figures" / f"unit_{row['unit']:04d}_parts.png", parts_picture(self, j))
        self.run_record().write(out)
        return out

    def run_record(self) -> RunRecord:
        """The run record (``details``: the resolved configuration, the part names and the sweep's folder)."""
        run = self.run or RunRecord.create("link-quantify", {})
        return run.replace(details={"resolved": self.config, "part_names": self.part_names,
                                    "sweep_dir": self.sweep_dir})

    @classmethod
    def load(cls, out_dir: str | Path) -> QuantifyResult:
        """A result written by :meth:`save`; its sweep is read again from the recorded folder."""
        folder = Path(out_dir)
        run = RunRecord.read(folder, "link-quantify", "part quantification")
        sweep_dir = run.details.get("sweep_dir")
        if not sweep_dir or not Path(sweep_dir).is_dir():
            raise ParameterError(f"the sweep {folder} was computed from ({sweep_dir}) is gone; load it from its folder")
        arrays = read_npz(folder / "quantify.npz")
        columns = [str(c) for c in arrays["columns"]]
        values = {c: arrays[f"row_{c}"].tolist() for c in columns}
        rows = [{c: values[c][i] for c in columns} for i in range(len(values[columns[0]]) if columns else 0)]
        return cls(rows, list(run.details["part_names"]), arrays["labels"], SweepResult.load(sweep_dir),
                   dict(run.details["resolved"]), run=run, sweep_dir=sweep_dir)

    def figure(self, unit_index: int = 0, sample: int = 0) -> Any:
        """A matplotlib figure: step images on the top row and their colour-coded part maps below (the reference's
        strip layout)."""
        from encoderscope.report.linking import quantify_figure

        return quantify_figure(self, unit_index, sample)

    _repr_html_ = drawn_by("encoderscope.report.linking:quantify_html", "The notebook view (HTML).")


def quantify_sweep(
    sweep: SweepResult,
    parts: PartModel,
    min_area: int = MIN_AREA,
    progress: bool = True,
    config: Any = None,
    sweep_dir: str | Path | None = None,
) -> QuantifyResult:
    """Score the per-part changes of every unit and sample of a sweep (see the module docstring).

    ``config`` (a :class:`~encoderscope.linking.config.LinkQuantifyConfig`) is recorded; ``sweep_dir`` is the folder
    the sweep was read from (recorded so that the saved result loads it again).
    """
    watch = Stopwatch()
    n_samples, n_units, n_steps = sweep.images.shape[:3]
    flat_images = sweep.images.reshape(-1, *sweep.images.shape[3:])
    flat_latents = sweep.latents.reshape(-1, sweep.latents.shape[-1])
    needs_latents = parts.source.kind == "generator"
    labels = parts.predict(flat_images, flat_latents if needs_latents else None).reshape(
        n_samples, n_units, n_steps, *sweep.images.shape[3:5]
    )
    rows = []
    with progress_bar("part metrics", total=n_units, enabled=progress) as advance:
        for j, unit in enumerate(sweep.units):
            for s in range(n_samples):
                for row in part_changes(sweep.images[s, j], labels[s, j], parts=list(range(len(parts.part_names))),
                                        min_area=min_area):
                    rows.append({"unit": int(unit), "sample": s, "sample_class": int(sweep.sample_classes[s]),
                                 "part_name": parts.part_names[row["part"]], **row})
            advance(1)
    resolved = {"parts": parts.config, "part_method": parts.method, "part_names": parts.part_names,
                "min_area": min_area, "sweep": sweep.config}
    command = python_call("encoderscope.linking.quantify_sweep", config)
    run = RunRecord.create("link-quantify", config or {}, command=command, seed=parts.config.get("seed"),
                           seconds=watch.seconds())
    directory = None if sweep_dir is None else str(Path(sweep_dir).resolve())
    return QuantifyResult(rows, parts.part_names, labels, sweep, resolved, run=run, sweep_dir=directory)
