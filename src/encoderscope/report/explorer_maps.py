"""The explorer's concept-map views: NAVE results of the same images as label grids, geometry and matched colours.

A view holds one or more results (models, layer sets, depths). Each result's maps travel as their label GRIDS
(``NaveRecord.labels``, a few hundred cells, base64 of uint8) with the geometry that maps a grid onto the image
(:func:`encoderscope.nave.result.grid_to_image`: grid -> padded input -> content -> original size, nearest); the
page draws them over the thumbnails. Full-resolution maps never enter the page.

**Colours.** Concept ids are matched to the first result's by Hungarian matching on overlap
(:func:`encoderscope.data.label_maps.match_labels`, on the grids cut to the image content): when every result is a
dataset-scope clustering, once over all images (one renumbering per result, so a colour means one concept in every
image); otherwise per image, as the comparison report does (a given :class:`~encoderscope.nave.compare.Comparison`'s
own renumbering is used). The matched id is the colour "slot"; hovering shows each result's own concept id.

**Names.** When a result has ``concept_names`` (``label(concept, image=None)`` and ``words(concept, image=None)``),
the dataset scope sends one label and the top words per concept, the image scope one label per image and concept.

Example:
    >>> import numpy as np
    >>> encode_grid(np.array([[0, 1], [2, -1]], np.int16))
    'AAEC/w=='
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from encoderscope.data.label_maps import match_labels
from encoderscope.errors import ParameterError
from encoderscope.report.explorer_images import ThumbTable

if TYPE_CHECKING:
    from encoderscope.nave.result import NaveRecord, NaveResult

NO_LABEL = 255
"""Grid value of a position without a concept (a negative label)."""
WORDS = 5
"""Concept words sent per concept (when the result is named)."""


def encode_grid(labels: np.ndarray) -> str:
    """A label grid as base64 of its uint8 values, row-major (negative labels -> :data:`NO_LABEL`)."""
    grid = np.asarray(labels)
    if grid.size and int(grid.max()) >= NO_LABEL:
        raise ParameterError(f"the explorer shows at most {NO_LABEL - 1} concepts per map, got id {int(grid.max())}")
    return base64.b64encode(np.where(grid < 0, NO_LABEL, grid).astype(np.uint8).tobytes()).decode("ascii")


def _content(record: NaveRecord) -> np.ndarray:
    """The record's grid without its padding cells (padding is bottom/right)."""
    h, w = record.labels.shape
    rows = -(-record.content_hw[0] * h // record.padded_hw[0])
    cols = -(-record.content_hw[1] * w // record.padded_hw[1])
    return record.labels[:rows, :cols]


def model_and_layers(result: NaveResult) -> tuple[str, str]:
    """``(model, layer set)`` of a result: its name is ``"MODEL · LAYERS"``; a baseline has no layers (its method).

    Example:
        >>> from encoderscope.nave.result import NaveResult
        >>> model_and_layers(NaveResult("timm:resnet18 · layer3", [], {"layers": ["layer3"]}))
        ('timm:resnet18', 'layer3')
        >>> model_and_layers(NaveResult("SLIC baseline (about 5 regions)", [], {"method": "slic"}))
        ('SLIC baseline (about 5 regions)', 'slic')
    """
    model, _, rest = result.name.partition(" · ")
    layers = result.config.get("layers")
    label = ", ".join(str(layer) for layer in layers) if layers else (rest or str(result.config.get("method", "")))
    return model, label


def _global_mappings(results: Sequence[NaveResult], lookup: list[dict[str, NaveRecord]]) -> list[list[int]]:
    reference = results[0]
    mappings = [list(range(max(1, reference.k)))]
    for m, result in enumerate(results[1:], start=1):
        shared = [key for key in reference.keys if key in lookup[m]]
        if not shared:
            mappings.append(list(range(max(1, result.k))))
            continue
        refs = [_content(lookup[0][key]) for key in shared]
        others = [_content(lookup[m][key]) for key in shared]
        mappings.append(match_labels(refs, others, reference.k, result.k).tolist())
    return mappings


def _image_mappings(rows: Sequence[str], lookup: list[dict[str, NaveRecord]]) -> list[list[list[int] | None]]:
    out: list[list[list[int] | None]] = [[] for _ in lookup]
    for key in rows:
        ref = lookup[0].get(key)
        for m, records in enumerate(lookup):
            record = records.get(key)
            if record is None:
                out[m].append(None)
            elif m == 0 or ref is None:
                out[m].append(list(range(max(1, record.k))))
            else:
                out[m].append(match_labels(_content(ref), _content(record), ref.k, record.k).tolist())
    return out


def _mappings(
    results: Sequence[NaveResult], rows: Sequence[str], lookup: list[dict[str, NaveRecord]],
    given: Sequence[Sequence[np.ndarray]] | None,
) -> tuple[list[list[int]] | None, list[list[list[int] | None]] | None]:
    """``(one renumbering per result, None)`` when every result is a dataset-scope one, else ``(None, per result
    and image)``: the ``given`` (a comparison's) or matched here."""
    if all(result.config.get("scope") == "dataset" for result in results):
        return _global_mappings(results, lookup), None
    if given is not None:
        return None, [[np.asarray(given[m][i]).tolist() for i in range(len(rows))] for m in range(len(results))]
    return None, _image_mappings(rows, lookup)


def _names(result: NaveResult, rows: Sequence[str], lookup: dict[str, NaveRecord]) -> dict[str, Any]:
    names = getattr(result, "concept_names", None)
    if names is None:
        return {}
    if result.config.get("scope") == "dataset":
        return {
            "names": [str(names.label(c)) for c in range(result.k)],
            "words": [[[str(w), round(float(s), 3)] for w, s in list(names.words(c))[:WORDS]] for c in range(result.k)],
        }
    return {"inames": [None if key not in lookup else [str(names.label(c, image=key)) for c in range(lookup[key].k)]
                       for key in rows]}


def _item(record: NaveRecord | None) -> list[Any] | None:
    if record is None:
        return None
    gh, gw = record.labels.shape
    return [gh, gw, *record.padded_hw, *record.content_hw, *record.original_hw, encode_grid(record.labels)]


def maps_view(
    title: str,
    results: Sequence[NaveResult],
    thumbs: ThumbTable,
    keys: Sequence[str] | None = None,
    mappings: Sequence[Sequence[np.ndarray]] | None = None,
) -> dict[str, Any]:
    """The JSON of one concept-map view (see the module docstring).

    ``keys``: the image rows (default: the first result's images, then any others'); ``mappings``: a comparison's
    per-image renumbering (``mappings[m][i]`` for ``keys[i]``), used unless every result is a dataset-scope one.
    """
    if not results:
        raise ParameterError("a concept-map view needs at least one NAVE result")
    lookup = [{record.key: record for record in result.records} for result in results]
    rows = list(keys) if keys is not None else list(dict.fromkeys(k for result in results for k in result.keys))
    images = []
    for key in rows:
        record = next(records[key] for records in lookup if key in records)
        images.append(thumbs.add(record.item, record.original_hw, key))
    shared, per_image = _mappings(results, rows, lookup, mappings)
    every = shared if shared is not None else [mp for maps in per_image or [] for mp in maps if mp]
    slots = max((int(max(mp)) + 1 for mp in every if mp), default=1)
    models: dict[str, list[int]] = {}
    out = []
    row_of = {key: n for n, key in enumerate(rows)}
    labels: set[tuple[str, str]] = set()
    for m, result in enumerate(results):
        model, layers = model_and_layers(result)
        if (model, layers) in labels:  # two runs of one layer set: tell them apart
            layers = f"{layers} · {result.config.get('scope', 'image')} scope, K = {result.k} (#{m})"
        labels.add((model, layers))
        models.setdefault(model, []).append(m)
        entry: dict[str, Any] = {
            "name": result.name, "model": model, "layers": layers, "scope": result.config.get("scope", "image"),
            "k": result.k, "items": [_item(lookup[m].get(key)) for key in rows],
            "map": None if shared is None else shared[m], "maps": None if per_image is None else per_image[m],
            "gallery": {str(c): [[row_of[key], round(float(f), 4)] for key, f in entries if key in row_of]
                        for c, entries in result.gallery.items()},
        }
        entry.update(_names(result, rows, lookup[m]))
        out.append(entry)
    return {
        "kind": "maps", "title": title, "images": images, "slots": slots, "results": out,
        "models": [{"name": name, "sets": sets} for name, sets in models.items()],
    }
