r"""The affine map :math:`y = xW + b` and its module :class:`Linear`.

With :math:`x` of shape ``(N, D_in)``, :math:`W` of shape ``(D_in, D_out)`` and :math:`b` of
shape ``(D_out,)``, the chain rule gives (see the backpropagation chapter)

.. math::

    \bar x = \bar y\,W^\top, \qquad \bar W = x^\top \bar y, \qquad \bar b = \textstyle\sum_n \bar y_n .

Any number of leading batch axes is allowed (``(..., D_in)``), as for ``torch.nn.Linear``;
they are flattened for the weight gradient, which sums over every sample and position.

nnmath stores ``W`` as ``(in, out)`` so that code reads like the derivation; PyTorch's
``Linear.weight`` is the transpose, ``(out, in)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_dim_match, check_ndim
from . import init
from .module import FunctionalModule, Parameter
from .rng import get_rng

__all__ = ["linear", "linear_backward", "Linear", "LinearCache"]


class LinearCache(NamedTuple):
    x: Array                    # the input: dW = x^T dy
    W: Array                    # the weight: dx = dy W^T
    has_bias: bool              # whether to return db or None


def linear(x: ArrayLike, W: ArrayLike, b: ArrayLike | None = None) -> tuple[Array, LinearCache]:
    r"""Affine map :math:`y = xW + b`.

    Parameters
    ----------
    x : array_like of shape (..., D_in)
    W : array_like of shape (D_in, D_out)
    b : array_like of shape (D_out,), optional

    Returns
    -------
    y : ndarray of shape (..., D_out)
    cache : LinearCache ``(x, W, has_bias)`` — the backward needs ``x`` for :math:`\bar W` and ``W`` for
        :math:`\bar x`.
    """
    x, W = as_array(x, "x"), as_array(W, "W")
    check_ndim(W, 2, "W", "(in_features, out_features)")
    if x.ndim < 1:
        raise ValueError(f"x must have a feature axis, got shape {x.shape}")
    check_dim_match(x, -1, W, 0, "x", "W")
    y = x @ W
    if b is not None:
        b = as_array(b, "b")
        if b.shape != (W.shape[1],):
            raise ValueError(f"b must have shape ({W.shape[1]},) to match W.shape={W.shape}, got b.shape={b.shape}")
        y = y + b
    return y, LinearCache(x, W, b is not None)


def linear_backward(dout: ArrayLike, cache: LinearCache
                    ) -> tuple[Array, Array, Array | None]:
    r"""Gradients of :func:`linear`: ``(dx, dW, db)`` with
    :math:`\bar x = \bar y W^\top`, :math:`\bar W = x^\top \bar y`,
    :math:`\bar b = \sum_n \bar y_n` (``db`` is ``None`` when there was no bias)."""
    x, W, has_bias = cache
    dout = as_array(dout, "dout")
    expected = x.shape[:-1] + (W.shape[1],)
    if dout.shape != expected:
        raise ValueError(f"dout must have the output's shape {expected}, "
                         f"got dout.shape={dout.shape}")
    dx = dout @ W.T
    # leading batch axes: every sample and position contributes to dW and db
    if x.ndim != 2:
        rows = math.prod(x.shape[:-1])
        x, dout = x.reshape(rows, W.shape[0]), dout.reshape(rows, W.shape[1])
    dW = x.T @ dout
    db = dout.sum(axis=0) if has_bias else None
    return dx, dW, db


class Linear(FunctionalModule):
    r"""``torch.nn.Linear(in_features, out_features, bias=True)``: :math:`y = xW + b`.

    Initialised like PyTorch: :math:`W, b \sim U(-1/\sqrt{D_{in}}, 1/\sqrt{D_{in}})`
    (``kaiming_uniform_(a=sqrt(5))``). ``weight`` has shape ``(in_features, out_features)``,
    the transpose of PyTorch's.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    rng : numpy.random.Generator, optional
        Defaults to the package generator (:func:`~nnmath.rng.manual_seed`).
    """

    _op, _op_backward = staticmethod(linear), staticmethod(linear_backward)
    _params = ("weight", "bias")

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        rng = get_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        # PyTorch's reset_parameters: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in)
        self.weight = init.kaiming_uniform_(Parameter(np.empty((in_features, out_features))),
                                            a=math.sqrt(5), rng=rng)
        bound = 1.0 / math.sqrt(in_features)
        self.bias = init.uniform_(Parameter(np.empty(out_features)), -bound, bound, rng=rng) if bias else None

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
