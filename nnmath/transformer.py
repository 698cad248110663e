r"""The pieces of a transformer encoder: positions, token embeddings and the encoder layer.

* :func:`sinusoidal_positional_encoding` and :class:`PositionalEncoding` — the fixed encoding of
  Vaswani et al. (2017), :math:`PE_{t,2i} = \sin(t/10000^{2i/d})`,
  :math:`PE_{t,2i+1} = \cos(t/10000^{2i/d})`, added to the token embeddings.
* :func:`embedding` / :class:`Embedding` — a lookup table; its backward *scatter-adds* the
  upstream gradient into the rows that were looked up (``np.add.at``: a token that appears twice
  collects both gradients).
* :class:`TransformerEncoderLayer` — self-attention and a position-wise feed-forward network, each
  inside a residual connection, with layer normalization after the addition (Post-LN, the
  original transformer and PyTorch's default) or at the start of each branch (Pre-LN,
  ``norm_first=True``). It is assembled from :class:`~nnmath.attention.MultiheadAttention`,
  :class:`~nnmath.linear.Linear` and :class:`~nnmath.normalization.LayerNorm`, so its backward pass is
  nothing but theirs, chained, plus the identity path of each residual addition.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array
from .activations import GELU, ReLU
from .attention import MultiheadAttention
from .linear import Linear
from .module import Module, Parameter
from .normalization import LayerNorm
from .rng import get_rng

__all__ = [
    "sinusoidal_positional_encoding", "PositionalEncoding", "embedding", "embedding_backward", "Embedding",
    "TransformerEncoderLayer", "EmbeddingCache",
]


# --- positions ------------------------------------------------------------------------------
def sinusoidal_positional_encoding(length: int, d_model: int) -> Array:
    r"""The ``(length, d_model)`` table :math:`PE_{t,2i} = \sin(t\,\omega_i)`,
    :math:`PE_{t,2i+1} = \cos(t\,\omega_i)` with :math:`\omega_i = 10000^{-2i/d}`.

    Each pair of columns is a rotation at its own frequency, so :math:`PE_{t+k}` is a fixed linear
    function of :math:`PE_t` for every offset :math:`k` — the property Vaswani et al. chose it for.
    An odd ``d_model`` drops the last cosine column. Same values as the PyTorch tutorial's
    ``PositionalEncoding`` (which PyTorch itself does not ship).
    """
    if length < 0 or d_model <= 0:
        raise ValueError(f"need length >= 0 and d_model > 0, got length={length}, d_model={d_model}")
    t = np.arange(length, dtype=np.float64)[:, None]
    omega = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))   # 10000^(-2i/d)
    pe = np.empty((length, d_model))
    pe[:, 0::2] = np.sin(t * omega)
    pe[:, 1::2] = np.cos(t * omega[: d_model // 2])
    return pe


class PositionalEncoding(Module):
    """Add :func:`sinusoidal_positional_encoding` to ``(N, L, d_model)`` embeddings.

    No parameters; the backward pass is the identity (the encoding is a constant). Unlike the
    PyTorch tutorial's module there is no dropout and the layout is batch-first.
    """

    def __init__(self, d_model: int, max_len: int = 5000) -> None:
        self.d_model, self.max_len = d_model, max_len
        self.pe = sinusoidal_positional_encoding(max_len, d_model)

    def forward(self, x: ArrayLike) -> Array:
        x = as_array(x, "x")
        if x.ndim < 2 or x.shape[-1] != self.d_model or x.shape[-2] > self.max_len:
            raise ValueError(f"x must have shape (..., L <= max_len={self.max_len}, d_model={self.d_model}), "
                             f"got x.shape={x.shape}")
        return x + self.pe[: x.shape[-2]]

    def backward(self, dout: ArrayLike) -> Array:
        return as_array(dout, "dout")

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


# --- token embeddings -----------------------------------------------------------------------
def _check_indices(indices: ArrayLike, num_embeddings: int) -> np.ndarray:
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"embedding indices must be integers, got dtype={idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_embeddings):
        raise ValueError(f"embedding indices must lie in [0, {num_embeddings}) for a table of "
                         f"{num_embeddings} rows, got min {idx.min()} and max {idx.max()}")
    return idx


class EmbeddingCache(NamedTuple):
    indices: np.ndarray             # the rows looked up: the gradient is scattered back to them
    weight_shape: tuple[int, int]   # (num_embeddings, embedding_dim): the gradient's shape


def embedding(indices: ArrayLike, weight: ArrayLike) -> tuple[Array, EmbeddingCache]:
    r"""Look up rows: ``out[..., :] = weight[indices[...], :]`` (``torch.nn.functional.embedding``).

    Parameters
    ----------
    indices : array_like of int, any shape ``(...)``
    weight : array_like of shape (num_embeddings, embedding_dim)

    Returns
    -------
    out : ndarray of shape (..., embedding_dim)
    cache : EmbeddingCache
        ``(indices, weight.shape)`` — the backward only needs to know where to scatter.
    """
    weight = as_array(weight, "weight")
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D (num_embeddings, embedding_dim), got weight.shape={weight.shape}")
    idx = _check_indices(indices, weight.shape[0])
    return weight[idx], EmbeddingCache(idx, weight.shape)


def embedding_backward(dout: ArrayLike, cache: EmbeddingCache) -> Array:
    r"""The gradient w.r.t. ``weight``: :math:`\bar W_r = \sum_{t:\,\text{idx}_t = r} \bar y_t`.

    ``np.add.at`` accumulates over repeated indices; ``dW[idx] += dout`` would not — NumPy's
    buffered fancy-index assignment keeps only the last write for a repeated row. (There is no
    gradient for the integer indices.)
    """
    idx, shape = cache
    dout = as_array(dout, "dout")
    if dout.shape != idx.shape + (shape[1],):
        raise ValueError(f"dout must have the output's shape {idx.shape + (shape[1],)}, got dout.shape={dout.shape}")
    dW = np.zeros(shape)
    np.add.at(dW, idx, dout)
    return dW


class Embedding(Module):
    r"""``torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None)``.

    ``weight`` is initialised :math:`\mathcal N(0, 1)` as in PyTorch; the row ``padding_idx`` (if
    given) starts at zero and receives no gradient. ``backward`` accumulates into ``weight.grad``
    and returns ``None``: integer inputs have no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {padding_idx}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = None if padding_idx is None else padding_idx % num_embeddings
        self.weight = Parameter(get_rng(rng).standard_normal((num_embeddings, embedding_dim)))
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0.0
        self._cache: Any = None

    def forward(self, indices: ArrayLike) -> Array:
        out, self._cache = embedding(indices, self.weight.data)
        return out

    def backward(self, dout: ArrayLike) -> None:
        dW = embedding_backward(dout, self._require_cache(self._cache))
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0.0
        self.weight.grad += dW
        return None

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


# --- the encoder layer ----------------------------------------------------------------------
class TransformerEncoderLayer(Module):
    r"""``torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0,
    activation, norm_first, batch_first=True)``.

    With :math:`\mathrm{SA}(x) = \mathrm{MHA}(x, x, x)` and the position-wise feed-forward network
    :math:`\mathrm{FF}(x) = \phi(xW_1 + b_1)W_2 + b_2`:

    .. math::

        \begin{aligned}
        \text{Post-LN:}\quad & h = \mathrm{LN}_1(x + \mathrm{SA}(x)),\\
            & y = \mathrm{LN}_2(h + \mathrm{FF}(h)) \\
        \text{Pre-LN:}\quad & h = x + \mathrm{SA}(\mathrm{LN}_1(x)),\\
            & y = h + \mathrm{FF}(\mathrm{LN}_2(h))
        \end{aligned}

    Parameters
    ----------
    d_model, nhead : int
        Width and number of attention heads.
    dim_feedforward : int
        Hidden width of the feed-forward network (PyTorch's default 2048).
    activation : {"relu", "gelu"} or Module
        :math:`\phi` (PyTorch's default ``"relu"``).
    layer_norm_eps : float
    norm_first : bool
        Pre-LN if True, Post-LN (PyTorch's default) if False.
    bias : bool
        Biases in the linear maps and the layer norms.
    rng : numpy.random.Generator, optional

    Notes
    -----
    The sub-modules carry PyTorch's names — ``self_attn``, ``linear1``, ``linear2``, ``norm1``,
    ``norm2`` — so parameters map one to one (transposing the weights, nnmath's ``(in, out)``
    layout). As in PyTorch, the wiring is written out in ``forward`` (``_sa_block``, ``_ff_block``)
    and the masks are passed to the self-attention block as arguments. Differences from PyTorch: no
    dropout, always batch-first ``(N, L, d_model)``, and masks as in :class:`~nnmath.attention.MultiheadAttention`
    (``src_mask`` True = blocked, ``src_key_padding_mask`` True = padding).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, activation: str | Module = "relu",
                 layer_norm_eps: float = 1e-5, norm_first: bool = False, bias: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        rng = get_rng(rng)
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise ValueError(f"activation must be 'relu', 'gelu' or a Module, got {activation!r}")
            activation = ReLU() if activation == "relu" else GELU()
        self.norm_first = norm_first
        self.self_attn = MultiheadAttention(d_model, nhead, bias=bias, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng)
        self.activation = activation
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)

    def forward(self, src: ArrayLike, src_mask: ArrayLike | None = None,
                src_key_padding_mask: ArrayLike | None = None, is_causal: bool = False) -> Array:
        """``(N, L, d_model)`` → ``(N, L, d_model)``; masks as in :class:`~nnmath.attention.MultiheadAttention`."""
        x = as_array(src, "src")
        if self.norm_first:   # h = x + SA(LN1(x)), y = h + FF(LN2(h))
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        # Post-LN: h = LN1(x + SA(x)), y = LN2(h + FF(h))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Array, attn_mask: ArrayLike | None, key_padding_mask: ArrayLike | None,
                  is_causal: bool) -> Array:
        return self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                              is_causal=is_causal)

    def _ff_block(self, x: Array) -> Array:
        return self.linear2(self.activation(self.linear1(x)))

    def _ff_block_backward(self, dout: Array) -> Array:
        return self.linear1.backward(self.activation.backward(self.linear2.backward(dout)))

    def backward(self, dout: ArrayLike) -> Array:
        """Gradient w.r.t. ``src``; accumulates every parameter's gradient.

        Each residual addition sends the upstream gradient both ways, straight on and
        through its branch; self-attention's input fed the query, key and value
        projections, so its gradient is the sum of the three that ``self_attn.backward``
        returns.
        """
        dout = as_array(dout, "dout")
        if self.norm_first:   # y = h + FF(LN2(h)), h = x + SA(LN1(x))
            dh = dout + self.norm2.backward(self._ff_block_backward(dout))
            return dh + self.norm1.backward(sum(self.self_attn.backward(dh)))
        dh = self.norm2.backward(dout)                  # y = LN2(h + FF(h))
        dh = dh + self._ff_block_backward(dh)
        dx = self.norm1.backward(dh)                    # h = LN1(x + SA(x))
        return dx + sum(self.self_attn.backward(dx))

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}"
