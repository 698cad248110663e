r"""Ensembles of independent networks evaluated in one pass: seeds as a batch axis.

A comparison over many seeds (and learning rates) trains many *independent* small networks.
Stacking their weights along a leading *member* axis :math:`e = 1..E` turns :math:`E` small matrix
products into one batched product, with the same arithmetic per member:

.. math::

    \begin{aligned}
    z_e &= x_e W_e + b_e,\\
    \bar x_e &= \bar z_e W_e^\top, \quad \bar W_e = x_e^\top \bar z_e,\\
    \bar b_e &= \textstyle\sum_n \bar z_{e,n},
    \end{aligned}

with activations of shape ``(E, N, D)``. Elementwise modules (:class:`~nnmath.activations.ReLU`,
...) and :class:`~nnmath.residual.Residual` work on such arrays unchanged; :class:`EnsembleLinear`
and :class:`EnsembleBatchNorm1d` keep the members apart where a layer mixes examples or features.
A member never sees another member's numbers, so each trains exactly as it would alone (tested
against the members built one by one from :class:`~nnmath.linear.Linear` and
:class:`~nnmath.normalization.BatchNorm1d`).

PyTorch has no such layer; ``torch.func.vmap`` over ``functional_call`` with stacked parameters
computes the same thing.
"""

from __future__ import annotations

import copy
import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_ndim
from . import init
from .linear import Linear
from .module import Module, Parameter, Sequential
from .normalization import BatchNorm1d, NormCache, _affine, _normalize, batch_norm_backward
from .residual import Residual
from .rng import get_rng

__all__ = ["ensemble_linear", "ensemble_linear_backward", "EnsembleLinear", "EnsembleBatchNorm1d",
           "ensemble_member", "EnsembleLinearCache"]


class EnsembleLinearCache(NamedTuple):
    x: Array                    # the input: dW_e = x_e^T dz_e
    W: Array                    # (E, D_in, D_out): dx_e = dz_e W_e^T
    has_bias: bool              # whether to return db or None
    shared_input: bool          # x was (N, D_in), read by every member: dx sums over them


def ensemble_linear(x: ArrayLike, W: ArrayLike,
                    b: ArrayLike | None = None) -> tuple[Array, EnsembleLinearCache]:
    r"""Per-member affine maps :math:`z_e = x_e W_e + b_e`.

    Parameters
    ----------
    x : array_like of shape (E, N, D_in), or (N, D_in) shared by all members
    W : array_like of shape (E, D_in, D_out)
    b : array_like of shape (E, D_out), optional

    Returns
    -------
    z : ndarray of shape (E, N, D_out)
    cache : EnsembleLinearCache
    """
    x, W = as_array(x, "x"), as_array(W, "W")
    check_ndim(W, 3, "W", "(E, in_features, out_features)")
    check_ndim(x, (2, 3), "x", "(E, N, in_features) or (N, in_features)")
    shared = x.ndim == 2
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"x.shape[-1]={x.shape[-1]} must equal W.shape[1]={W.shape[1]} "
                         f"(x.shape={x.shape}, W.shape={W.shape})")
    if not shared and x.shape[0] != W.shape[0]:
        raise ValueError(f"x has {x.shape[0]} members on axis 0 but W has {W.shape[0]} "
                         f"(x.shape={x.shape}, W.shape={W.shape})")
    z = np.matmul(x, W)                        # (N, D_in) @ (E, D_in, D_out) broadcasts too
    if b is not None:
        b = as_array(b, "b")
        if b.shape != (W.shape[0], W.shape[2]):
            raise ValueError(f"b must have shape {(W.shape[0], W.shape[2])} to match W.shape={W.shape}, "
                             f"got b.shape={b.shape}")
        z = z + b[:, None, :]
    return z, EnsembleLinearCache(x, W, b is not None, shared)


def ensemble_linear_backward(dout: ArrayLike, cache: EnsembleLinearCache
                             ) -> tuple[Array, Array, Array | None]:
    r"""Gradients of :func:`ensemble_linear`: ``(dx, dW, db)`` with
    :math:`\bar x_e = \bar z_e W_e^\top`, :math:`\bar W_e = x_e^\top \bar z_e`,
    :math:`\bar b_e = \sum_n \bar z_{e,n}`. For a shared input ``x`` of shape
    ``(N, D_in)``, ``dx`` is the sum over the members (every member read it)."""
    x, W, has_bias, shared = cache
    dout = as_array(dout, "dout")
    expected = (W.shape[0], x.shape[-2], W.shape[2])
    if dout.shape != expected:
        raise ValueError(f"dout must have the output's shape {expected}, "
                         f"got dout.shape={dout.shape}")
    dx = np.matmul(dout, W.transpose(0, 2, 1))
    if shared:
        dx = dx.sum(axis=0)
    dW = np.matmul(np.swapaxes(x, -1, -2), dout)      # (E, D_in, D_out)
    db = dout.sum(axis=1) if has_bias else None
    return dx, dW, db


class EnsembleLinear(Module):
    r"""``E`` independent :class:`~nnmath.linear.Linear` layers applied in one batched product.

    ``weight`` has shape ``(E, in_features, out_features)`` and ``bias`` ``(E, out_features)``;
    member ``e`` is initialised exactly like ``Linear(in_features, out_features)`` (PyTorch's
    :math:`U(\pm 1/\sqrt{D_{in}})`). Input ``(E, N, D_in)``, or ``(N, D_in)`` fed to every
    member; output ``(E, N, D_out)``.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        if n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {n_members}")
        rng = get_rng(rng)
        self.n_members, self.in_features, self.out_features = n_members, in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (n_members, in_features, out_features)))
        self.bias = (init.uniform_(Parameter(np.empty((n_members, out_features))), -bound, bound, rng=rng)
                     if bias else None)
        self._cache: Any = None

    def forward(self, x: ArrayLike) -> Array:
        z, self._cache = ensemble_linear(x, self.weight.data, None if self.bias is None else self.bias.data)
        return z

    def backward(self, dout: ArrayLike) -> Array:
        dx, dW, db = ensemble_linear_backward(dout, self._require_cache(self._cache))
        self.weight.grad += dW
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def member(self, e: int) -> Linear:
        """Member ``e`` as an ordinary :class:`~nnmath.linear.Linear` (a copy of its weights)."""
        lin = Linear(self.in_features, self.out_features, bias=self.bias is not None,
                     rng=np.random.default_rng(0))
        lin.weight.data[...] = self.weight.data[e]
        if self.bias is not None:
            lin.bias.data[...] = self.bias.data[e]
        return lin

    def extra_repr(self) -> str:
        return (f"n_members={self.n_members}, in_features={self.in_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class EnsembleBatchNorm1d(Module):
    r"""``E`` independent :class:`~nnmath.normalization.BatchNorm1d` layers on ``(E, N, D)``.

    Every member normalizes each of its features over its own batch axis (axis 1), with the
    same equations and backward pass as :func:`~nnmath.normalization.batch_norm` (whose compact
    backward :func:`~nnmath.normalization.batch_norm_backward` it reuses). Parameters
    ``weight`` (:math:`\gamma`, ones) and ``bias`` (:math:`\beta`, zeros) and the running
    statistics have shape ``(E, D)``. Modes and momentum as ``BatchNorm1d``.
    """

    def __init__(self, n_members: int, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        self.n_members, self.num_features, self.eps, self.momentum = n_members, num_features, eps, momentum
        self.weight = Parameter(np.ones((n_members, num_features)))
        self.bias = Parameter(np.zeros((n_members, num_features)))
        self.running_mean = np.zeros((n_members, num_features))
        self.running_var = np.ones((n_members, num_features))
        self._cache: Any = None

    def forward(self, x: ArrayLike) -> Array:
        x = as_array(x, "x")
        check_ndim(x, 3, "x", "(E, N, num_features)")
        E, N, D = x.shape
        if (E, D) != (self.n_members, self.num_features):
            raise ValueError(f"x.shape={x.shape} does not match n_members={self.n_members}, "
                             f"num_features={self.num_features}")
        view = (E, 1, D)
        if self.training:
            if N <= 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got input of shape {x.shape}")
            xhat, mean, var, rstd = _normalize(x, (1,), self.eps)     # statistics over axis 1 only
            self.running_mean *= 1.0 - self.momentum
            self.running_mean += self.momentum * mean.reshape(E, D)
            self.running_var *= 1.0 - self.momentum
            self.running_var += self.momentum * var.reshape(E, D) * (N / (N - 1))   # unbiased
        else:
            rstd = 1.0 / np.sqrt(self.running_var.reshape(view) + self.eps)
            xhat = (x - self.running_mean.reshape(view)) * rstd
        self._cache = NormCache(xhat, rstd, (1,), view, (1,), self.weight.data, True, self.training)
        return _affine(xhat, self.weight.data, self.bias.data, view)

    def backward(self, dout: ArrayLike) -> Array:
        dx, dgamma, dbeta = batch_norm_backward(dout, self._require_cache(self._cache))
        self.weight.grad += dgamma
        self.bias.grad += dbeta
        return dx

    def member(self, e: int) -> BatchNorm1d:
        """Member ``e`` as an ordinary :class:`~nnmath.normalization.BatchNorm1d` (copies of its
        parameters and running statistics, same mode)."""
        bn = BatchNorm1d(self.num_features, eps=self.eps, momentum=self.momentum)
        bn.weight.data[...] = self.weight.data[e]
        bn.bias.data[...] = self.bias.data[e]
        bn.running_mean[...] = self.running_mean[e]
        bn.running_var[...] = self.running_var[e]
        bn.training = self.training
        return bn

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, num_features={self.num_features}, eps={self.eps}"


def ensemble_member(module: Module, e: int) -> Module:
    """Member ``e`` of an ensemble network as an ordinary network of the same structure.

    :class:`EnsembleLinear` and :class:`EnsembleBatchNorm1d` become ``Linear`` and
    ``BatchNorm1d`` with member ``e``'s numbers; :class:`~nnmath.module.Sequential` and
    :class:`~nnmath.residual.Residual` are rebuilt around their converted children; any other
    module (activations, which hold no member-specific state) is deep-copied.
    """
    if isinstance(module, (EnsembleLinear, EnsembleBatchNorm1d)):
        return module.member(e)
    if isinstance(module, Sequential):
        out: Module = Sequential(*(ensemble_member(m, e) for m in module))
    elif isinstance(module, Residual):
        if isinstance(module.scale, Parameter):
            raise ValueError("ensemble_member: a learnable residual scale is shared by all members")
        out = Residual(ensemble_member(module.fn, e), scale=module.scale)
    else:
        out = copy.deepcopy(module)
    out.train(module.training)
    return out
