"""One fast check for NaN and Inf in a tensor, shared by capture, clustering and dissection.

``torch.isfinite(x).all()`` builds a boolean copy of ``x`` and reads it again; a sum reads ``x`` once, and a finite
sum means that every value is finite. Only when the sum is not finite (a NaN or Inf inside, or an overflow of large
values) are the values checked one by one, in blocks of at most ``chunk_elements`` so that no full-size temporary is
made.

Example:
    >>> import torch
    >>> all_finite(torch.ones(3, 4)), all_finite(torch.tensor([1.0, float("nan")]))
    (True, False)
    >>> all_finite(torch.full((2,), 3e38)), all_finite(torch.arange(5))  # an overflowing sum; integers
    (True, True)
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 24


def all_finite(tensor: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS) -> bool:
    """Whether ``tensor`` has no NaN or Inf (always ``True`` for integer and boolean tensors)."""
    if not (tensor.is_floating_point() or tensor.is_complex()) or tensor.numel() == 0:
        return True
    if bool(torch.isfinite(tensor.sum())):
        return True
    rows = tensor.reshape(tensor.shape[0], -1) if tensor.ndim > 1 else tensor.reshape(-1, 1)
    step = max(1, chunk_elements // max(1, rows.shape[1]))
    return all(bool(torch.isfinite(rows[r : r + step]).all()) for r in range(0, rows.shape[0], step))
