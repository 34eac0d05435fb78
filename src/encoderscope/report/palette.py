"""Concept colours: the same concept id has the same colour in every picture.

:func:`concept_palette` gives ``K`` distinct, colour-blind-aware colours as a ``(K, 3)`` uint8 array. The first seven
are the Okabe-Ito colours (safe for the common colour-vision deficiencies); the rest are chosen greedily from a grid
of sRGB colours to be as far as possible (CIEDE2000) from every colour already chosen, both as seen normally and as
seen with simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1). The sequence is
deterministic and prefix-stable: ``concept_palette(5)`` is ``concept_palette(64)[:5]``. Its first
:data:`SHIPPED_COLOURS` colours are shipped as constants (the search takes about a second); more are searched for
when asked for.

With the concept ids of several maps matched (:mod:`encoderscope.data.label_maps`), colours agree between models,
layers and baselines.

Example:
    >>> concept_palette(3).shape
    (3, 3)
    >>> hex_colors(concept_palette(2))
    ['#e69f00', '#56b4e9']
"""

from __future__ import annotations

import functools

import numpy as np

from encoderscope.errors import ParameterError

__all__ = ["AVAILABLE_COLOURS", "SHIPPED_COLOURS", "concept_palette", "hex_colors"]

# Okabe & Ito (2008), "Color Universal Design": the seven chromatic colours (black left out: it reads as boundary).
_OKABE_ITO = np.array(
    [
        [230, 159, 0],  # orange
        [86, 180, 233],  # sky blue
        [0, 158, 115],  # bluish green
        [240, 228, 66],  # yellow
        [0, 114, 178],  # blue
        [213, 94, 0],  # vermillion
        [204, 121, 167],  # reddish purple
    ],
    dtype=np.uint8,
)

# Machado, Oliveira & Fernandes (2009): dichromacy simulation matrices in linear RGB, severity 1.0.
_CVD = {
    "protan": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deutan": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritan": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}
_GRID_STEPS = 18  # sRGB grid of 18^3 candidate colours
_L_RANGE = (32.0, 88.0)  # keep away from near-black (boundaries) and near-white (page background)
_MIN_CHROMA = 18.0  # no greys: they vanish over photos


def _srgb_to_linear(rgb01: np.ndarray) -> np.ndarray:
    return np.where(rgb01 <= 0.04045, rgb01 / 12.92, ((rgb01 + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def _views_lab(rgb_uint8: np.ndarray) -> np.ndarray:
    """(V, N, 3) CIELAB coordinates of the colours as seen normally and under each simulated dichromacy."""
    from skimage.color import rgb2lab

    rgb01 = rgb_uint8.astype(np.float64) / 255.0
    lin = _srgb_to_linear(rgb01)
    views = [rgb01] + [_linear_to_srgb(lin @ m.T) for m in _CVD.values()]
    return np.stack([rgb2lab(v[None])[0] for v in views])


# Weight of each view's distance: a pair must differ normally, and should still differ for dichromats.
_VIEW_WEIGHTS = np.array([1.0, 2.0, 2.0, 3.0])


def _weighted_distance(views_a: np.ndarray, views_b: np.ndarray) -> np.ndarray:
    """min over views of weight * CIEDE2000 between (V, N, 3) and (V, 1, 3) -> (N,)."""
    from skimage.color import deltaE_ciede2000

    dists = [w * deltaE_ciede2000(views_a[v], views_b[v]) for v, w in enumerate(_VIEW_WEIGHTS)]
    return np.min(np.stack(dists), axis=0)


# The first 64 colours of the search below, computed once (tests/report/test_palette.py checks that they are).
_SHIPPED_HEX = (
    "e69f00 56b4e9 009e73 f0e442 0072b2 d55e00 cc79a7 5a4b1e 96005a ffc3b4 4b0fe1 00f0f0 9669ff 695a78 b44b4b a5b478 "
    "87f087 d200b4 4b8787 a5874b 87b4a5 2d4b87 e1b4d2 5a785a d27878 965a1e 2d5af0 966978 7896ff 005a5a 783c3c a596c3 "
    "1e961e 2dd296 2dd2f0 697896 ff875a a5001e b4d24b ff96b4 00783c c369d2 a5e1d2 ff0096 871eb4 c39696 69b45a 5ac3c3 "
    "e12d5a 87f0c3 874b96 b40fe1 a54b69 960087 d2e1a5 d20000 ff5a2d 00a5b4 0096d2 ff6987 2d7869 a57869 964b2d a569a5"
)
_SHIPPED = np.frombuffer(bytes.fromhex(_SHIPPED_HEX.replace(" ", "")), dtype=np.uint8).reshape(-1, 3)
_SHIPPED.setflags(write=False)

SHIPPED_COLOURS = len(_SHIPPED)
"""How many colours of the sequence ship as constants (64)."""

AVAILABLE_COLOURS = 4434
"""The Okabe-Ito colours plus the candidate grid's colours: the most :func:`concept_palette` can give."""


@functools.lru_cache(maxsize=1)
def _candidates() -> tuple[np.ndarray, np.ndarray]:
    axis = np.round(np.linspace(0, 255, _GRID_STEPS)).astype(np.uint8)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    views = _views_lab(grid)
    lab = views[0]
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] >= _L_RANGE[0]) & (lab[:, 0] <= _L_RANGE[1]) & (chroma >= _MIN_CHROMA)
    return grid[keep], views[:, keep]


@functools.lru_cache(maxsize=8)
def _palette_sequence(n: int) -> np.ndarray:
    """The first ``n`` colours of the deterministic greedy sequence (prefix-stable by construction)."""
    grid, grid_views = _candidates()
    chosen = [c for c in _OKABE_ITO[: min(n, len(_OKABE_ITO))]]
    if n <= len(chosen):
        return np.array(chosen, dtype=np.uint8)
    nearest = np.full(len(grid), np.inf)
    for colour in chosen:
        nearest = np.minimum(nearest, _weighted_distance(grid_views, _views_lab(colour[None])))
    while len(chosen) < n:
        best = int(np.argmax(nearest))  # ties: the first grid index, so the result is deterministic
        chosen.append(grid[best])
        nearest = np.minimum(nearest, _weighted_distance(grid_views, grid_views[:, best : best + 1]))
        nearest[best] = -np.inf
    return np.array(chosen, dtype=np.uint8)


def concept_palette(k: int) -> np.ndarray:
    """``k`` distinct, colour-blind-aware colours as a ``(k, 3)`` uint8 array (deterministic, prefix-stable).

    Colour ``i`` is the colour of concept (cluster) id ``i``. Distinctness falls as ``k`` grows: the first seven
    are safe for dichromats, up to about 20 stay clearly separable, and up to 64 are still distinct side by side.
    The first :data:`SHIPPED_COLOURS` are constants; at most the size of the candidate grid (a few thousand) can be
    asked for.

    Example:
        >>> concept_palette(2).tolist()
        [[230, 159, 0], [86, 180, 233]]
        >>> bool((concept_palette(64)[:10] == concept_palette(10)).all())
        True
    """
    k = int(k)
    if k < 1:
        raise ParameterError(f"a palette needs at least one colour, got k={k}")
    if k <= SHIPPED_COLOURS:
        return _SHIPPED[:k].copy()
    if k > AVAILABLE_COLOURS:
        raise ParameterError(f"at most {AVAILABLE_COLOURS} distinct concept colours are available, got k={k}")
    return _palette_sequence(k).copy()


def hex_colors(palette: np.ndarray) -> list[str]:
    """``(K, 3)`` uint8 colours -> ``["#e69f00", ...]`` (for HTML and matplotlib).

    Example:
        >>> hex_colors(concept_palette(1))
        ['#e69f00']
    """
    arr = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in arr.tolist()]
