r"""RMS normalization (Zhang & Sennrich, 2019), as ``torch.nn.RMSNorm``.

Layer normalization re-centres and re-scales each example; RMSNorm only re-scales, by the root mean
square over the normalized axes:

.. math::

    \begin{aligned}
    r &= \Bigl(\tfrac1k \textstyle\sum_c x_c^2 + \epsilon\Bigr)^{-1/2},\\
    \hat x &= r\,x, \qquad y = \gamma \odot \hat x .
    \end{aligned}

Its backward pass has one path fewer than layer normalization's (there is no mean). With
:math:`g = \gamma \odot \bar y`, differentiating :math:`\hat x_c = r x_c` through :math:`r` gives

.. math::

    \begin{aligned}
    \bar x &= r\,\bigl(g - \hat x\,\operatorname{mean}_c(g \odot \hat x)\bigr),\\
    \bar\gamma &= \textstyle\sum_{\text{other axes}} \bar y \odot \hat x .
    \end{aligned}

Differences from ``torch.nn.functional.rms_norm``: the arrays come first (see :func:`rms_norm`),
and a ``normalized_shape`` with a zero in it is an error (PyTorch returns the empty input).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array
from .module import FunctionalModule, Parameter

__all__ = ["rms_norm", "rms_norm_backward", "RMSNorm", "RMSNormCache"]


class RMSNormCache(NamedTuple):
    xhat: Array                 # x * r, the normalized input: a factor of both gradients
    rrms: Array                 # r = 1/sqrt(mean(x^2) + eps), keepdims over the normalized axes
    axes: tuple[int, ...]       # the normalized (trailing) axes
    gamma: Array | None         # the weight, or None without an elementwise affine


def _shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(normalized_shape),) if np.isscalar(normalized_shape) else tuple(int(s) for s in normalized_shape)


def rms_norm(x: ArrayLike, weight: ArrayLike | None = None, eps: float | None = None, *,
             normalized_shape: int | Sequence[int] | None = None) -> tuple[Array, RMSNormCache]:
    r"""``torch.nn.functional.rms_norm``: :math:`y = \gamma \odot x / \sqrt{\operatorname{mean}(x^2) + \epsilon}`.

    Parameters
    ----------
    x : array_like of shape (..., \*normalized_shape)
    weight : array_like of shape normalized_shape, optional
        :math:`\gamma`; omitted means no scaling.
    eps : float, optional
        Added to the mean square. ``None`` (PyTorch's default) means the machine epsilon of the
        dtype, ``np.finfo(np.float64).eps`` here.
    normalized_shape : int or tuple of int, optional
        The trailing axes to normalize over; defaults to ``weight.shape``, else the last axis.
        (PyTorch takes it as the second positional argument; nnmath takes the arrays first so that
        ``nm.gradcheck`` can perturb them, as in :func:`~nnmath.normalization.layer_norm`.)

    Returns
    -------
    out : ndarray, the shape of ``x``
    cache : RMSNormCache
    """
    x = as_array(x, "x")
    if normalized_shape is not None:
        shape = _shape(normalized_shape)
    else:
        shape = tuple(np.shape(weight)) if weight is not None else x.shape[-1:]
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"x.shape={x.shape} does not end with normalized_shape={shape}")
    if 0 in shape:  # PyTorch returns the empty x; a mean square over no entries is undefined
        raise ValueError(f"normalized_shape={shape} has no entries to normalize over (x.shape={x.shape})")
    w = None
    if weight is not None:
        w = as_array(weight, "weight")
        if w.shape != shape:
            raise ValueError(f"weight.shape={w.shape} must equal normalized_shape={shape}")
    eps = float(np.finfo(x.dtype).eps) if eps is None else float(eps)
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    axes = tuple(range(x.ndim - k, x.ndim))
    with np.errstate(over="ignore", under="ignore"):
        ms = np.mean(np.square(x), axis=axes, keepdims=True)
    # x^2 overflows for |x| > 1e154 and underflows for |x| < 1e-154: those rows (rare) take the
    # mean square of x / max|x| instead, r = 1 / (peak sqrt(ms' + eps/peak^2))
    bad = ~np.isfinite(ms) | (ms < 1e-290)
    if bad.any():
        peak = np.max(np.abs(x), axis=axes, keepdims=True, initial=0.0)
        peak = np.where(peak > 0, peak, 1.0)
        ms1 = np.mean(np.square(x / peak), axis=axes, keepdims=True)   # in [1/k, 1]
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            # the same r two ways; each is exact where the other could over- or underflow
            r_big = 1.0 / (peak * np.sqrt(ms1 + eps / peak / peak))
            r_small = 1.0 / np.sqrt(ms1 * peak * peak + eps)
        scaled = np.where((peak >= 1.0) | (eps == 0), r_big, r_small)
        with np.errstate(divide="ignore"):
            rrms = np.where(bad, scaled, 1.0 / np.sqrt(np.where(bad, 1.0, ms + eps)))
    else:
        rrms = 1.0 / np.sqrt(ms + eps)
    xhat = x * rrms
    out = xhat * w if w is not None else xhat.copy()
    return out, RMSNormCache(xhat, rrms, axes, w)


def rms_norm_backward(dout: ArrayLike, cache: RMSNormCache
                      ) -> tuple[Array, Array | None]:
    r"""Gradients ``(dx, dweight)``; ``dweight`` is ``None`` when the forward had no
    weight."""
    xhat, rrms, axes, w = cache
    dout = as_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(f"dout.shape={dout.shape} must equal the output's shape "
                         f"{xhat.shape}")
    g = dout * w if w is not None else dout
    dx = rrms * (g - xhat * np.mean(g * xhat, axis=axes, keepdims=True))
    other = tuple(range(xhat.ndim - len(axes)))
    dw = np.sum(dout * xhat, axis=other) if w is not None else None
    return dx, dw


class RMSNorm(FunctionalModule):
    r"""``torch.nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)``.

    Attributes
    ----------
    weight : Parameter of shape normalized_shape or None
        Ones at creation; ``None`` when ``elementwise_affine=False``.
    """

    _op, _op_backward = staticmethod(rms_norm), staticmethod(rms_norm_backward)
    _params = ("weight",)
    _options = ("eps", "normalized_shape")

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True) -> None:
        self.normalized_shape = _shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape)) if elementwise_affine else None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
