"""NAVE results: per-image records with grid-level label maps, full-resolution maps on demand, ``save`` and ``load``.

Label maps are stored at the resolution they were computed (the first layer's grid, tiny), with the geometry needed
to map them onto each image: nearest neighbour from the grid to the padded input, crop of the content region (the
zero padding is bottom/right), nearest neighbour to the image's original size. Nearest neighbour samples
``floor(i * src / dst)``, as ``cv2.INTER_NEAREST`` in the reference. Holding grids instead of full-size maps keeps the
memory of a dataset-scope run independent of image sizes. A saved result keeps them too (``grids.npz`` beside the
full-resolution ``labels.npz``, the geometry in run.json), so :meth:`NaveResult.load` gives back the same result.
Concept names (:meth:`NaveResult.name_concepts`, :mod:`encoderscope.nave.names`) are saved in ``names.csv`` and
run.json's ``details["names"]``.

Example:
    >>> import numpy as np
    >>> grid_to_image(np.array([[0, 1], [2, 3]]), padded_hw=(4, 4), content_hw=(3, 4), original_hw=(6, 8))[:, ::2]
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]])
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from encoderscope._io import csv_text, make_folder, read_csv, read_npz, write_csv, write_npz, write_text
from encoderscope.errors import ParameterError
from encoderscope.lazy import drawn_by
from encoderscope.nave.names import NAMES_COLUMNS, ConceptNames
from encoderscope.runs import Recorded, RunRecord


def grid_to_image(
    grid: np.ndarray, padded_hw: tuple[int, int], content_hw: tuple[int, int], original_hw: tuple[int, int]
) -> np.ndarray:
    """Map a ``(h, w)`` label grid onto the original image (see the module docstring)."""
    h, w = grid.shape
    rows_content = (np.arange(original_hw[0]) * content_hw[0]) // original_hw[0]
    cols_content = (np.arange(original_hw[1]) * content_hw[1]) // original_hw[1]
    rows = (rows_content * h) // padded_hw[0]
    cols = (cols_content * w) // padded_hw[1]
    return np.take(np.take(grid, rows, axis=0), cols, axis=1)  # rows, then columns: 4x faster than one 2-D gather


@dataclass
class NaveRecord:
    """One image's concept map.

    Attributes:
        key: the image key (path relative to the input folder, file name, ``photos/chelsea``...).
        index: position of the image in the input set.
        labels: ``(h, w)`` int16 concept ids on the feature grid.
        k: number of concepts of this map.
        original_hw: size of the image as loaded.
        content_hw: size after preprocessing, before padding.
        padded_hw: size of the padded input.
        path: the image file, when it came from one.
        k_choice: how K was chosen (rule, candidates, scores) when K was not fixed.
        item: the image item (to reload the picture for overlays); not saved.
    """

    key: str
    index: int
    labels: np.ndarray = field(repr=False)
    k: int
    original_hw: tuple[int, int]
    content_hw: tuple[int, int]
    padded_hw: tuple[int, int]
    path: str | None = None
    k_choice: dict[str, Any] | None = None
    item: Any = field(default=None, repr=False, compare=False)

    def label_map(self) -> np.ndarray:
        """``(H, W)`` int16 concept map at the image's original resolution."""
        return grid_to_image(self.labels, self.padded_hw, self.content_hw, self.original_hw)

    def coverage(self) -> np.ndarray:
        """``(k,)`` fraction of the image covered by each concept (on the grid, padding excluded)."""
        h, w = self.labels.shape
        rows = -(-self.content_hw[0] * h // self.padded_hw[0])
        cols = -(-self.content_hw[1] * w // self.padded_hw[1])
        counts = np.bincount(self.labels[:rows, :cols].ravel(), minlength=self.k).astype(np.float64)
        return counts / max(1.0, counts.sum())

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no arrays)."""
        return {
            "key": self.key,
            "index": self.index,
            "path": self.path,
            "k": self.k,
            "original_hw": list(self.original_hw),
            "content_hw": list(self.content_hw),
            "padded_hw": list(self.padded_hw),
            "grid_hw": list(self.labels.shape),
            "k_choice": self.k_choice,
        }

    @classmethod
    def from_summary(cls, summary: dict[str, Any], labels: np.ndarray) -> NaveRecord:
        """The record :meth:`summary` describes, with its grid ``labels`` (the image item from ``path``)."""
        from encoderscope.data.images import ImageItem

        path = summary.get("path")
        return cls(
            key=summary["key"],
            index=int(summary["index"]),
            labels=np.asarray(labels, dtype=np.int16),
            k=int(summary["k"]),
            original_hw=tuple(summary["original_hw"]),  # type: ignore[arg-type]
            content_hw=tuple(summary["content_hw"]),  # type: ignore[arg-type]
            padded_hw=tuple(summary["padded_hw"]),  # type: ignore[arg-type]
            path=path,
            k_choice=summary.get("k_choice"),
            item=None if path is None else ImageItem(summary["key"], None, Path(path)),
        )


@dataclass
class NaveResult(Recorded):
    """Concept maps of a set of images under one encoder and one layer set (or one baseline).

    Attributes:
        name: display name, e.g. ``"zoo:dinov2-vits14 · blocks.11"``.
        records: per-image records in input order.
        config: the resolved configuration (model, layers, K, method, scope, seed, back-end, preprocessing...).
        skipped: inputs that could not be used, as ``{"key", "reason"}`` dicts.
        gallery: dataset scope only: concept id -> ``[(image key, fraction of the image), ...]``, most covered
            first.
        notes: remarks for run.json (downscaled images, K overrides...).
        run: the run's record (typed configuration, command, timings); written as run.json by :meth:`save`.
        concept_names: the concepts' words (:meth:`name_concepts`), or None.
    """

    name: str
    records: list[NaveRecord]
    config: dict[str, Any]
    skipped: list[dict[str, str]] = field(default_factory=list)
    gallery: dict[int, list[tuple[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    concept_names: ConceptNames | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return (
            f"NaveResult({self.name!r}, {len(self.records)} images, K={self.k}, {self.config.get('method', '?')}, "
            f"scope {self.config.get('scope', 'image')})"
        )

    @property
    def keys(self) -> list[str]:
        """Image keys in input order."""
        return [record.key for record in self.records]

    def record(self, image: int | str) -> NaveRecord:
        """The record of an image, by position or key."""
        if isinstance(image, str):
            for record in self.records:
                if record.key == image:
                    return record
            raise ParameterError(f"no image with key {image!r}; known keys start with {self.keys[:5]}")
        if not -len(self.records) <= image < len(self.records):
            raise ParameterError(f"no image at position {image}: the result has {len(self.records)} images")
        return self.records[image]

    def label_map(self, image: int | str) -> np.ndarray:
        """``(H, W)`` concept map of one image at its original resolution."""
        return self.record(image).label_map()

    def label_maps(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(key, map)`` for every image, computed one at a time."""
        for record in self.records:
            yield record.key, record.label_map()

    @property
    def k(self) -> int:
        """Largest number of concepts over the images."""
        return max((record.k for record in self.records), default=0)

    def run_record(self) -> RunRecord:
        """The run record: the run's typed configuration and timings, and what loading needs in ``details`` (the
        resolved configuration, notes, per-image geometry and the gallery)."""
        run = self.run or RunRecord.create("nave", self.config, seed=self.config.get("seed"))
        details = {
            "name": self.name,
            "resolved": self.config,
            "notes": self.notes,
            "images": [record.summary() for record in self.records],
            "gallery": {str(c): [[key, round(f, 4)] for key, f in entries] for c, entries in self.gallery.items()},
        }
        if self.concept_names is not None:
            details["names"] = self.concept_names.details()
        return run.replace(skipped=self.skipped, details=details)

    def run_info(self) -> dict[str, Any]:
        """What run.json holds (:meth:`run_record` as a dict)."""
        return self.run_record().to_dict()

    def coverage_csv(self) -> str:
        """CSV of ``key, concept, fraction`` for every image and concept."""
        rows = (
            [record.key, concept, f"{fraction:.6f}"]
            for record in self.records
            for concept, fraction in enumerate(record.coverage())
        )
        return csv_text(["key", "concept", "fraction"], rows)

    def name_concepts(
        self, scorer: Any = None, concepts: Any = None, top: int | None = None, **options: Any
    ) -> NaveResult:
        """This result with concept names: each concept's ``top`` best words from a dissection scorer on the regions
        it covers (:func:`encoderscope.nave.names.name_concepts`; the maps are not recomputed).

        Example:
            >>> import numpy as np
            >>> from encoderscope.data.images import ImageItem
            >>> from encoderscope.dissect.scorers import MaskAnnotationScorer
            >>> item = ImageItem("a", None, None)
            >>> record = NaveRecord("a", 0, np.array([[0, 1], [1, 1]], np.int16), 2, (2, 2), (2, 2), (2, 2), item=item)
            >>> truth = MaskAnnotationScorer({"a": np.array([[-1, 0], [0, 0]])}, ["bag"])
            >>> named = NaveResult("toy", [record], {"scope": "image"}).name_concepts(truth)
            >>> named.concept_names.label(1, image="a"), named.concept_names.label(0, image="a")
            ('bag', '')
        """
        from encoderscope.nave.names import name_concepts

        return name_concepts(self, scorer, concepts, top, **options)

    def figure(self, image: int | str = 0) -> Any:
        """A matplotlib figure: one image (by position or key) and its concept map side by side."""
        from encoderscope.report.nave import nave_figure

        return nave_figure(self, image)

    _repr_html_ = drawn_by("encoderscope.report.nave:nave_html", "The notebook view (HTML).")

    def save(self, out: str | os.PathLike[str], report: bool = True) -> Path:
        """Write ``labels.npz``, ``grids.npz``, ``coverage.csv``, ``names.csv`` (when named: ``image, concept, rank,
        word, score``), ``run.json``, overlay PNGs, galleries and ``report.html``.

        ``labels.npz`` holds one int16 array per image at its original resolution, keyed by the image key;
        ``grids.npz`` the maps on the feature grid (what :meth:`load` reads). Returns the output folder.
        """
        folder = make_folder(out)
        write_npz(folder / "labels.npz", dict(self.label_maps()))
        write_npz(folder / "grids.npz", {record.key: record.labels for record in self.records})
        write_text(folder / "coverage.csv", self.coverage_csv())
        if self.concept_names is not None:
            write_csv(folder / "names.csv", NAMES_COLUMNS, self.concept_names.rows())
        if report:
            from encoderscope.report.nave import write_pictures

            write_pictures([self], folder)
        self.run_record().write(folder)  # last: a folder with a run.json is complete
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> NaveResult:
        """A result written by :meth:`save` (the images are found again by their recorded paths).

        Example:
            >>> import tempfile
            >>> from PIL import Image
            >>> from encoderscope.nave.baselines import baseline_maps
            >>> saved = baseline_maps([Image.new("RGB", (32, 24), "white")], "slic", 3, progress=False)
            >>> loaded = NaveResult.load(saved.save(tempfile.mkdtemp(), report=False))
            >>> loaded.label_map(0).shape, loaded.keys == saved.keys
            ((24, 32), True)
        """
        path = Path(folder)
        run = RunRecord.read(path, "nave", "NAVE concept maps")
        if not (path / "grids.npz").is_file():
            raise ParameterError(f"{path} has no grids.npz (written by an older encoderscope); run it again")
        grids = read_npz(path / "grids.npz")
        details = run.details
        records = [NaveRecord.from_summary(summary, grids[summary["key"]]) for summary in details["images"]]
        gallery = {int(c): [(str(key), float(f)) for key, f in entries] for c, entries in details["gallery"].items()}
        names = None
        if "names" in details:
            if not (path / "names.csv").is_file():
                raise ParameterError(f"{path} records concept names but has no names.csv")
            names = ConceptNames.from_rows(read_csv(path / "names.csv"), details["names"])
        return cls(details["name"], records, details["resolved"], list(run.skipped), gallery, list(details["notes"]),
                   run=run, concept_names=names)


def load_nested(folder: str | os.PathLike[str], kind: str, what: str, key: str) -> tuple[RunRecord, list[NaveResult]]:
    """The run record of a run folder whose ``details[key]`` lists NAVE results saved in subfolders (a comparison's
    models, a flow's depths), and those results, loaded."""
    path = Path(folder)
    run = RunRecord.read(path, kind, what)
    return run, [NaveResult.load(path / entry["folder"]) for entry in run.details[key]]
