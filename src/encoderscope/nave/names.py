"""Named concepts: each concept of a NAVE result gets its best words, scored on the image regions it covers
(docs/names.md).

**Regions.** Dataset scope: a concept's regions are its masks (its label-map pixels at each image's resolution) in
the ``images`` images it covers most (by coverage on the feature grid, as the gallery; ties in input order). Image
scope: each concept of each image has one region, its mask in that image. Concepts covering no pixel get no region
and no name (``""``), with a note.

**Scores.** Every region is scored by a dissection scorer over a concept set
(:meth:`~encoderscope.dissect.scorers.ConceptScorer.score_regions`: masked crops for CLIP and the label space, the
fraction of annotated pixels for mask annotations), giving ``P[r, w]``. A concept's score for word ``w`` is the mean
over its regions weighted by each region's share of its image, ``S(w) = sum_r f_r P[r, w] / sum_r f_r`` (one region
in the image scope: its own scores). No softmax: the scores keep the scorer's unit (a CLIP cosine, the label
space's expected class-word cosine, a fraction of annotated pixels), so they compare across the concepts of a run
and across runs named with the same scorer and concept set, not across scorers. The ``top`` best words are kept,
best first (ties in concept-set order); words scoring exactly 0 are left out (for annotations: no pixel of the
region carries the word).

Example:
    >>> names = ConceptNames("annotations", "fashion-mnist", 2, {(None, 0): [("Shirt", 0.8), ("Coat", 0.1)]})
    >>> names.label(0), names.words(0), names.label(1)
    ('Shirt', [('Shirt', 0.8), ('Coat', 0.1)], '')
    >>> aggregate(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([3.0, 1.0])).tolist()
    [0.75, 0.25]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope import devices
from encoderscope._progress import warn
from encoderscope.configs import Config, option, resolve_config
from encoderscope.dissect.regions import Region
from encoderscope.dissect.scorers import SCORER_KINDS, make_scorer, score_regions, unknown_scorer
from encoderscope.errors import ParameterError
from encoderscope.runs import Stopwatch

if TYPE_CHECKING:
    from encoderscope.nave.result import NaveRecord, NaveResult

NAMES_COLUMNS = ["image", "concept", "rank", "word", "score"]
DEFAULT_WORDS = "words-3k"
"""The concept set when none is given and the scorer has no classes of its own."""
SCORE_DIGITS = 6
"""Significant digits of a stored score (names.csv)."""

Key = tuple[str | None, int]

NAME_IMAGES = 8
NAME_TOP = 5


@dataclass(frozen=True)
class NamingConfig(Config):
    """Concept names (docs/names.md): each concept gets its ``name_top`` best words from the image regions it
    covers, scored with a dissection scorer over a concept set."""

    name_concepts: bool = option(
        False, help="Name every concept with its best words, scored on masked crops of its regions (docs/names.md)."
    )
    scorer: str = option(
        "labelspace", help="Naming scorer: clip:MODEL[:PRETRAINED|:FILE], labelspace[:MODEL] or annotations:FILE "
        "(a VOC folder with SegmentationObject masks scores regions by their annotated pixels).",
    )
    concepts: str | None = option(
        None, help="Naming words: imagenet, fashion-mnist, words-1k/3k/10k or a text file (default: the "
        "annotations' classes, else words-3k).",
    )
    name_images: int = option(
        NAME_IMAGES, help="Dataset scope: a concept is named from its regions in the N images it covers most."
    )
    name_top: int = option(NAME_TOP, help="Words kept per concept.")

    def check(self) -> None:
        if self.scorer.partition(":")[0] not in SCORER_KINDS:
            raise ParameterError(unknown_scorer(self.scorer))
        for name in ("name_images", "name_top"):
            if isinstance(getattr(self, name), bool) or getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class ConceptNames:
    """The names of a result's concepts.

    Attributes:
        scorer: the scorer's name (``labelspace:zoo:efficientnet-lite0``, ``annotations:scenes``, ``clip:...``).
        concepts: the concept set's name (a built-in name, a file, or ``"given"`` for a Python list).
        top: words kept per concept.
        entries: ``(image key or None for the dataset scope, concept id) -> [(word, score), ...]``, best first
            (named concepts only).
        images: dataset scope: the number of most-covered images whose regions named each concept.
        notes: remarks (concepts left unnamed and why).
    """

    scorer: str
    concepts: str
    top: int
    entries: dict[Key, list[tuple[str, float]]] = field(default_factory=dict)
    images: int | None = None
    notes: list[str] = field(default_factory=list)

    def words(self, concept: int, image: str | None = None) -> list[tuple[str, float]]:
        """``[(word, score), ...]`` of a concept, best first (``image=None`` for the dataset scope)."""
        return list(self.entries.get((image, int(concept)), []))

    def label(self, concept: int, image: str | None = None) -> str:
        """The concept's best word, or ``""`` when it is not named."""
        found = self.entries.get((image, int(concept)))
        return found[0][0] if found else ""

    def labels(self, k: int, image: str | None = None) -> list[str]:
        """:meth:`label` of concepts ``0 .. k - 1``."""
        return [self.label(concept, image) for concept in range(k)]

    def rows(self) -> list[list[Any]]:
        """The rows of names.csv (:data:`NAMES_COLUMNS`; ``image`` empty for the dataset scope)."""
        return [
            ["" if image is None else image, concept, rank, word, score]
            for (image, concept), words in self.entries.items()
            for rank, (word, score) in enumerate(words, start=1)
        ]

    def details(self) -> dict[str, Any]:
        """What run.json's ``details["names"]`` holds."""
        return {"scorer": self.scorer, "concepts": self.concepts, "top": self.top, "images": self.images,
                "named": len(self.entries), "notes": list(self.notes)}

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, str]], details: dict[str, Any]) -> ConceptNames:
        """The names of names.csv ``rows`` (dicts, as :func:`~encoderscope._io.read_csv` gives) and run.json's
        ``details["names"]``."""
        entries: dict[Key, list[tuple[str, float]]] = {}
        for row in sorted(rows, key=lambda r: int(r["rank"])):
            key = (row["image"] or None, int(row["concept"]))
            entries.setdefault(key, []).append((row["word"], float(row["score"])))
        ordered = {key: entries[key] for key in _file_order(rows)}
        return cls(str(details["scorer"]), str(details["concepts"]), int(details["top"]), ordered,
                   details.get("images"), list(details.get("notes", [])))


def _file_order(rows: Sequence[dict[str, str]]) -> list[Key]:
    return list(dict.fromkeys((row["image"] or None, int(row["concept"])) for row in rows))


def aggregate(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A concept's word scores from its regions' ``(R, M)`` scores: the mean weighted by ``weights`` (``(R,)``)."""
    weights = np.asarray(weights, dtype=np.float64)
    return (weights[:, None] * np.asarray(scores, dtype=np.float64)).sum(axis=0) / weights.sum()


def best_words(scores: np.ndarray, words: Sequence[str], top: int) -> list[tuple[str, float]]:
    """The ``top`` best ``(word, score)``, best first, ties in word order, words scoring exactly 0 left out.

    Example:
        >>> best_words(np.array([0.2, 0.0, 0.5, 0.2]), ["a", "b", "c", "d"], 3)
        [('c', 0.5), ('a', 0.2), ('d', 0.2)]
    """
    order = np.argsort(-scores, kind="stable")
    kept = [int(i) for i in order if scores[i] != 0 and np.isfinite(scores[i])][:top]
    return [(str(words[i]), float(f"{scores[i]:.{SCORE_DIGITS}g}")) for i in kept]


@dataclass(frozen=True)
class ConceptMask:
    """A concept's mask in one image, computed on demand (picklable: built in the decoding worker)."""

    record: Any
    concept: int

    def __call__(self) -> np.ndarray:
        return self.record.label_map() == self.concept


def _regions(result: NaveResult, images: int) -> tuple[list[tuple[Key, Region, float]], list[str]]:
    """``(entry key, region, weight)`` of every concept that covers pixels, and notes on those that do not."""
    coverage = [record.coverage() for record in result.records]
    present: dict[int, set[int]] = {}

    def covers(i: int, concept: int) -> bool:  # on the image's own pixels, not only on the grid
        if i not in present:
            present[i] = {int(c) for c in np.unique(result.records[i].label_map())}
        return concept in present[i]

    found: list[tuple[Key, Region, float]] = []
    empty: list[str] = []
    if result.config.get("scope", "image") == "dataset":
        for concept in range(result.k):
            shares = np.array([c[concept] if concept < len(c) else 0.0 for c in coverage])
            ranked = [int(i) for i in np.argsort(-shares, kind="stable")[:images]]
            order = [i for i in ranked if shares[i] > 0 and covers(i, concept)]
            found.extend(((None, concept), _region(result.records[i], concept), float(shares[i])) for i in order)
            if not order:
                empty.append(f"concept {concept}")
        return found, _listed("not named (no pixel)", empty)
    for i, (record, shares) in enumerate(zip(result.records, coverage, strict=True)):
        for concept in range(record.k):
            if shares[concept] > 0 and covers(i, concept):
                found.append(((record.key, concept), _region(record, concept), 1.0))
            else:
                empty.append(f"{record.key} concept {concept}")
    return found, _listed("not named (no pixel)", empty)


def _region(record: NaveRecord, concept: int) -> Region:
    if record.item is None:
        raise ParameterError(
            f"image {record.key!r} cannot be read again (an in-memory image of a loaded result); name the result "
            "before saving it, or run NAVE on image files"
        )
    return Region(record.item, ConceptMask(record, concept))


def _listed(what: str, items: list[str]) -> list[str]:
    """One note listing at most 10 ``items`` (none when there are none)."""
    if not items:
        return []
    shown = ", ".join(items[:10]) + (f" and {len(items) - 10} more" if len(items) > 10 else "")
    return [f"{what}: {shown}"]


def _concept_words(concepts: Any, scorer: Any) -> tuple[list[str], str]:
    """The concept words and the set's recorded name: a list, a built-in set or file, else the scorer's classes,
    else :data:`DEFAULT_WORDS`."""
    from encoderscope.dissect.concepts import load_concepts

    if concepts is None:
        own = getattr(scorer, "concepts", None)
        if own:
            return list(own), f"{scorer.name} classes"
        concepts = DEFAULT_WORDS
    if isinstance(concepts, str):
        return load_concepts(concepts), concepts
    words = [str(word) for word in concepts]
    if not words:
        raise ParameterError("concepts must hold at least one word")
    return words, "given"


def _entries(
    found: list[tuple[Key, Region, float]], scores: Any, words: list[str], top: int
) -> tuple[dict[Key, list[tuple[str, float]]], list[str]]:
    """Each concept's best words from its regions' scores (:func:`aggregate`, :func:`best_words`), and the concepts
    left unnamed because every word scores 0."""
    entries: dict[Key, list[tuple[str, float]]] = {}
    unscored: list[str] = []
    if not found:
        return entries, unscored
    matrix = scores.detach().float().cpu().numpy()
    weights = np.array([weight for _, _, weight in found])
    groups: dict[Key, list[int]] = {}
    for i, (key, _, _) in enumerate(found):
        groups.setdefault(key, []).append(i)
    for key, rows in groups.items():
        best = best_words(aggregate(matrix[rows], weights[rows]), words, top)
        if best:
            entries[key] = best
        else:
            unscored.append(f"concept {key[1]}" if key[0] is None else f"{key[0]} concept {key[1]}")
    return entries, unscored


def name_concepts(
    result: NaveResult,
    scorer: Any = None,
    concepts: Sequence[str] | str | None = None,
    top: int | None = None,
    *,
    config: NamingConfig | None = None,
    device: devices.DeviceSpec = None,
    workers: int | None = None,
    progress: bool = True,
    **options: Any,
) -> NaveResult:
    """``result`` with :class:`ConceptNames` (the maps are not recomputed; see the module docstring).

    Args:
        result: a NAVE result (dataset or image scope) whose images can be read again.
        scorer: a :class:`~encoderscope.dissect.scorers.ConceptScorer` or a spec (``labelspace``,
            ``clip:MODEL:WEIGHTS``, ``annotations:FILE`` or ``annotations:VOC_FOLDER``; default ``config.scorer``).
        concepts: words, a built-in set (``fashion-mnist``, ``imagenet``, ``words-3k``...) or a text file (default
            ``config.concepts``, else the annotations' classes, else :data:`DEFAULT_WORDS`).
        top: words kept per concept (default ``config.name_top``, 5).
        config: a :class:`NamingConfig`.
        device: where a scorer given as a spec runs.
        workers: processes decoding the region crops.
        progress: show the scorer's progress bars.
        **options: other :class:`NamingConfig` fields (``name_images``: regions from the N
            images a dataset-scope concept covers most, 8).
    """
    watch = Stopwatch()
    given = {"scorer": scorer if isinstance(scorer, str) else None, "concepts": concepts if isinstance(concepts, str)
             else None, "name_top": top}
    cfg = resolve_config(NamingConfig, config, {**{k: v for k, v in given.items() if v is not None}, **options})
    cfg = cfg.replace(name_concepts=True)
    scope = result.config.get("scope", "image")
    if scorer is None or isinstance(scorer, str):
        scorer = make_scorer(cfg.scorer, device=device, workers=workers)
        if hasattr(scorer, "progress"):
            scorer.progress = progress
    if scope != "dataset" and not getattr(scorer, "regional", True):
        raise ParameterError(
            f"{scorer.name} labels whole images, so it cannot tell the concepts of one image apart; name an "
            "image-scope run with annotations:VOC_FOLDER (SegmentationObject masks), clip: or labelspace"
        )
    words, set_name = _concept_words(concepts if concepts is not None else cfg.concepts, scorer)
    found, notes = _regions(result, cfg.name_images)
    scores = score_regions(scorer, [region for _, region, _ in found], words) if found else None
    entries, unscored = _entries(found, scores, words, cfg.name_top)
    notes += _listed("not named (every word scores 0)", unscored)
    for note in notes:
        warn(note)
    names = ConceptNames(scorer.name, set_name, cfg.name_top, entries,
                         cfg.name_images if scope == "dataset" else None, notes)
    run = result.run
    if run is not None:
        seconds = watch.seconds()
        config = {**run.config, "naming": cfg.to_json()} if "naming" in run.config else run.config
        run = run.replace(config=config, stages={**run.stages, "names": round(seconds, 3)},
                          seconds=None if run.seconds is None else round(run.seconds + seconds, 3))
    return dataclasses.replace(result, concept_names=names, run=run)


__all__ = ["DEFAULT_WORDS", "NAMES_COLUMNS", "NAME_IMAGES", "NAME_TOP", "ConceptMask", "ConceptNames",
           "NamingConfig", "aggregate", "best_words", "name_concepts"]
