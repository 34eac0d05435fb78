"""The interactive explorer: one self-contained HTML page to browse NAVE maps, comparisons, flows and dissections.

:func:`write_explorer` turns result objects into ONE file that opens from disk: no server, no network (a content
security policy forbids every request but ``data:`` pictures), no build step. The page is plain JavaScript and CSS
(``report/assets/explorer.js`` and ``explorer.css``, inlined) over one compact JSON block:

* ``images``: every image once, a JPEG thumbnail of at most 128 px as base64 (:mod:`.explorer_images`), decoded only
  when its tile scrolls into view;
* ``views``: one per result (tabs). Concept maps (:mod:`.explorer_maps`): label grids + geometry drawn on canvases
  over the thumbnails, a legend (names when the result is named), click a concept to highlight it in every map and
  list the images it covers most, hover for the concept under the pointer, a model switch (or all side by side,
  colours matched) and a layer-set / depth switch. Flows: the alluvial figure and the transition matrices. A
  dissection: a searchable unit table (unit, concept, similarity) with each unit's top images.

Several plain NAVE results on the same images become one view (side by side); a comparison is one view with its
agreement table; a flow gives its figure and a view of its depths.

The results are passed in; this module imports none of the method modules.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from encoderscope.nave.baselines import baseline_maps
    >>> result = baseline_maps([Image.new("RGB", (32, 24), "white")], "slic", 3, progress=False)
    >>> page = write_explorer([result], pathlib.Path(tempfile.mkdtemp()) / "explorer.html")
    >>> text = page.read_text()
    >>> "es-data" in text and "http" not in text.split("<script>")[1]
    True
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from encoderscope import __version__
from encoderscope._io import write_text
from encoderscope.errors import ParameterError
from encoderscope.report.encoding import figure_png
from encoderscope.report.explorer_images import THUMB_SIDE, ThumbTable
from encoderscope.report.explorer_maps import maps_view
from encoderscope.report.palette import concept_palette, hex_colors

if TYPE_CHECKING:
    from encoderscope.dissect.describe import Dissection
    from encoderscope.nave.compare import Comparison
    from encoderscope.nave.flow import FlowResult

__all__ = ["EXPLORED", "explorer_html", "explorer_payload", "write_explorer"]

EXPLORED = ("NaveResult", "Comparison", "FlowResult", "Dissection")
"""Result types the explorer shows."""
UNIT_IMAGES = 6
"""Top-activating images shown per unit of a dissection."""
FLOW_DPI = 110
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _kind(result: Any) -> str:
    name = type(result).__name__
    if name not in EXPLORED:
        run = getattr(result, "run", None)
        what = f"a {run.kind!r} run" if getattr(run, "kind", None) else f"a {name}"
        raise ParameterError(f"the explorer shows NAVE, compare, flow and dissect results, not {what}")
    return name


def _comparison_view(comparison: Comparison, thumbs: ThumbTable) -> dict[str, Any]:
    view = maps_view(f"Comparison · {len(comparison.results)} results", comparison.results, thumbs,
                     keys=comparison.keys, mappings=comparison.mappings)
    names = comparison.names
    view["tables"] = [{
        "caption": "Mean adjusted Rand index between the maps (1 = identical partitions, 0 = chance)",
        "header": ["result", *[f"vs {n}" for n in range(len(names))]],
        "rows": [[f"{m}: {name}", *[round(float(v), 3) for v in comparison.mean_ari[m]]] for m, name in
                 enumerate(names)],
    }]
    return view


def _depth_names(flow: FlowResult) -> list[list[str]] | None:
    named = [getattr(result, "concept_names", None) for result in flow.results]
    if any(names is None for names in named):
        return None
    return [[str(names.label(c)) for c in range(result.k)] for names, result in zip(named, flow.results, strict=True)]


def _flow_views(flow: FlowResult, thumbs: ThumbTable) -> list[dict[str, Any]]:
    names = _depth_names(flow)
    png = figure_png(flow.figure(names=names), dpi=FLOW_DPI) if names else flow.png(dpi=FLOW_DPI)
    steps = [{"from": s.layer_from, "to": s.layer_to, "counts": s.counts.tolist(),
              "forward": [[round(float(v), 3) for v in row] for row in s.forward]} for s in flow.steps]
    figure = {"kind": "flow", "title": f"Flow · {flow.model}", "png": base64.b64encode(png).decode("ascii"),
              "summary": flow.summary(), "steps": steps, "names": names}
    return [figure, maps_view(f"Depths · {flow.model}", flow.results, thumbs)]


def _dissection_view(dissection: Dissection, thumbs: ThumbTable) -> dict[str, Any]:
    items, keys = dissection.activations.items, dissection.activations.keys
    values = dissection.activations.values
    rows_of: dict[int, int] = {}
    units = []
    for unit in range(dissection.n_units):
        top = [int(i) for i in dissection.top_images[unit, :UNIT_IMAGES]]
        for i in top:
            if i not in rows_of:
                rows_of[i] = thumbs.add(items[i], None, keys[i])
        alternatives = [[dissection.concepts[int(c)], round(float(s), 4)]
                        for c, s in zip(dissection.best[unit, 1:], dissection.best_scores[unit, 1:], strict=True)]
        units.append([unit, dissection.concept_of(unit), round(float(dissection.best_scores[unit, 0]), 4),
                      alternatives, [rows_of[i] for i in top], [round(float(values[i, unit]), 3) for i in top]])
    model = dissection.config.get("model")
    title = " · ".join(["Dissection", *([str(model)] if model else []), dissection.layer])
    return {"kind": "dissect", "title": title, "layer": dissection.layer,
            "similarity": dissection.similarity, "scorer": dissection.scorer, "units": units}


def explorer_payload(results: Sequence[Any], title: str | None = None, side: int = THUMB_SIDE) -> dict[str, Any]:
    """The page's JSON: the thumbnails, the views and the colours (see the module docstring)."""
    if not results:
        raise ParameterError("nothing to explore: give at least one result (or run folder)")
    thumbs = ThumbTable(side)
    views: list[dict[str, Any]] = []
    plain = [result for result in results if _kind(result) == "NaveResult"]
    for result in results:
        kind = _kind(result)
        if kind == "NaveResult" and result is plain[0]:
            shared = set(plain[0].keys).intersection(*(r.keys for r in plain[1:]))
            groups = [plain] if shared else [[r] for r in plain]
            views += [maps_view(group[0].name if len(group) == 1 else f"NAVE · {len(group)} results", group, thumbs)
                      for group in groups]
        elif kind == "Comparison":
            views.append(_comparison_view(result, thumbs))
        elif kind == "FlowResult":
            views += _flow_views(result, thumbs)
        elif kind == "Dissection":
            views.append(_dissection_view(result, thumbs))
    slots = max([view.get("slots", 1) for view in views] + [1])
    notes = [f"{thumbs.missing} image(s) could not be read: their maps are drawn over grey"] if thumbs.missing else []
    return {"title": title or "encoderscope explorer", "version": __version__, "thumb": side,
            "palette": hex_colors(concept_palette(slots)), "images": thumbs.rows(), "views": views, "notes": notes}


def _asset(name: str) -> str:
    return (resources.files("encoderscope.report") / "assets" / name).read_text(encoding="utf-8")


def explorer_html(payload: dict[str, Any]) -> str:
    """The page: the assets inlined around the JSON block (``<`` escaped, so no text can close the script)."""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    title = html.escape(str(payload.get("title", "encoderscope explorer")))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{title}</title><style>{_asset('explorer.css')}</style></head>\n<body>"
        f"<header><h1>{title}</h1><nav id=\"es-tabs\"></nav></header><main id=\"es-main\"></main>"
        "<div id=\"es-tip\" hidden></div>\n"
        f"<script type=\"application/json\" id=\"es-data\">{data}</script>\n"
        f"<script>{_asset('explorer.js')}</script>\n</body></html>\n"
    )


def write_explorer(
    results: Sequence[Any], out: str | os.PathLike[str], title: str | None = None, side: int = THUMB_SIDE
) -> Path:
    """Write the explorer page of ``results`` (NaveResult, Comparison, FlowResult, Dissection) to ``out``
    (atomically); returns its path."""
    path = Path(out)
    write_text(path, explorer_html(explorer_payload(results, title, side)))
    return path
