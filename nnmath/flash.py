r"""Blockwise attention: the online-softmax recurrence of FlashAttention, forward and backward.

Plain attention (:func:`~nnmath.attention.scaled_dot_product_attention`) materialises the
:math:`T \times S` matrix of weights :math:`P` and keeps it for the backward pass. Blockwise
attention visits the keys in blocks of ``block_size`` and never holds more than one
``block_size`` × ``block_size`` tile of scores. For each query row it carries three running
quantities over the key blocks seen so far — the maximum score :math:`m`, the softmax denominator
:math:`\ell` relative to that maximum, and the unnormalised output :math:`a` — and updates them
with the online-softmax recurrence (Milakov & Gimelshein, 2018; Dao et al., 2022):

.. math::

    \begin{aligned}
    m' &= \max(m, \max_j s_j),\\
    \ell' &= e^{m - m'}\,\ell + \sum_j e^{s_j - m'},\\
    a' &= e^{m - m'}\,a + \sum_j e^{s_j - m'}\, v_j .
    \end{aligned}

After the last block :math:`o = a/\ell`, and the row's log-sum-exp
:math:`\operatorname{lse} = m + \log \ell` is all the backward pass needs to rebuild any tile of
:math:`P = \exp(S - \operatorname{lse})` exactly. With :math:`D_i = \sum_c \bar O_{ic} O_{ic}`
(which equals :math:`\sum_j P_{ij}\bar P_{ij}`), the softmax backward of a tile is
:math:`\bar S = P \odot (\bar P - D)`, so the gradients are accumulated tile by tile as well.

The loops over blocks are the algorithm (on a GPU each tile is one kernel's work in fast memory);
inside a tile everything is vectorised, and every leading batch axis is processed at once.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array

__all__ = ["blockwise_attention", "blockwise_attention_backward", "BlockwiseCache"]


class BlockwiseCache(NamedTuple):
    """What :func:`blockwise_attention` keeps: inputs, output and one number per query row."""

    q: Array                    # queries (..., T, d_k): recompute the score tiles
    k: Array                    # keys (..., S, d_k)
    v: Array                    # values (..., S, d_v): the tiles of dP = dO V^T
    out: Array                  # output (..., T, d_v): D = rowsum(dO * O)
    lse: Array                  # row log-sum-exp (..., T); -inf for a row with no key
    block_size: int             # tile edge, for queries and keys alike
    is_causal: bool             # top-left aligned causal mask, as scaled_dot_product_attention
    scale: float                # alpha, 1/sqrt(d_k) by default


def _check(q: Array, k: Array, v: Array, block_size: int) -> None:
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"q, k, v need the same number (>= 2) of dimensions, got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"q, k, v must share their batch axes, got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k need the same last dimension d_k, got {q.shape} and {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v need the same length S, got {k.shape} and {v.shape}")
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")


def _tile_scores(q_i: Array, k_j: Array, scale: float, i0: int, j0: int, is_causal: bool) -> Array:
    """Scores of query rows i0.. against key columns j0.., with the causal mask applied."""
    s = (q_i * scale) @ np.swapaxes(k_j, -1, -2)
    if is_causal:
        rows = np.arange(i0, i0 + q_i.shape[-2])[:, None]
        cols = np.arange(j0, j0 + k_j.shape[-2])[None, :]
        np.copyto(s, -np.inf, where=cols > rows)
    return s


def blockwise_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike, block_size: int,
                        is_causal: bool = False, scale: float | None = None
                        ) -> tuple[Array, BlockwiseCache]:
    r"""Attention :math:`\operatorname{softmax}(\alpha QK^\top)V` computed tile by tile.

    Equal to :func:`~nnmath.attention.scaled_dot_product_attention` with the same
    ``is_causal`` and ``scale`` (to rounding, for every ``block_size``), while holding
    at most one ``block_size`` × ``block_size`` tile of scores at a time instead of the
    whole :math:`T \times S` matrix.

    Parameters
    ----------
    q : array_like of shape (..., T, d_k)
    k : array_like of shape (..., S, d_k)
    v : array_like of shape (..., S, d_v)
    block_size : int
        Edge of a tile, for query rows and key columns alike; need not divide ``T`` or
        ``S`` (the last tile is smaller).
    is_causal : bool
        Query ``i`` attends to keys ``j <= i`` (top-left aligned when ``T != S``, as
        PyTorch); tiles entirely above the diagonal are skipped.
    scale : float, optional
        :math:`\alpha`, default :math:`1/\sqrt{d_k}`.

    Returns
    -------
    out : ndarray of shape (..., T, d_v)
        Zeros for a query with no key (``S = 0``).
    cache : BlockwiseCache
        Inputs, output and the row log-sum-exp: :math:`O(T)` numbers beyond the inputs,
        where plain attention keeps :math:`T \times S`.
    """
    q, k, v = as_array(q, "q"), as_array(k, "k"), as_array(v, "v")
    _check(q, k, v, block_size)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    T, S = q.shape[-2], k.shape[-2]
    batch = q.shape[:-2]
    out = np.zeros(batch + (T, v.shape[-1]))
    lse = np.full(batch + (T,), -np.inf)
    for i0 in range(0, T, block_size):
        q_i = q[..., i0:i0 + block_size, :]
        rows = q_i.shape[-2]
        m = np.full(batch + (rows,), -np.inf)      # running row maximum
        ell = np.zeros(batch + (rows,))             # running denominator, relative to m
        acc = np.zeros(batch + (rows, v.shape[-1]))  # running numerator, relative to m
        for j0 in range(0, S, block_size):
            if is_causal and j0 > i0 + rows - 1:
                break   # every later tile is above the diagonal
            s = _tile_scores(q_i, k[..., j0:j0 + block_size, :], scale, i0, j0,
                             is_causal)
            m_new = np.maximum(m, s.max(axis=-1))
            # rows with no key yet stay at 0
            shift = np.where(np.isneginf(m_new), 0.0, m_new)
            p = np.exp(s - shift[..., None])
            alpha = np.exp(m - shift)
            ell = alpha * ell + p.sum(axis=-1)
            acc = alpha[..., None] * acc + p @ v[..., j0:j0 + block_size, :]
            m = m_new
        alive = ell > 0
        out[..., i0:i0 + rows, :] = np.divide(acc, ell[..., None],
                                              out=np.zeros_like(acc),
                                              where=alive[..., None])
        lse[..., i0:i0 + rows] = np.where(alive, m + np.log(np.where(alive, ell, 1.0)),
                                          -np.inf)
    return out, BlockwiseCache(q, k, v, out, lse, int(block_size), bool(is_causal),
                               scale)


def blockwise_attention_backward(dout: ArrayLike, cache: BlockwiseCache) -> tuple[Array, Array, Array]:
    r"""Gradients ``(dq, dk, dv)``, recomputing each tile of :math:`P` from the saved log-sum-exp.

    Per tile: :math:`P = \exp(S - \operatorname{lse})`, :math:`\bar V \mathrel{+}= P^\top \bar O`,
    :math:`\bar P = \bar O V^\top`, :math:`\bar S = P \odot (\bar P - D)` with
    :math:`D = \operatorname{rowsum}(\bar O \odot O)`, :math:`\bar Q \mathrel{+}= \alpha \bar S K`,
    :math:`\bar K \mathrel{+}= \alpha \bar S^\top Q`.
    """
    q, k, v, out, lse, bs, causal, scale = cache
    dout = as_array(dout, "dout")
    if dout.shape != out.shape:
        raise ValueError(f"dout must have the output's shape {out.shape}, got {dout.shape}")
    T, S = q.shape[-2], k.shape[-2]
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    D = np.sum(dout * out, axis=-1)                  # (..., T)
    lse_safe = np.where(np.isneginf(lse), np.inf, lse)   # exp(s - inf) = 0 for rows with no key
    for i0 in range(0, T, bs):
        q_i, do_i = q[..., i0:i0 + bs, :], dout[..., i0:i0 + bs, :]
        rows = q_i.shape[-2]
        for j0 in range(0, S, bs):
            if causal and j0 > i0 + rows - 1:
                break
            k_j, v_j = k[..., j0:j0 + bs, :], v[..., j0:j0 + bs, :]
            s = _tile_scores(q_i, k_j, scale, i0, j0, causal)
            p = np.exp(s - lse_safe[..., i0:i0 + rows, None])
            dv[..., j0:j0 + bs, :] += np.swapaxes(p, -1, -2) @ do_i
            dp = do_i @ np.swapaxes(v_j, -1, -2)
            ds = p * (dp - D[..., i0:i0 + rows, None])
            dq[..., i0:i0 + rows, :] += scale * (ds @ k_j)
            dk[..., j0:j0 + bs, :] += scale * (np.swapaxes(ds, -1, -2) @ q_i)
    return dq, dk, dv
