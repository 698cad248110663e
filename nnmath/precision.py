r"""Floating-point formats and low-precision arithmetic, for the chapter on the numerics of training.

NumPy has float64, float32 and float16 but no bfloat16. bfloat16 keeps float32's 8 exponent bits
and 7 of its 23 fraction bits, so a float32 rounds to bfloat16 by rounding away its low 16 bits
(round to nearest, ties to even) — which :func:`round_to_bfloat16` does on the bit pattern. The
result is stored as float32, holding exactly the bfloat16 value.

The sums compare three ways of adding ``n`` numbers in a format with unit roundoff :math:`u`:
sequentially (error bound :math:`\approx n u` times the sum of magnitudes), pairwise (a binary
tree, :math:`\approx u \log_2 n`; NumPy's ``sum`` uses a blocked variant), and with Kahan's
compensation (:math:`\approx 2u`, independent of :math:`n`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._checks import Array

__all__ = ["FormatInfo", "format_info", "round_to_bfloat16", "softmax_in", "sum_sequential",
           "sum_pairwise", "sum_kahan"]


@dataclass(frozen=True)
class FormatInfo:
    """The numbers that describe a binary floating-point format."""

    name: str
    exponent_bits: int
    fraction_bits: int          # stored significand bits (the leading 1 is implicit)
    eps: float                  # spacing of numbers just above 1: 2^-fraction_bits
    max: float                  # largest finite number
    smallest_normal: float      # 2^(1 - bias)
    smallest_subnormal: float   # smallest_normal * eps


def format_info(name: str) -> FormatInfo:
    """``"float64"``, ``"float32"``, ``"float16"`` or ``"bfloat16"``, from the bit layout alone:
    bias :math:`2^{e-1}-1`, max :math:`(2 - 2^{-f})\\,2^{\\text{bias}}`, smallest normal
    :math:`2^{1-\\text{bias}}`, smallest subnormal :math:`2^{1-\\text{bias}-f}`."""
    layout = {"float64": (11, 52), "float32": (8, 23), "float16": (5, 10), "bfloat16": (8, 7)}
    if name not in layout:
        raise ValueError(f"unknown format {name!r}; use one of {sorted(layout)}")
    e, f = layout[name]
    bias = 2 ** (e - 1) - 1
    return FormatInfo(name, e, f, 2.0**-f, (2.0 - 2.0**-f) * 2.0**bias, 2.0 ** (1 - bias),
                      2.0 ** (1 - bias - f))


def round_to_bfloat16(x: ArrayLike) -> Array:
    """Round to the nearest bfloat16 (ties to even); returned as float32 holding that
    value.

    inf and NaN are kept; a finite value beyond bfloat16's range becomes inf, as in
    hardware.
    """
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    bits = x32.view(np.uint32).astype(np.uint64)
    lsb = (bits >> 16) & 1
    rounded = ((bits + 0x7FFF + lsb) >> 16) << 16
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x32), x32, out)


def softmax_in(x: ArrayLike, dtype: DTypeLike, subtract_max: bool = True) -> Array:
    r"""Softmax along the last axis, every operation in ``dtype`` — to show what the max
    subtraction :math:`\operatorname{softmax}(x) = \operatorname{softmax}(x - \max x)` buys.

    Without it, ``exp`` overflows to inf as soon as an entry exceeds :math:`\log(\text{max})`
    (11.09 in float16) and the row becomes ``inf/inf = nan``. Overflow is the point of the
    demonstration, so NumPy's overflow and invalid-value warnings are silenced here.
    """
    z = np.asarray(x, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        if subtract_max:
            z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True, dtype=dtype)


def sum_sequential(x: ArrayLike, dtype: DTypeLike) -> float:
    """``((x0 + x1) + x2) + …`` with every partial sum rounded to ``dtype``."""
    v = np.asarray(x, dtype=dtype).ravel()
    return float(np.add.accumulate(v, dtype=dtype)[-1]) if v.size else 0.0


def sum_pairwise(x: ArrayLike, dtype: DTypeLike) -> float:
    """Add neighbours level by level (a binary tree), each partial sum rounded to ``dtype``."""
    v = np.asarray(x, dtype=dtype).ravel()
    if v.size == 0:
        return 0.0
    while v.size > 1:
        if v.size % 2:
            v = np.append(v, np.zeros(1, dtype=dtype))
        v = (v[0::2] + v[1::2]).astype(dtype)
    return float(v[0])


def sum_kahan(x: ArrayLike, dtype: DTypeLike) -> float:
    """Kahan's compensated sum in ``dtype``: carry the rounding error of each addition
    forward.

    A Python loop over the entries — this is the reference algorithm, not a fast path.
    """
    v = np.asarray(x, dtype=dtype).ravel()
    t = np.dtype(dtype).type
    s, c = t(0), t(0)
    for xi in v:
        y = t(xi - c)
        tot = t(s + y)
        c = t(t(tot - s) - y)
        s = tot
    return float(s)
