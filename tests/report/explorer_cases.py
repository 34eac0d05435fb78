"""Hand-made results for the explorer tests: label grids, geometry and galleries whose pictures are known exactly.

Every image is flat grey (:data:`GREY`) of 48 x 72 px, padded to 56 x 84 and mapped on a 4 x 6 grid (14 px cells),
so thumbnail pixel ``(x, y)`` lies in grid cell ``(y // 14, x // 14)``. Grid :data:`GRID`: concept 0 on the left,
1 on the right, 2 in the lower middle. Result ``B`` is result ``A`` with concepts 0 and 1 swapped (a second
"model" or a deeper layer), so matching maps B's 1 to A's 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from encoderscope.data.images import ImageItem
from encoderscope.nave.names import ConceptNames
from encoderscope.nave.result import NaveRecord, NaveResult

GREY = (128, 128, 128)
HW = (48, 72)
PADDED = (56, 84)
GRID = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [0, 0, 2, 2, 1, 1], [0, 0, 2, 2, 1, 1]], np.int16)
SWAP = np.array([1, 0, 2], np.int16)
#: thumbnail pixels (x, y) inside concept 0, 1 and 2 of GRID (away from boundaries)
INSIDE = {0: (5, 5), 1: (62, 5), 2: (33, 33)}


def concept_names(labels: list[str], images: Sequence[str] = ()) -> ConceptNames:
    """Names for concept ``c``: ``labels[c]`` in the dataset scope and ``labels[c]@<image>`` for each of ``images``
    (image scope); an empty label leaves the concept unnamed."""
    entries: dict[Any, list[tuple[str, float]]] = {}
    for concept, label in enumerate(labels):
        if label:
            entries[(None, concept)] = [(label, 0.9), ("thing", 0.1)]
            entries.update({(key, concept): [(f"{label}@{key}", 0.9), ("thing", 0.1)] for key in images})
    return ConceptNames("test", "given", 2, entries)


def write_images(folder: Path, n: int = 3) -> list[Path]:
    """``n`` flat grey PNG files ``img0.png``... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.new("RGB", (HW[1], HW[0]), GREY).save(path)
        paths.append(path)
    return paths


def records(paths: list[Path], grid: np.ndarray = GRID, per_image: np.ndarray | None = None) -> list[NaveRecord]:
    """One record per image; ``per_image[i]`` renumbers image ``i``'s grid (image-scope results)."""
    out = []
    for i, path in enumerate(paths):
        labels = grid if per_image is None else per_image[i][grid]
        out.append(NaveRecord(path.stem, i, labels.astype(np.int16), 3, HW, HW, PADDED, path=str(path),
                              item=ImageItem(path.stem, None, path)))
    return out


def dataset_result(paths: list[Path], layer: str, swap: bool = False, names: list[str] | None = None) -> NaveResult:
    """A dataset-scope result of model ``tiny`` at ``layer`` (concepts 0 and 1 swapped when ``swap``)."""
    grid = SWAP[GRID] if swap else GRID
    keys = [p.stem for p in paths]
    # a made-up ranking (the explorer shows result.gallery as it is): concept 2 is said to be most in the last image
    gallery = {0: [(keys[0], 0.5), (keys[-1], 0.4)], 1: [(keys[-1], 0.4)], 2: [(keys[-1], 0.2), (keys[0], 0.1)]}
    if swap:
        gallery = {int(SWAP[c]): entries for c, entries in gallery.items()}
    result = NaveResult(f"tiny · {layer}", records(paths, grid), {"model": "tiny", "layers": [layer],
                                                                     "scope": "dataset", "k": 3}, gallery=gallery)
    if names is not None:
        result.concept_names = concept_names(names)
    return result


def image_result(paths: list[Path], name: str, seed: int) -> NaveResult:
    """An image-scope result: each image's concepts renumbered by a seeded permutation."""
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(3) for _ in paths]).astype(np.int16)
    return NaveResult(f"{name} · layer", records(paths, per_image=perms), {"model": name, "layers": ["layer"],
                                                                             "scope": "image", "k": 3})


def dissection(paths: list[Path]) -> Any:
    """Four units on the images: units 0 and 2 read 'stripes', 1 and 3 'dots' (cosine similarity)."""
    from encoderscope.dissect.activations import activations_from_tensor
    from encoderscope.dissect.describe import describe_units

    acts = activations_from_tensor(torch.tensor([[2.0, 0.0, 0.5, 0.0], [0.0, 3.0, 0.0, 1.0], [1.5, 0.1, 0.2, 0.0]]),
                                   "fc", keys=[p.stem for p in paths])
    acts.items = [ImageItem(p.stem, None, p) for p in paths]
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    result = describe_units(acts, scores, ["stripes", "dots"], top_images=2, similarity="cos_similarity")
    return result
