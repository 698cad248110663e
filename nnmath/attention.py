r"""Scaled dot-product attention and multi-head attention, with derived backward passes.

For queries :math:`Q \in \mathbb R^{L\times d_k}`, keys :math:`K \in \mathbb R^{S\times d_k}` and
values :math:`V \in \mathbb R^{S\times d_v}` (any number of leading batch axes;
the code writes the query length :math:`L`, PyTorch's letter, where the book writes :math:`T`),

.. math::

    \begin{aligned}
    A_{ij} &= \alpha\, q_i\cdot k_j + M_{ij},\\
    P &= \operatorname{softmax}_{\text{rows}}(A), \qquad O = PV,
    \end{aligned}

with :math:`\alpha = 1/\sqrt{d_k}` by default and :math:`M` the mask (0 where a query may attend,
:math:`-\infty` where it may not, or any added float bias). The backward pass (derived in the
attention chapter) is

.. math::

    \begin{aligned}
    \bar V &= P^\top \bar O,\quad \bar P = \bar O V^\top,\\
    \bar A &= P \odot \bigl(\bar P - \operatorname{rowsum}(\bar P \odot P)\bigr),\\
    \bar Q &= \alpha\,\bar A K,\quad \bar K = \alpha\,\bar A^\top Q .
    \end{aligned}

Masks follow ``torch.nn.functional.scaled_dot_product_attention``: a boolean ``attn_mask`` is
True where the query **may attend**, a float mask is added to the scores, ``is_causal=True`` lets
query :math:`i` attend to keys :math:`j \le i`. A query whose every key is masked (a *dead row*)
gets an output of zeros and zero gradients — PyTorch's behaviour — instead of the NaN that
:math:`\operatorname{softmax}(-\infty, \dots, -\infty) = 0/0` would give.

:class:`MultiheadAttention` follows ``torch.nn.MultiheadAttention`` (with ``batch_first=True``;
see its docstring for the differences).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_dim_match
from .activations import SoftmaxCache, softmax_backward
from .init import xavier_uniform_
from .linear import Linear, linear, linear_backward
from .module import Module, Parameter
from .rng import get_rng

__all__ = [
    "scaled_dot_product_attention", "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_naive", "scaled_dot_product_attention_naive_backward",
    "causal_mask", "MultiheadAttention",
]



class AttentionCache(NamedTuple):
    """What :func:`scaled_dot_product_attention` keeps for its backward pass."""

    q: Array                    # queries (..., L, d_k): a factor of dK
    k: Array                    # keys (..., S, d_k): a factor of dQ
    v: Array                    # values (..., S, d_v): a factor of dP
    p: Array                    # attention weights (..., L, S); rows sum to 1, dead rows are 0
    scale: float                # alpha, the factor on q . k


def causal_mask(L: int, S: int | None = None) -> np.ndarray:
    """Boolean ``(L, S)`` mask, True where query ``i`` may attend to key ``j``, i.e. ``j <= i``.

    The same top-left-aligned lower triangle as ``torch.ones(L, S).tril()``, which is what
    ``scaled_dot_product_attention(..., is_causal=True)`` uses.
    """
    S = L if S is None else S
    return np.tri(L, S, dtype=bool)


def _check_qkv(q: Array, k: Array, v: Array) -> None:
    """Shapes ``(..., L, d)``, ``(..., S, d)``, ``(..., S, d_v)`` with identical batch axes."""
    for name, a in (("q", q), ("k", k), ("v", v)):
        if a.ndim < 2:
            raise ValueError(f"{name} must have shape (..., length, features), got {name}.shape={a.shape}")
    check_dim_match(q, -1, k, -1, "q", "k")           # q·k needs the same d_k
    check_dim_match(k, -2, v, -2, "k", "v")           # one value per key
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError("q, k and v must have the same batch axes, got "
                         f"q.shape={q.shape}, k.shape={k.shape}, v.shape={v.shape}")


def _check_mask_dtype(mask: np.ndarray, name: str) -> None:
    """Only boolean and floating masks, as in PyTorch: an integer 0/1 mask is ambiguous (is 1
    "attend", as a boolean, or "add 1 to the score", as a float?), so it is rejected."""
    if mask.dtype != bool and mask.dtype.kind != "f":
        raise TypeError(f"{name} must be boolean or floating, got dtype={mask.dtype} (shape {mask.shape}); "
                        f"an integer 0/1 mask is ambiguous: convert it with {name}.astype(bool)")


def _check_mask(mask: np.ndarray, scores_shape: tuple[int, ...]) -> np.ndarray:
    """A mask must broadcast to the scores' shape ``(..., L, S)`` *without enlarging it*."""
    try:
        shape = np.broadcast_shapes(mask.shape, scores_shape)
    except ValueError:
        shape = None
    if shape != scores_shape:
        raise ValueError(f"attn_mask.shape={mask.shape} does not broadcast to the attention scores' shape "
                         f"(..., L, S) = {scores_shape}")
    if mask.dtype == bool:
        return mask
    _check_mask_dtype(mask, "attn_mask")
    mask = as_array(mask, "attn_mask")
    if np.isnan(mask).any() or np.isposinf(mask).any():
        raise ValueError("a float attn_mask may contain finite values and -inf only (NaN or +inf would make "
                         "every score in its row NaN)")
    return mask


def _masked_softmax_(scores: Array, masked: bool) -> Array:
    """Row softmax of ``scores`` computed *in place* (the scores are not needed
    afterwards).

    Subtracting the row maximum keeps every exponent ``<= 0``. When a mask was applied,
    a row can be entirely ``-inf``: its maximum is ``-inf`` and ``-inf - (-inf)`` is NaN
    (with a NumPy warning). Such dead rows get the shift 0 instead, so their
    exponentials are ``exp(-inf) = 0`` and their sum is 0; dividing by 1 there leaves
    probabilities of exactly 0 — an all-zero row, which makes the output row 0 and,
    through the softmax VJP, every gradient of that row 0. A live row has a maximal
    entry ``exp(0) = 1``, so its sum is at least 1. With no keys at all (``S = 0``)
    there is nothing to normalize: the empty weights give an output of zeros.
    """
    if scores.shape[-1] == 0:
        return scores
    m = scores.max(axis=-1, keepdims=True)
    dead = None
    if masked:
        dead = np.isneginf(m)
        m[dead] = 0.0
    scores -= m
    np.exp(scores, out=scores)
    s = scores.sum(axis=-1, keepdims=True)
    if dead is not None:
        s[dead] = 1.0
    scores /= s
    return scores


def _scores_and_mask(q: Array, k: Array, attn_mask: ArrayLike | None, is_causal: bool,
                     scale: float | None) -> tuple[float, np.ndarray | None]:
    """Resolve ``scale`` and turn ``attn_mask``/``is_causal`` into one validated mask (or None)."""
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if is_causal and attn_mask is not None:
        raise ValueError("pass either attn_mask or is_causal=True, not both (as in PyTorch)")
    mask: np.ndarray | None = None
    if is_causal:
        mask = causal_mask(L, S)
    elif attn_mask is not None:
        mask = _check_mask(np.asarray(attn_mask), q.shape[:-2] + (L, S))
    return scale, mask


def scaled_dot_product_attention(q: ArrayLike, k: ArrayLike, v: ArrayLike,
                                 attn_mask: ArrayLike | None = None,
                                 is_causal: bool = False, scale: float | None = None
                                 ) -> tuple[Array, AttentionCache]:
    r"""Attention :math:`O = \operatorname{softmax}(\alpha QK^\top + M)\,V`, batched
    over leading axes.

    Same semantics and defaults as ``torch.nn.functional.scaled_dot_product_attention``
    (without ``dropout_p``: nnmath has no dropout) — same inputs give the same numbers,
    including zeros for a fully masked query and for ``S = 0`` keys.

    Parameters
    ----------
    q : array_like of shape (..., L, d_k)
        Queries.
    k : array_like of shape (..., S, d_k)
        Keys; the batch axes ``...`` must equal those of ``q``.
    v : array_like of shape (..., S, d_v)
        Values.
    attn_mask : array_like, optional
        Broadcastable to ``(..., L, S)``. Boolean: True where query ``i`` **may attend**
        to key ``j``. Float: added to the scores (use ``-inf`` to forbid). A float mask
        is a constant: no gradient is returned for it. Any other dtype (an integer 0/1
        mask) raises ``TypeError``, as in PyTorch.
    is_causal : bool
        Let query ``i`` attend to keys ``j <= i`` only (:func:`causal_mask`); excludes
        ``attn_mask``. For ``L != S`` the triangle is aligned top-left,
        ``ones(L, S).tril(0)``, as in PyTorch.
    scale : float, optional
        :math:`\alpha`; defaults to :math:`1/\sqrt{d_k}`.

    Returns
    -------
    out : ndarray of shape (..., L, d_v)
    cache : AttentionCache ``(q, k, v, p, scale)``
        ``p`` (shape ``(..., L, S)``, the attention weights; rows sum to 1, dead rows
        are 0) is kept because every gradient needs it and recomputing it costs as much
        as the forward pass; ``q``, ``k``, ``v`` are the other factors of the three
        matrix products. (Memory-efficient kernels such as FlashAttention keep only row
        statistics and recompute ``p`` instead.)
    """
    q, k, v = as_array(q, "q"), as_array(k, "k"), as_array(v, "v")
    _check_qkv(q, k, v)
    scale, mask = _scores_and_mask(q, k, attn_mask, is_causal, scale)
    # scale the (L, d) queries rather than the (L, S) scores: fewer multiplications
    # when S > d
    scores = (q * scale) @ np.swapaxes(k, -1, -2)
    if mask is not None:
        if mask.dtype == bool:
            np.copyto(scores, -np.inf, where=~mask)
        else:
            scores += mask
    p = _masked_softmax_(scores, masked=mask is not None)
    return p @ v, AttentionCache(q, k, v, p, scale)


def scaled_dot_product_attention_backward(dout: ArrayLike, cache: AttentionCache
                                          ) -> tuple[Array, Array, Array]:
    r"""Gradients ``(dq, dk, dv)`` of :func:`scaled_dot_product_attention`.

    .. math::

        \begin{aligned}
        \bar V &= P^\top \bar O,\quad \bar P = \bar O V^\top,\\
        \bar A &= P \odot (\bar P - \operatorname{rowsum}(\bar P \odot P)),\\
        \bar Q &= \alpha \bar A K,\quad \bar K = \alpha \bar A^\top Q .
        \end{aligned}

    :math:`\bar A` is the softmax vector-Jacobian product of
    :func:`nnmath.activations.softmax_backward`, applied to all rows at once — no
    ``(S, S)`` Jacobian is formed. Masked keys have :math:`P_{ij} = 0`, hence
    :math:`\bar A_{ij} = 0`: no gradient reaches them through that query.
    """
    q, k, v, p, scale = cache
    dout = as_array(dout, "dout")
    expected = p.shape[:-1] + (v.shape[-1],)
    if dout.shape != expected:
        raise ValueError(f"dout must have the output's shape {expected}, "
                         f"got dout.shape={dout.shape}")
    dv = np.swapaxes(p, -1, -2) @ dout
    dp = dout @ np.swapaxes(v, -1, -2)
    ds = softmax_backward(dp, SoftmaxCache(p, -1))
    ds *= scale
    dq = ds @ k
    dk = np.swapaxes(ds, -1, -2) @ q
    return dq, dk, dv


# --- naive reference: one query at a time ---------------------------------------------------
def scaled_dot_product_attention_naive(q: ArrayLike, k: ArrayLike, v: ArrayLike,
                                       attn_mask: ArrayLike | None = None, is_causal: bool = False,
                                       scale: float | None = None) -> tuple[Array, AttentionCache]:
    r"""Reference implementation: a Python loop over batch entries and queries.

    For each query :math:`q_i` it computes the scores :math:`s_j = \alpha\, q_i\cdot k_j + M_{ij}`,
    their softmax and :math:`o_i = \sum_j p_j v_j` — the definition, read literally. Slow; used by
    the tests and the benchmark to check :func:`scaled_dot_product_attention`. Same arguments,
    outputs and cache.
    """
    q, k, v = as_array(q, "q"), as_array(k, "k"), as_array(v, "v")
    _check_qkv(q, k, v)
    scale, mask = _scores_and_mask(q, k, attn_mask, is_causal, scale)
    batch, L, S = q.shape[:-2], q.shape[-2], k.shape[-2]
    if mask is not None:
        mask = np.broadcast_to(mask, batch + (L, S))
    out = np.zeros(batch + (L, v.shape[-1]))
    p = np.zeros(batch + (L, S))
    for b in np.ndindex(batch):
        for i in range(L):
            s = scale * (k[b] @ q[b][i])                      # (S,) scores of query i
            if mask is not None:
                row = mask[b][i]
                s = np.where(row, s, -np.inf) if row.dtype == bool else s + row
            if np.all(np.isneginf(s)):                        # dead row: zeros, not 0/0
                continue
            e = np.exp(s - s.max())
            p[b][i] = e / e.sum()
            out[b][i] = p[b][i] @ v[b]
    return out, AttentionCache(q, k, v, p, scale)


def scaled_dot_product_attention_naive_backward(dout: ArrayLike, cache: AttentionCache
                                                ) -> tuple[Array, Array, Array]:
    r"""Reference backward, one query at a time: for query :math:`i` with weights :math:`p`,

    :math:`\bar p_j = \bar o_i\cdot v_j`, :math:`\bar s = p\odot(\bar p - \bar p\cdot p)`, then
    :math:`\bar q_i = \alpha\sum_j \bar s_j k_j`, and key :math:`j` and value :math:`j` collect
    :math:`\alpha\,\bar s_j q_i` and :math:`p_j \bar o_i` from every query.
    """
    q, k, v, p, scale = cache
    dout = as_array(dout, "dout")
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for b in np.ndindex(q.shape[:-2]):
        for i in range(q.shape[-2]):
            pi, doi = p[b][i], dout[b][i]
            dpi = v[b] @ doi                                  # (S,)
            dsi = pi * (dpi - dpi @ pi)
            dq[b][i] = scale * (dsi @ k[b])
            dk[b] += scale * np.outer(dsi, q[b][i])
            dv[b] += np.outer(pi, doi)
    return dq, dk, dv


# --- multi-head attention -------------------------------------------------------------------
def _split_heads(x: Array, num_heads: int) -> Array:
    """``(N, L, d)`` → ``(N, n_h, L, d/n_h)``: head ``h`` owns features ``h·d/n_h … (h+1)·d/n_h - 1``."""
    N, L, d = x.shape
    return x.reshape(N, L, num_heads, d // num_heads).transpose(0, 2, 1, 3)


def _merge_heads(x: Array) -> Array:
    """``(N, n_h, L, D)`` → ``(N, L, n_h·D)``, the inverse of :func:`_split_heads`."""
    N, n_h, L, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, L, n_h * D)


def _allowed(module_mask: np.ndarray, name: str) -> np.ndarray:
    """A module mask (boolean True = blocked, or float added) in the functional convention
    (boolean True = may attend); integer masks are rejected like the functional's."""
    if module_mask.dtype == bool:
        return ~module_mask
    _check_mask_dtype(module_mask, name)
    return as_array(module_mask, name)


def _as_additive(allowed_or_float: np.ndarray) -> Array:
    """A boolean "may attend" mask as 0 / -inf; a float mask unchanged."""
    if allowed_or_float.dtype == bool:
        return np.where(allowed_or_float, 0.0, -np.inf)
    return allowed_or_float


class MultiheadAttention(Module):
    r"""``torch.nn.MultiheadAttention(embed_dim, num_heads, bias=True, batch_first=True)``.

    .. math::

        \begin{aligned}
        &\operatorname{MHA}(Q, K, V)\\
        &\quad = \operatorname{concat}(O_1,\dots,O_{n_h})\,W^O + b^O,\\
        &O_h = \operatorname{attention}(QW^Q_h + b^Q_h,\\
        &\qquad KW^K_h + b^K_h,\; VW^V_h + b^V_h),
        \end{aligned}

    with :math:`W^Q_h` the columns ``h·d/n_h … (h+1)·d/n_h - 1`` of the query projection (and so on).

    Parameters
    ----------
    embed_dim : int
        Model width :math:`d`; every head has width :math:`d/n_h`.
    num_heads : int
        :math:`n_h`; must divide ``embed_dim``.
    bias : bool
        Biases on the input and output projections.
    rng : numpy.random.Generator, optional

    Attributes
    ----------
    in_proj_weight : Parameter of shape (d, 3d)
        :math:`[W^Q\,W^K\,W^V]`, nnmath's ``(in, out)`` layout: the transpose of PyTorch's
        ``in_proj_weight`` ``(3d, d)``. Initialised like PyTorch, Xavier-uniform with bound
        :math:`\sqrt{6/(d + 3d)}`.
    in_proj_bias : Parameter of shape (3d,) or None
        Zero at initialisation, as in PyTorch.
    out_proj : Linear(d, d)
        PyTorch's default ``Linear`` initialisation for the weight, zero bias.
    attn_weights : ndarray of shape (N, n_h, L, S)
        The attention weights of the last forward pass, per head (for plotting).

    Notes
    -----
    Differences from PyTorch, all deliberate:

    * nnmath is batch-first, ``(N, L, d)`` — PyTorch's default is ``batch_first=False``,
      ``(L, N, d)``. Unbatched ``(L, d)`` inputs are accepted, as in PyTorch.
    * ``forward`` returns only the output; the per-head weights are kept in ``attn_weights``
      (PyTorch returns ``(output, weights averaged over heads)``).
    * ``is_causal=True`` without ``attn_mask`` applies the causal mask (PyTorch treats
      ``is_causal`` as a hint and requires the mask too).
    * A query whose keys are all masked outputs the output-projection bias and gets zero gradient,
      following ``scaled_dot_product_attention``; PyTorch's module returns NaN there.
    * No dropout, ``kdim``/``vdim``, ``add_bias_kv`` or ``add_zero_attn``.

    The masks keep PyTorch's *module* conventions, which are the opposite of
    :func:`scaled_dot_product_attention`'s: a boolean ``attn_mask`` or ``key_padding_mask`` is
    True where attending is **not allowed**; float masks are added to the scores; integer masks
    raise ``TypeError`` (PyTorch rejects them too), because 0/1 would mean the opposite in the two
    conventions.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"embed_dim must be a positive multiple of num_heads, got embed_dim={embed_dim}, "
                             f"num_heads={num_heads}")
        rng = get_rng(rng)
        d = embed_dim
        self.embed_dim, self.num_heads, self.head_dim = d, num_heads, d // num_heads
        # PyTorch's _reset_parameters: Xavier-uniform over the stacked (d, 3d) matrix, zero biases
        self.in_proj_weight = xavier_uniform_(Parameter(np.zeros((d, 3 * d))), rng=rng)
        self.in_proj_bias = Parameter(np.zeros(3 * d)) if bias else None
        self.out_proj = Linear(d, d, bias=bias, rng=rng)
        if bias:
            self.out_proj.bias.data[:] = 0.0
        self.attn_weights: Array | None = None
        self._cache: Any = None

    def _proj(self, i: int) -> tuple[Array, Array | None]:
        """The weight and bias of projection ``i`` (0: query, 1: key, 2: value), as views."""
        d = self.embed_dim
        W = self.in_proj_weight.data[:, i * d:(i + 1) * d]
        b = None if self.in_proj_bias is None else self.in_proj_bias.data[i * d:(i + 1) * d]
        return W, b

    def _combined_mask(self, N: int, L: int, S: int, attn_mask: ArrayLike | None,
                       key_padding_mask: ArrayLike | None, is_causal: bool) -> np.ndarray | None:
        """Turn PyTorch's module masks (True = blocked) into one ``(N, n_h|1, L, S)`` attention mask
        in :func:`scaled_dot_product_attention`'s convention (True = may attend, or additive)."""
        n_h = self.num_heads
        parts: list[np.ndarray] = []
        if attn_mask is not None:
            m = np.asarray(attn_mask)
            if m.shape == (L, S):
                m = m[None, None]
            elif m.shape == (N * n_h, L, S):
                m = m.reshape(N, n_h, L, S)
            else:
                raise ValueError(f"attn_mask must have shape (L, S) = {(L, S)} or (N*num_heads, L, S) = "
                                 f"{(N * n_h, L, S)}, got attn_mask.shape={m.shape}")
            parts.append(_allowed(m, "attn_mask"))
        elif is_causal:
            parts.append(causal_mask(L, S)[None, None])
        if key_padding_mask is not None:
            m = np.asarray(key_padding_mask)
            if m.shape != (N, S):
                raise ValueError(f"key_padding_mask must have shape (N, S) = {(N, S)}, "
                                 f"got key_padding_mask.shape={m.shape}")
            parts.append(_allowed(m[:, None, None, :], "key_padding_mask"))
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        a, b = parts
        if a.dtype == bool and b.dtype == bool:
            return a & b                      # may attend only where both allow it
        return _as_additive(a) + _as_additive(b)

    def forward(self, query: ArrayLike, key: ArrayLike, value: ArrayLike,
                attn_mask: ArrayLike | None = None,
                key_padding_mask: ArrayLike | None = None,
                is_causal: bool = False) -> Array:
        """Attend from ``query`` ``(N, L, d)`` to ``key``/``value`` ``(N, S, d)``;
        returns ``(N, L, d)``.

        ``attn_mask``: ``(L, S)`` or ``(N·num_heads, L, S)``, boolean (True = blocked)
        or float (added). ``key_padding_mask``: ``(N, S)``, True = ignore that key
        (padding).
        """
        query, key, value = (as_array(query, "query"), as_array(key, "key"),
                             as_array(value, "value"))
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query[None], key[None], value[None]
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(key_padding_mask)[None]
        for name, a in (("query", query), ("key", key), ("value", value)):
            if a.ndim != 3 or a.shape[-1] != self.embed_dim:
                raise ValueError(f"{name} must have shape (N, length, "
                                 f"embed_dim={self.embed_dim}) or "
                                 f"(length, embed_dim), got {name}.shape={a.shape}")
        if (not (query.shape[0] == key.shape[0] == value.shape[0])
                or key.shape[1] != value.shape[1]):
            raise ValueError("query, key and value need the same batch size and key "
                             "and value the same length, got "
                             f"query.shape={query.shape}, key.shape={key.shape}, "
                             f"value.shape={value.shape}")
        N, L, S = query.shape[0], query.shape[1], key.shape[1]
        mask = self._combined_mask(N, L, S, attn_mask, key_padding_mask, is_causal)
        projected, proj_caches = [], []
        for i, x in enumerate((query, key, value)):
            y, c = linear(x, *self._proj(i))
            projected.append(_split_heads(y, self.num_heads))     # (N, n_h, ·, d/n_h)
            proj_caches.append(c)
        o, attn_cache = scaled_dot_product_attention(*projected, attn_mask=mask)
        self.attn_weights = attn_cache.p
        out = self.out_proj(_merge_heads(o))
        self._cache = (proj_caches, attn_cache, unbatched)
        return out[0] if unbatched else out

    def backward(self, dout: ArrayLike) -> tuple[Array, Array, Array]:
        """Gradients ``(dquery, dkey, dvalue)``; accumulates into every parameter's ``grad``.

        For self-attention (``query``, ``key`` and ``value`` the same array) the gradient w.r.t.
        that array is the sum of the three.
        """
        proj_caches, attn_cache, unbatched = self._require_cache(self._cache)
        dout = as_array(dout, "dout")
        if unbatched:
            dout = dout[None]
        do = _split_heads(self.out_proj.backward(dout), self.num_heads)
        grads = []
        d = self.embed_dim
        for i, dh in enumerate(scaled_dot_product_attention_backward(do, attn_cache)):
            dx, dW, db = linear_backward(_merge_heads(dh), proj_caches[i])
            self.in_proj_weight.grad[:, i * d:(i + 1) * d] += dW
            if self.in_proj_bias is not None:
                self.in_proj_bias.grad[i * d:(i + 1) * d] += db
            grads.append(dx[0] if unbatched else dx)
        return grads[0], grads[1], grads[2]

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, bias={self.in_proj_bias is not None}"
