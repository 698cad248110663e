r"""Rotary position embedding (RoPE; Su et al., 2021), as a functional pair and a small module.

RoPE encodes the position :math:`m` of a query or key by rotating each pair of its features by an
angle proportional to :math:`m`. With :math:`d` even and frequencies
:math:`\theta_i = b^{-2i/d}` (:math:`b = 10000`), pair :math:`i` of :math:`x` at position :math:`m`
becomes

.. math::

    \begin{aligned}
    &\begin{pmatrix} x'_{2i} \\ x'_{2i+1} \end{pmatrix}\\
    &\quad = \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\ \sin m\theta_i & \cos m\theta_i \end{pmatrix}
    \begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix}.
    \end{aligned}

Rotations compose, :math:`R_m^\top R_n = R_{n-m}`, so :math:`\langle R_m q, R_n k\rangle =
\langle q, R_{n-m} k\rangle` depends on the positions only through :math:`n - m`. The backward
pass of a rotation is its transpose, the rotation by :math:`-m\theta_i`.

**Pairing.** nnmath pairs adjacent features :math:`(2i, 2i+1)`, as the paper and torchtune's
``RotaryPositionalEmbeddings`` do. Many libraries (GPT-NeoX, Hugging Face's Llama) pair
:math:`(i, i + d/2)` instead ("rotate half"); the two differ by a fixed permutation of the features,
which a learned projection absorbs, and both give scores that depend only on :math:`n - m`.
``pairing="half"`` selects the other convention.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array
from .module import FunctionalModule

__all__ = ["rope", "rope_backward", "rope_angles", "RotaryEmbedding", "RopeCache"]

Pairing = Literal["interleaved", "half"]


class RopeCache(NamedTuple):
    cos: Array                  # cos(m theta_i), shape (T, d/2): the rotation, reused transposed
    sin: Array                  # sin(m theta_i), shape (T, d/2)
    pairing: str                # "interleaved": (2i, 2i+1); "half": (i, i + d/2)


def rope_angles(positions: ArrayLike, dim: int, base: float = 10000.0) -> Array:
    r"""The angles :math:`m\,\theta_i`, shape ``(len(positions), dim // 2)``."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even integer, got {dim!r}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base}")
    m = np.asarray(positions, dtype=np.float64)
    if m.ndim != 1:
        raise ValueError(f"positions must be 1-D, got shape {m.shape}")
    theta = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    return m[:, None] * theta[None, :]


def _split(x: Array, pairing: str) -> tuple[Array, Array]:
    if pairing == "interleaved":
        return x[..., 0::2], x[..., 1::2]
    half = x.shape[-1] // 2
    return x[..., :half], x[..., half:]


def _merge(a: Array, b: Array, pairing: str) -> Array:
    # written into a new array of a's kind (empty_like keeps ndarray subclasses such as
    # nnmath.opcount's counting arrays, which np.stack and np.concatenate would drop)
    out = np.empty_like(a, shape=a.shape[:-1] + (2 * a.shape[-1],))
    first, second = _split(out, pairing)
    first[...], second[...] = a, b
    return out


def rope(x: ArrayLike, positions: ArrayLike | None = None, base: float = 10000.0,
         pairing: Pairing = "interleaved") -> tuple[Array, RopeCache]:
    r"""Rotate the feature pairs of ``x`` by :math:`m\theta_i`.

    Parameters
    ----------
    x : array_like of shape (..., T, d)
        Queries or keys (per head); ``d`` even.
    positions : array_like of shape (T,), optional
        The position :math:`m` of each row; default ``0, 1, …, T-1``. (With a key/value
        cache the new query's position is the cache length.)
    base : float
        :math:`b` in :math:`\theta_i = b^{-2i/d}`.
    pairing : {"interleaved", "half"}
        Which features form a pair (see the module docstring).

    Returns
    -------
    out : ndarray, the shape of ``x``
    cache : RopeCache
    """
    x = as_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., T, d), got {x.shape}")
    if pairing not in ("interleaved", "half"):
        raise ValueError(f"pairing must be 'interleaved' or 'half', got {pairing!r}")
    T, d = x.shape[-2:]
    pos = np.arange(T) if positions is None else np.asarray(positions)
    if pos.shape != (T,):
        raise ValueError(f"positions must have shape ({T},) to match "
                         f"x.shape={x.shape}, got {pos.shape}")
    ang = rope_angles(pos, d, base)
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = _split(x, pairing)
    out = _merge(a * cos - b * sin, a * sin + b * cos, pairing)
    return out, RopeCache(cos, sin, pairing)


def rope_backward(dout: ArrayLike, cache: RopeCache) -> Array:
    """``dx``: the upstream gradient rotated back, by :math:`-m\\theta_i` (the transpose)."""
    cos, sin, pairing = cache
    dout = as_array(dout, "dout")
    if dout.ndim < 2 or dout.shape[-2:] != (cos.shape[0], 2 * cos.shape[1]):
        raise ValueError(f"dout must end with {(cos.shape[0], 2 * cos.shape[1])}, got {dout.shape}")
    a, b = _split(dout, pairing)
    return _merge(a * cos + b * sin, -a * sin + b * cos, pairing)


class RotaryEmbedding(FunctionalModule):
    """Apply :func:`rope` to inputs of shape ``(..., T, dim)``; no parameters.

    ``forward(x, positions=None)`` passes ``positions`` through (``None``: ``0 … T-1``).
    """

    _op, _op_backward = staticmethod(rope), staticmethod(rope_backward)
    _options = ("base", "pairing")

    def __init__(self, dim: int, base: float = 10000.0, pairing: Pairing = "interleaved") -> None:
        rope_angles(np.zeros(1), dim, base)           # validates dim and base
        self.dim, self.base, self.pairing = int(dim), float(base), pairing

    def forward(self, x: ArrayLike, positions: ArrayLike | None = None) -> Array:
        x = as_array(x, "x")
        if x.shape[-1] != self.dim:
            raise ValueError(f"x.shape[-1] must be dim={self.dim}, got {x.shape}")
        out, self._cache = rope(x, positions, self.base, self.pairing)
        return out

    def extra_repr(self) -> str:
        return f"{self.dim}, base={self.base}, pairing={self.pairing!r}"
