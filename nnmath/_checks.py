"""Input validation shared by every op: clear errors instead of silent broadcasts.

Every public op in nnmath funnels its array arguments through :func:`as_array` (so integer and
boolean inputs are computed in float64) and checks shapes with the helpers below, whose messages
always name both shapes involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__: list[str] = []  # internal module

Array = NDArray[np.floating]


def as_array(x: ArrayLike, name: str = "x") -> Array:
    """Return ``x`` as a floating-point ndarray (integers and booleans become float64).

    Floating inputs keep their dtype (float64 is the default everywhere in nnmath; float32 is
    accepted so that readers can see its rounding error).
    """
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x   # fast path: np.issubdtype costs microseconds, and every op calls this
    a = np.asarray(x)
    if a.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got dtype=object")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return a


def check_ndim(x: np.ndarray, ndims: int | Sequence[int], name: str, layout: str = "") -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is one of ``ndims``."""
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in allowed:
        expected = " or ".join(f"{d}-D" for d in allowed)
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be {expected}{hint}, got shape {x.shape}")


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` naming both shapes unless ``a.shape == b.shape``."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {name_a}.shape={a.shape} "
                         f"and {name_b}.shape={b.shape}")


def check_dim_match(a: np.ndarray, axis_a: int, b: np.ndarray, axis_b: int, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` naming both shapes unless ``a.shape[axis_a] == b.shape[axis_b]``."""
    if a.shape[axis_a] != b.shape[axis_b]:
        raise ValueError(
            f"{name_a} and {name_b} do not fit: {name_a}.shape={a.shape} (axis {axis_a} = {a.shape[axis_a]}) "
            f"but {name_b}.shape={b.shape} (axis {axis_b} = {b.shape[axis_b]})")
