r"""Element-wise nonlinearities and softmax, each as a forward/backward pair plus a thin module.

Every ``<op>(x, ...)`` returns ``(out, cache)`` and ``<op>_backward(dout, cache)`` returns the
gradient with respect to ``x``: the upstream gradient times the local derivative,

.. math:: \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot f'(x)

for element-wise ``f`` (the Jacobian is diagonal, so no matrix is ever formed), and the
vector-Jacobian product :math:`p \odot (\bar y - \langle \bar y, p\rangle)` for softmax.

What is cached, and why: sigmoid and tanh cache their *output*, because their derivatives are
functions of it (:math:`\sigma' = \sigma(1-\sigma)`, :math:`\tanh' = 1-\tanh^2`) — recomputing
from ``x`` would cost another ``exp``. ReLU caches the input's sign pattern; GELU caches ``x``.

All ops are stable for inputs of :math:`\pm 1000`: no overflow warnings, exact limits.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf, expit

from ._checks import Array, as_array, check_same_shape
from .module import FunctionalModule

__all__ = [
    "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "relu", "relu_backward",
    "leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward", "softmax", "softmax_backward",
    "log_softmax", "log_softmax_backward", "silu", "silu_backward",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "GELU", "SiLU", "Softmax", "LogSoftmax",
    "LeakyReLUCache", "GELUCache", "SiLUCache", "SoftmaxCache",
]


class LeakyReLUCache(NamedTuple):
    mask: np.ndarray            # x > 0, where the slope is 1
    negative_slope: float       # the slope elsewhere


class GELUCache(NamedTuple):
    x: Array                    # the input: GELU's derivative is a function of x, not of the output
    approximate: str            # "none" (erf) or "tanh"


class SiLUCache(NamedTuple):
    x: Array                    # the input
    s: Array                    # sigma(x): the derivative s (1 + x (1 - s)) needs x and s


class SoftmaxCache(NamedTuple):
    p: Array                    # the probabilities softmax(x): the Jacobian diag(p) - p p^T needs only them
    axis: int                   # the axis they sum to 1 along


def _dout(dout: ArrayLike, out: np.ndarray) -> Array:
    """The upstream gradient as an array of the forward output's shape (never broadcast silently:
    a ``dout`` of another shape is a bug in the caller's chain rule)."""
    dout = as_array(dout, "dout")
    check_same_shape(dout, out, "dout", "out")
    return dout


# --- sigmoid -------------------------------------------------------------------------------
def sigmoid(x: ArrayLike) -> tuple[Array, Array]:
    r"""Logistic sigmoid :math:`\sigma(x) = 1/(1+e^{-x})`.

    Computed by ``scipy.special.expit``, which evaluates :math:`e^{x}/(1+e^{x})` for
    :math:`x < 0` and :math:`1/(1+e^{-x})` otherwise, so ``exp`` never overflows (no warning and the
    exact limits 0 and 1 at :math:`\mp 1000`), in one pass over the array.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray
        ``out`` itself: the derivative is :math:`\sigma(1-\sigma)`, a function of the output,
        so the backward pass needs no ``exp``.
    """
    out = expit(as_array(x))
    return out, out


def sigmoid_backward(dout: ArrayLike, cache: Array) -> Array:
    r""":math:`\bar x = \bar y \odot \sigma(x)(1-\sigma(x))`, using the cached
    output."""
    s = cache
    return _dout(dout, s) * s * (1.0 - s)


# --- tanh ----------------------------------------------------------------------------------
def tanh(x: ArrayLike) -> tuple[Array, Array]:
    r"""Hyperbolic tangent. Returns ``(out, out)``: the derivative is :math:`1 - \tanh^2 x`."""
    out = np.tanh(as_array(x))
    return out, out


def tanh_backward(dout: ArrayLike, cache: Array) -> Array:
    r""":math:`\bar x = \bar y \odot (1 - \tanh^2 x)`, using the cached output."""
    return _dout(dout, cache) * (1.0 - cache**2)


# --- ReLU and leaky ReLU -------------------------------------------------------------------
def relu(x: ArrayLike) -> tuple[Array, Array]:
    r"""Rectified linear unit :math:`\max(x, 0)`. The cache is the mask :math:`x > 0`.

    At exactly ``x = 0`` the derivative is taken to be 0, as in PyTorch. A NaN input gives a NaN
    output (``np.maximum`` propagates it, as ``torch.relu`` does) and lets its upstream gradient
    through: the mask is "not :math:`x \le 0`", PyTorch's ``threshold_backward`` rule.
    """
    x = as_array(x)
    return np.maximum(x, 0.0), ~(x <= 0)


def relu_backward(dout: ArrayLike, cache: np.ndarray) -> Array:
    r""":math:`\bar x = \bar y \odot \mathbb 1[x > 0]`."""
    return np.where(cache, _dout(dout, cache), 0.0)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> tuple[Array, LeakyReLUCache]:
    r"""Leaky ReLU: :math:`x` for :math:`x > 0`, ``negative_slope * x`` otherwise (PyTorch default 0.01)."""
    x = as_array(x)
    mask = x > 0
    return np.where(mask, x, negative_slope * x), LeakyReLUCache(mask, negative_slope)


def leaky_relu_backward(dout: ArrayLike, cache: LeakyReLUCache) -> Array:
    r""":math:`\bar x = \bar y` where :math:`x>0`, ``negative_slope * dout`` elsewhere."""
    mask, slope = cache
    dout = _dout(dout, mask)
    return np.where(mask, dout, slope * dout)


# --- GELU ----------------------------------------------------------------------------------
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(x: ArrayLike, approximate: Literal["none", "tanh"] = "none") -> tuple[Array, GELUCache]:
    r"""Gaussian error linear unit :math:`x\,\Phi(x)` (Hendrycks & Gimpel, 2016).

    ``approximate="none"`` (PyTorch's default) uses the exact normal CDF
    :math:`\Phi(x) = \tfrac12\bigl(1+\operatorname{erf}(x/\sqrt2)\bigr)`;
    ``approximate="tanh"`` uses :math:`\tfrac12 x\bigl(1+\tanh(\sqrt{2/\pi}(x+0.044715x^3))\bigr)`,
    matching ``torch.nn.functional.gelu(x, approximate="tanh")``.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    x = as_array(x)
    if approximate == "none":
        out = 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    else:
        # x**3 overflows float64 only beyond |x| ~ 5e102; clip the tanh argument's input instead
        xc = np.clip(x, -1e3, 1e3)
        out = 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (xc + 0.044715 * xc**3)))
    return out, GELUCache(x, approximate)


def gelu_backward(dout: ArrayLike, cache: GELUCache) -> Array:
    r"""Exact: :math:`\bar x = \bar y\,(\Phi(x) + x\,\varphi(x))` with the normal density
    :math:`\varphi`. Tanh form: the derivative of :math:`\tfrac12 x(1+\tanh u)`,
    :math:`\tfrac12(1+\tanh u) + \tfrac12 x(1-\tanh^2 u)\,u'` with
    :math:`u' = \sqrt{2/\pi}(1 + 3\cdot 0.044715\,x^2)`."""
    x, approximate = cache
    dout = _dout(dout, x)
    if approximate == "none":
        cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * np.minimum(np.abs(x), 1e3) ** 2)   # x*x would overflow past 1e154
        return dout * (cdf + x * pdf)
    xc = np.clip(x, -1e3, 1e3)
    t = np.tanh(_SQRT_2_OVER_PI * (xc + 0.044715 * xc**3))
    du = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * xc**2)
    return dout * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)


def silu(x: ArrayLike) -> tuple[Array, SiLUCache]:
    r"""SiLU (Swish) :math:`x\,\sigma(x)`, ``torch.nn.functional.silu``. Cache:
    ``SiLUCache(x, sigma(x))``."""
    x = as_array(x)
    s, _ = sigmoid(x)
    return x * s, SiLUCache(x, s)


def silu_backward(dout: ArrayLike, cache: SiLUCache) -> Array:
    r""":math:`\bar x = \bar y\,\sigma(x)\bigl(1 + x(1 - \sigma(x))\bigr)`."""
    x, s = cache
    return _dout(dout, x) * s * (1.0 + x * (1.0 - s))


# --- softmax and log-softmax ---------------------------------------------------------------
def _along(x: Array, axis: int) -> Array:
    """``x``, after checking that it has the axis (an empty axis is fine: its softmax is empty,
    and ``initial=-inf`` gives its maximum without NumPy's zero-size error)."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} does not exist for x of shape {x.shape}")
    return x


def softmax(x: ArrayLike, axis: int = -1) -> tuple[Array, SoftmaxCache]:
    r"""Softmax along ``axis``: :math:`p_i = e^{x_i - m} / \sum_j e^{x_j - m}` with
    :math:`m = \max_j x_j`.

    Subtracting the maximum changes nothing mathematically (softmax is invariant to adding a
    constant) but keeps every exponent :math:`\le 0`, so nothing overflows; the largest term is
    exactly 1, so the denominator is at least 1 and nothing divides by zero.

    Returns
    -------
    out : ndarray, same shape as ``x``; non-negative, sums to 1 along ``axis``
    cache : SoftmaxCache ``(out, axis)``
    """
    x = _along(as_array(x), axis)
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    p = e / e.sum(axis=axis, keepdims=True)
    return p, SoftmaxCache(p, axis)


def softmax_backward(dout: ArrayLike, cache: SoftmaxCache) -> Array:
    r"""Vector-Jacobian product of softmax, without forming the Jacobian
    :math:`J = \operatorname{diag}(p) - pp^\top`:

    .. math:: \bar x = J^\top \bar y = p \odot \bigl(\bar y - \textstyle\sum_j \bar y_j p_j\bigr).
    """
    p, axis = cache
    dout = _dout(dout, p)
    return p * (dout - np.sum(dout * p, axis=axis, keepdims=True))


def log_softmax(x: ArrayLike, axis: int = -1) -> tuple[Array, SoftmaxCache]:
    r"""Log-softmax: :math:`x_i - m - \log\sum_j e^{x_j - m}` (the log-sum-exp trick).

    Exact where ``log(softmax(x))`` would give ``-inf`` (e.g. a logit 1000 below the maximum).
    The cache holds the softmax probabilities for the backward pass.
    """
    x = _along(as_array(x), axis)
    if x.shape[axis] == 0:      # nothing to normalize (and log of the empty sum 0 would warn)
        return x.copy(), SoftmaxCache(x.copy(), axis)
    shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    s = e.sum(axis=axis, keepdims=True)
    return shifted - np.log(s), SoftmaxCache(e / s, axis)


def log_softmax_backward(dout: ArrayLike, cache: SoftmaxCache) -> Array:
    r""":math:`\bar x = \bar y - p \sum_j \bar y_j`, since
    :math:`\partial \log p_i / \partial x_k = \delta_{ik} - p_k`."""
    p, axis = cache
    dout = _dout(dout, p)
    return dout - p * np.sum(dout, axis=axis, keepdims=True)


# --- modules -------------------------------------------------------------------------------
class Sigmoid(FunctionalModule):
    """``torch.nn.Sigmoid``: see :func:`sigmoid`."""
    _op, _op_backward = staticmethod(sigmoid), staticmethod(sigmoid_backward)


class Tanh(FunctionalModule):
    """``torch.nn.Tanh``: see :func:`tanh`."""
    _op, _op_backward = staticmethod(tanh), staticmethod(tanh_backward)


class ReLU(FunctionalModule):
    """``torch.nn.ReLU``: see :func:`relu`."""
    _op, _op_backward = staticmethod(relu), staticmethod(relu_backward)


class LeakyReLU(FunctionalModule):
    """``torch.nn.LeakyReLU(negative_slope=0.01)``: see :func:`leaky_relu`."""
    _op, _op_backward = staticmethod(leaky_relu), staticmethod(leaky_relu_backward)
    _options = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(FunctionalModule):
    """``torch.nn.GELU(approximate='none')``: see :func:`gelu`."""
    _op, _op_backward = staticmethod(gelu), staticmethod(gelu_backward)
    _options = ("approximate",)

    def __init__(self, approximate: Literal["none", "tanh"] = "none") -> None:
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(FunctionalModule):
    """``torch.nn.SiLU()`` (Swish): see :func:`silu`."""
    _op, _op_backward = staticmethod(silu), staticmethod(silu_backward)


class Softmax(FunctionalModule):
    """``torch.nn.Softmax(dim)``: see :func:`softmax`. (Not element-wise, but parameter-free.)"""
    _op, _op_backward = staticmethod(softmax), staticmethod(softmax_backward)

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def _kwargs(self) -> dict[str, Any]:
        return {"axis": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``torch.nn.LogSoftmax(dim)``: see :func:`log_softmax`."""
    _op, _op_backward = staticmethod(log_softmax), staticmethod(log_softmax_backward)
