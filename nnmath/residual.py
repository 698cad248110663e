r"""Residual connections: :math:`y = x + s\,F(x)` and the identity path in its backward pass.

A residual block adds its input to the output of a *branch* :math:`F` (any :class:`~nnmath.module.Module` whose
output has the input's shape), optionally scaled by :math:`s`:

.. math::

    \begin{aligned}
    y &= x + s\,F(x), \qquad J_y = I + s\,J_F,\\
    \bar x &= J_y^\top \bar y = \bar y + J_F^\top (s\,\bar y).
    \end{aligned}

The backward pass is the branch's own vector-Jacobian product, fed the scaled upstream gradient,
plus the upstream gradient itself — the identity path, which no weight multiplies. Through a stack
of blocks the Jacobians multiply, :math:`\prod_l (I + s J_{F_l})`, and expanding the product gives
one term per subset of blocks: :math:`2^L` paths (Veit et al., 2016). :func:`path_backward`
back-propagates along one such path, so the expansion can be checked term by term.

PyTorch has no residual module: a model writes ``x + f(x)`` inside its ``forward`` (torchvision's
``BasicBlock`` does ``out += identity``) and autograd adds the two gradients. :class:`Residual`
makes that addition explicit because nnmath has no tape. For the same branch and weights it gives
the same numbers as that PyTorch code (tested in float64).

With ``learnable_scale=True`` the scale is a trainable scalar :math:`\alpha`, as in SkipInit
(De & Smith, 2020): initialised to 0, every block starts as the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_same_shape
from .module import Module, Parameter

__all__ = ["Residual", "path_backward"]


class Residual(Module):
    r"""A residual block :math:`y = x + s\,F(x)` around the branch module ``fn``.

    Parameters
    ----------
    fn : Module
        The branch :math:`F`; its output must have the input's shape ``(..., D)`` (a projection
        shortcut for a change of width is not provided: put the change outside the block).
    scale : float
        The branch multiplier :math:`s` (default 1, the plain residual block). ``1/sqrt(L)`` for
        ``L`` blocks keeps the activation variance of an un-normalized stack bounded.
    learnable_scale : bool
        Make :math:`s` a trainable scalar :class:`~nnmath.module.Parameter` (``self.scale``) initialised to
        ``scale`` — SkipInit's :math:`\alpha` when ``scale=0``. Its gradient is
        :math:`\bar s = \sum \bar y \odot F(x)`.

    Notes
    -----
    Cached by ``forward``: the output shape (to validate ``dout``) and, only when the scale is
    learnable, :math:`F(x)` (needed for :math:`\bar s`). The identity path needs nothing from
    the forward pass — its Jacobian is :math:`I` whatever :math:`x` was — and the branch keeps
    its own cache. Parameters of ``fn`` are found by :meth:`~nnmath.module.Module.parameters` as ``fn.*``; their
    gradients accumulate (``+=``) like every module's.
    """

    def __init__(self, fn: Module, scale: float = 1.0, learnable_scale: bool = False) -> None:
        if not isinstance(fn, Module):
            raise TypeError(f"Residual takes the branch as a Module, got {type(fn).__name__}")
        self.fn = fn
        self.scale: float | Parameter = Parameter(np.array(float(scale))) if learnable_scale else float(scale)
        self._cache: Any = None

    def _s(self) -> float:
        return float(self.scale.data) if isinstance(self.scale, Parameter) else self.scale

    def forward(self, x: ArrayLike) -> Array:
        x = as_array(x, "x")
        fx = self.fn(x)
        check_same_shape(x, fx, "x", "F(x)")
        self._cache = (x.shape, fx if isinstance(self.scale, Parameter) else None)
        return x + self._s() * fx

    def backward(self, dout: ArrayLike) -> Array:
        shape, fx = self._require_cache(self._cache)
        dout = as_array(dout, "dout")
        if dout.shape != shape:
            raise ValueError(f"dout must have the output's shape {shape}, "
                             f"got dout.shape={dout.shape}")
        if isinstance(self.scale, Parameter):
            self.scale.grad += np.sum(dout * fx)
        # identity path + branch path: dx = dy + J_F^T (s dy)
        return dout + self.fn.backward(self._s() * dout)

    def extra_repr(self) -> str:
        return f"scale={self._s():g}" + (", learnable" if isinstance(self.scale, Parameter) else "")

    def __repr__(self) -> str:
        inner = repr(self.fn).replace("\n", "\n  ")
        return f"Residual(\n  {self.extra_repr()}\n  (fn): {inner}\n)"


def path_backward(blocks: Sequence[Residual], dout: ArrayLike,
                  path: Sequence[bool]) -> Array:
    r"""Back-propagate ``dout`` through ``blocks`` along **one** path of the expansion
    :math:`\prod_l (I + s_l J_{F_l})`.

    ``path[l]`` says whether the path goes through block ``l``'s branch (apply
    :math:`s_l J_{F_l}^\top`) or its skip (apply :math:`I`). Summing over all
    :math:`2^L` paths gives exactly ``Sequential(*blocks).backward(dout)`` (Veit et al.,
    2016); the number of branches on a path is its *length*.

    Every block must have run ``forward`` (the branch Jacobians are taken at that
    point). The branches' ``backward`` is called, so their parameter gradients
    accumulate: call ``zero_grad`` afterwards if that matters. Scales are read as values
    (a learnable scale gets no gradient here).

    Parameters
    ----------
    blocks : sequence of Residual
        In forward order.
    dout : array_like
        Gradient w.r.t. the output of the last block.
    path : sequence of bool, length ``len(blocks)``

    Returns
    -------
    ndarray
        This path's contribution to the gradient w.r.t. the input of the first block.
    """
    if len(path) != len(blocks):
        raise ValueError(f"path has {len(path)} entries for {len(blocks)} blocks")
    g = as_array(dout, "dout")
    for block, through_branch in zip(reversed(blocks), reversed(list(path))):
        if not isinstance(block, Residual):
            raise TypeError(f"path_backward takes Residual blocks, "
                            f"got {type(block).__name__}")
        block._require_cache(block._cache)
        if through_branch:
            g = block.fn.backward(block._s() * g)
    return g
