"""Input checks shared by every clustering method: one clear line for impossible K or unusable features."""

from __future__ import annotations

import numpy as np
import torch

from encoderscope.errors import ActivationError, ParameterError

AUTO_K = ("auto", "silhouette")


def as_features(features: np.ndarray | torch.Tensor) -> np.ndarray:
    """``(N, D)`` float32 C-contiguous numpy array; NaN/Inf or a wrong shape raise :class:`ActivationError`."""
    array = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if array.ndim != 2:
        raise ActivationError(f"features must be a 2-D (positions, channels) array, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ActivationError(f"features are empty (shape {array.shape})")
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise non_finite_error(int(bad.sum()), array.shape[0])
    return array


def non_finite_error(bad: int, n_positions: int) -> ActivationError:
    """The error for features with NaN/Inf values at ``bad`` of ``n_positions`` positions."""
    return ActivationError(
        f"features contain NaN or Inf values at {bad} of {n_positions} positions; check the layer and the input images"
    )


def check_k(k: int, n_positions: int) -> int:
    """Validate an integer K against the number of positions (K >= 2 and K <= N)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ParameterError(f"K must be an integer or one of {', '.join(AUTO_K)}, got {k!r}")
    if k < 2:
        raise ParameterError(f"K must be at least 2, got {k}")
    if k > n_positions:
        raise ParameterError(
            f"K={k} is larger than the number of positions ({n_positions}); lower K or use larger images or a "
            "shallower layer"
        )
    return int(k)


def parse_k(value: int | str) -> int | str:
    """Parse a user K (``5``, ``"5"``, ``"auto"``, ``"silhouette"``); integers are range-checked later."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in AUTO_K:
            return text
        if text.lstrip("-").isdigit():
            value = int(text)
        else:
            raise ParameterError(f"K must be an integer or one of {', '.join(AUTO_K)}, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ParameterError(f"K must be an integer or one of {', '.join(AUTO_K)}, got {value!r}")
    if value < 2:
        raise ParameterError(f"K must be at least 2, got {value}")
    return int(value)
