r"""Dropout (Srivastava et al., 2014) in its *inverted* form, as ``torch.nn.functional.dropout``.

In training, every entry of the input is kept independently with probability :math:`1-p` and
the kept entries are scaled by :math:`1/(1-p)`:

.. math::

    \begin{aligned}
    m_i &\sim \mathrm{Bernoulli}(1-p),\\
    h_i &= \frac{m_i}{1-p}\, x_i,\\
    \mathbb E[h_i \mid x] &= x_i,
    \end{aligned}

so the expected output equals the input and evaluation needs no correction: in evaluation mode
(and for :math:`p = 0`) dropout is the identity. The backward pass is the same mask and scale,
:math:`\bar x_i = \frac{m_i}{1-p}\,\bar h_i`. For :math:`p = 1` every entry is dropped and the
output (and the gradient) is zero — no division by :math:`1 - p = 0` takes place.

The mask is drawn from the seeded stream (``rng``, or the package-wide generator of
:func:`~nnmath.rng.manual_seed`) and kept in the cache, so the backward pass uses exactly the
mask of its forward pass. nnmath's numbers cannot equal PyTorch's (the random streams differ);
the semantics — scaling, modes, limits — are PyTorch's.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array
from .module import Module
from .rng import get_rng

__all__ = ["dropout", "dropout_backward", "Dropout", "DropoutCache"]


class DropoutCache(NamedTuple):
    mask: np.ndarray | None     # boolean keep-mask of the input's shape; None when dropout is the identity
    scale: float                # 1/(1-p) for the kept entries (0 for p = 1, where nothing is kept)
    shape: tuple[int, ...]      # the input's shape, to check ``dout`` against


def _check_p(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"dropout probability p must be a real number, got {type(p).__name__}")
    p = float(p)
    if not 0.0 <= p <= 1.0:    # also rejects NaN
        raise ValueError(f"dropout probability p must be in [0, 1], got p={p}")
    return p


def dropout(x: ArrayLike, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> tuple[Array, DropoutCache]:
    r"""Inverted dropout: zero each entry with probability ``p``, scale the rest by
    :math:`1/(1-p)`.

    Parameters
    ----------
    x : array_like, any shape
        The input; every entry is dropped independently (PyTorch's ``F.dropout``; for
        whole channels see ``Dropout2d`` in PyTorch, which nnmath does not have).
    p : float
        Drop probability in :math:`[0, 1]`, default 0.5 as in PyTorch.
    training : bool
        When ``False`` (evaluation), the output is ``x`` unchanged.
    rng : numpy.random.Generator, optional
        Source of the mask; the package-wide generator when omitted. No random numbers
        are drawn when dropout is the identity (evaluation or ``p = 0``) or drops
        everything (``p = 1``).

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
        :math:`h = m \odot x/(1-p)` with :math:`m_i \sim \mathrm{Bernoulli}(1-p)`.
    cache : DropoutCache
        The boolean keep-mask :math:`m` (``None`` for the identity) and the scale.

    Raises
    ------
    ValueError
        If ``p`` is outside :math:`[0, 1]`. ``TypeError`` if it is not a real number.
    """
    p = _check_p(p)
    x = as_array(x, "x")
    if not training or p == 0.0:
        return x.copy(), DropoutCache(None, 1.0, x.shape)
    if p == 1.0:
        return np.zeros_like(x), DropoutCache(np.zeros(x.shape, dtype=bool), 0.0,
                                              x.shape)
    mask = get_rng(rng).random(x.shape) >= p          # P(keep) = P(U >= p) = 1 - p
    scale = 1.0 / (1.0 - p)
    out = np.where(mask, x, 0.0).astype(x.dtype, copy=False) * x.dtype.type(scale)
    return out, DropoutCache(mask, scale, x.shape)


def dropout_backward(dout: ArrayLike, cache: DropoutCache) -> Array:
    r""":math:`\bar x = \frac{m}{1-p} \odot \bar h` — the forward's mask and scale,
    applied to ``dout``.

    Dropout is linear in :math:`x` for a fixed mask, with the diagonal Jacobian
    :math:`\mathrm{diag}(m)/(1-p)`.
    """
    mask, scale, shape = cache
    dout = as_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the output's shape {shape}, "
                         f"got dout.shape={dout.shape}")
    if mask is None:
        return dout.copy()
    if scale == 0.0:
        return np.zeros_like(dout)
    return (np.where(mask, dout, 0.0).astype(dout.dtype, copy=False)
            * dout.dtype.type(scale))


class Dropout(Module):
    r"""``torch.nn.Dropout(p=0.5)``: :func:`dropout` in training mode, the identity after ``eval()``.

    Parameters
    ----------
    p : float
        Drop probability in :math:`[0, 1]`.
    rng : numpy.random.Generator, optional
        Source of the masks. When omitted, every forward pass draws from the package-wide
        generator *at that moment*, so :func:`~nnmath.rng.manual_seed` called later still takes
        effect (PyTorch's dropout draws from its global generator too). PyTorch's ``inplace``
        option does not exist: nnmath never overwrites its inputs.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        self.p = _check_p(p)
        self.rng = rng
        self._cache: DropoutCache | None = None

    def forward(self, x: ArrayLike) -> Array:
        out, self._cache = dropout(x, self.p, training=self.training, rng=self.rng)
        return out

    def backward(self, dout: ArrayLike) -> Array:
        return dropout_backward(dout, self._require_cache(self._cache))

    def extra_repr(self) -> str:
        return f"p={self.p}"

