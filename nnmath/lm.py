r"""A small decoder-only language model: causal self-attention with rotary positions, RMSNorm,
a SwiGLU feed-forward block, tied embeddings, and a key/value cache for generation.

Every piece is a derived pair elsewhere in nnmath (``linear``, ``rope``,
``scaled_dot_product_attention``, ``rms_norm``, ``silu``); the classes here only wire them, so
their ``backward`` methods are the chain rule through that wiring. One block is *pre-norm*:

.. math::

    \begin{aligned}
    h &= x + \operatorname{Attn}(\operatorname{RMSNorm}(x)),\\
    y &= h + \operatorname{FFN}(\operatorname{RMSNorm}(h)),
    \end{aligned}

with the gated feed-forward of Shazeer (2020), :math:`\operatorname{FFN}(u) =
(\operatorname{SiLU}(u W_1) \odot u W_3)\, W_2` (the parameter names of Llama's reference code).

**The key/value cache.** A causal layer's keys and values at position :math:`t` depend only on
tokens :math:`\le t`, so when the model generates token :math:`T+1` the keys and values of the
first :math:`T` positions are the ones computed before. :class:`KVCache` keeps them per layer; a
forward pass with a cache computes queries, keys and values for the *new* positions only, appends
the keys and values, and lets the new queries attend to every cached position — the same logits as
recomputing the whole prefix, at a cost per generated token that grows linearly instead of
quadratically with the sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array
from .activations import silu, silu_backward
from .attention import (_merge_heads, _split_heads, scaled_dot_product_attention,
                        scaled_dot_product_attention_backward)
from .linear import Linear
from .module import Module, Parameter
from .rmsnorm import RMSNorm
from .rng import get_rng
from .rope import rope, rope_backward
from .transformer import Embedding, sinusoidal_positional_encoding

__all__ = ["SwiGLU", "CausalSelfAttention", "DecoderBlock", "DecoderLM", "KVCache"]

Positional = Literal["rope", "learned", "sinusoidal", "none"]


class SwiGLU(Module):
    r"""Gated feed-forward :math:`(\operatorname{SiLU}(xW_1) \odot xW_3)\,W_2` (Shazeer, 2020).

    Parameters ``w1``, ``w3`` (``d_model → d_hidden``) and ``w2`` (``d_hidden → d_model``), no
    biases, as in Llama. Backward: with :math:`a = xW_1`, :math:`b = xW_3`, :math:`g =
    \operatorname{SiLU}(a)` and :math:`\bar u = \bar y W_2^\top`, :math:`\bar b = \bar u \odot g`,
    :math:`\bar a = \operatorname{SiLU}'(a) \odot \bar u \odot b`, and :math:`\bar x` is the sum of
    the two projections' input gradients.
    """

    def __init__(self, d_model: int, d_hidden: int, rng: np.random.Generator | None = None) -> None:
        rng = get_rng(rng)
        self.w1 = Linear(d_model, d_hidden, bias=False, rng=rng)
        self.w3 = Linear(d_model, d_hidden, bias=False, rng=rng)
        self.w2 = Linear(d_hidden, d_model, bias=False, rng=rng)
        self._cache: Any = None

    def forward(self, x: ArrayLike) -> Array:
        g, silu_cache = silu(self.w1(x))
        b = self.w3(x)
        self._cache = (g, b, silu_cache)
        return self.w2(g * b)

    def backward(self, dout: ArrayLike) -> Array:
        g, b, silu_cache = self._require_cache(self._cache)
        du = self.w2.backward(dout)
        return (self.w1.backward(silu_backward(du * b, silu_cache))
                + self.w3.backward(du * g))


@dataclass
class KVCache:
    """Keys and values of every layer for the positions processed so far.

    ``keys[l]`` and ``values[l]`` have shape ``(N, n_heads, length, d_head)`` (keys after the
    rotary embedding). Memory: ``2 · n_layers · N · length · d_model`` numbers.
    """

    keys: list[Array | None] = field(default_factory=list)
    values: list[Array | None] = field(default_factory=list)
    length: int = 0

    def numbers_held(self) -> int:
        return sum(a.size for a in self.keys + self.values if a is not None)


class CausalSelfAttention(Module):
    r"""Multi-head causal self-attention with an optional rotary embedding of queries and keys.

    ``qkv`` projects ``d_model → 3·d_model`` (queries, keys, values stacked), ``proj`` projects
    back; no biases. Query :math:`i` attends to keys :math:`j \le i`. With a :class:`KVCache`
    holding ``P`` earlier positions, the ``T`` new queries sit at positions ``P … P+T-1`` and
    attend to all ``P + T`` keys up to their own position (a bottom-right aligned causal mask).
    """

    def __init__(self, d_model: int, n_heads: int, rope: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        if d_model % n_heads or (rope and (d_model // n_heads) % 2):
            raise ValueError(f"d_model={d_model} must split into n_heads={n_heads} heads "
                             "(of even width with rope)")
        rng = get_rng(rng)
        self.d_model, self.n_heads, self.use_rope = d_model, n_heads, rope
        self.qkv = Linear(d_model, 3 * d_model, bias=False, rng=rng)
        self.proj = Linear(d_model, d_model, bias=False, rng=rng)
        self._cache: Any = None

    def forward(self, x: ArrayLike, cache: KVCache | None = None,
                layer: int = 0) -> Array:
        x = as_array(x, "x")
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (N, T, d_model={self.d_model}), "
                             f"got {x.shape}")
        T = x.shape[1]
        q, k, v = (_split_heads(a, self.n_heads)
                   for a in np.split(self.qkv(x), 3, axis=-1))
        start = cache.length if cache is not None else 0
        positions = np.arange(start, start + T)
        rq = rk = None
        if self.use_rope:
            q, rq = rope(q, positions)
            k, rk = rope(k, positions)
        if cache is not None:
            while len(cache.keys) <= layer:
                cache.keys.append(None)
                cache.values.append(None)
            if cache.keys[layer] is not None:
                k = np.concatenate([cache.keys[layer], k], axis=2)
                v = np.concatenate([cache.values[layer], v], axis=2)
            cache.keys[layer], cache.values[layer] = k, v
        S = k.shape[2]
        if S == T:
            o, attn = scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            # new queries at positions S-T .. S-1 see keys up to their own position
            allowed = np.arange(S)[None, :] <= (S - T) + np.arange(T)[:, None]
            o, attn = scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        self._cache = (attn, rq, rk)
        return self.proj(_merge_heads(o))

    def backward(self, dout: ArrayLike) -> Array:
        attn, rq, rk = self._require_cache(self._cache)
        if attn.k.shape[2] != attn.q.shape[2]:
            raise RuntimeError("backward through a forward pass that used a KVCache is not supported")
        do = _split_heads(self.proj.backward(dout), self.n_heads)
        dq, dk, dv = scaled_dot_product_attention_backward(do, attn)
        if self.use_rope:
            dq, dk = rope_backward(dq, rq), rope_backward(dk, rk)
        stacked = np.concatenate([_merge_heads(dq), _merge_heads(dk), _merge_heads(dv)], axis=-1)
        return self.qkv.backward(stacked)


class DecoderBlock(Module):
    """Pre-norm block: ``h = x + attn(norm1(x))``, ``y = h + ffn(norm2(h))``."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, rope: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        rng = get_rng(rng)
        self.norm1, self.norm2 = RMSNorm(d_model), RMSNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, rope=rope, rng=rng)
        self.ffn = SwiGLU(d_model, d_ff, rng=rng)

    def forward(self, x: ArrayLike, cache: KVCache | None = None,
                layer: int = 0) -> Array:
        h = x + self.attn(self.norm1(x), cache, layer)
        return h + self.ffn(self.norm2(h))

    def backward(self, dout: ArrayLike) -> Array:
        dh = dout + self.norm2.backward(self.ffn.backward(dout))
        return dh + self.norm1.backward(self.attn.backward(dh))


class DecoderLM(Module):
    r"""A decoder-only (GPT-style) language model: logits ``(N, T, vocab_size)`` for token ids
    ``(N, T)``, each position predicting the next token.

    Parameters
    ----------
    vocab_size, d_model, n_heads, n_layers : int
    d_ff : int, optional
        Hidden width of the SwiGLU block; default ``4 * d_model``.
    max_len : int
        Longest sequence (for learned and sinusoidal positions).
    positional : {"rope", "learned", "sinusoidal", "none"}
        How positions enter: rotary embedding of queries and keys in every layer; a learned
        ``(max_len, d_model)`` table added to the token embeddings; the fixed sinusoidal table
        added; or nothing (causal attention alone then still tells a position how many tokens
        precede it only through the content).
    tie_weights : bool
        The output layer is the token embedding, transposed (Press & Wolf, 2017); otherwise a
        separate ``Linear(d_model, vocab_size, bias=False)``.

    Embeddings are drawn :math:`\mathcal N(0, 0.02^2)` (GPT-2's choice: PyTorch's ``Embedding``
    default of :math:`\mathcal N(0, 1)` makes tied logits of size :math:`\sqrt{d}`).
    """

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, n_layers: int,
                 d_ff: int | None = None, max_len: int = 256, positional: Positional = "rope",
                 tie_weights: bool = True, rng: np.random.Generator | None = None) -> None:
        if positional not in ("rope", "learned", "sinusoidal", "none"):
            raise ValueError(f"positional must be 'rope', 'learned', 'sinusoidal' or 'none', "
                             f"got {positional!r}")
        rng = get_rng(rng)
        self.vocab_size, self.d_model, self.max_len = vocab_size, d_model, max_len
        self.positional, self.tie_weights = positional, tie_weights
        self.tok = Embedding(vocab_size, d_model, rng=rng)
        self.tok.weight.data *= 0.02
        self.pos = (Parameter(0.02 * rng.standard_normal((max_len, d_model)))
                    if positional == "learned" else None)
        self._table = sinusoidal_positional_encoding(max_len, d_model) if positional == "sinusoidal" else None
        self.blocks = [DecoderBlock(d_model, n_heads, d_ff or 4 * d_model, rope=positional == "rope",
                                    rng=rng) for _ in range(n_layers)]
        self.norm = RMSNorm(d_model)
        self.head = None if tie_weights else Linear(d_model, vocab_size, bias=False, rng=rng)
        self._cache: Any = None

    def forward(self, tokens: ArrayLike, cache: KVCache | None = None) -> Array:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
            raise TypeError(f"tokens must be an integer array of shape (N, T), got {tokens.dtype} "
                            f"of shape {tokens.shape}")
        start = cache.length if cache is not None else 0
        T = tokens.shape[1]
        if start + T > self.max_len and self.positional in ("learned", "sinusoidal"):
            raise ValueError(f"positions up to {start + T} exceed max_len={self.max_len}")
        x = self.tok(tokens)
        if self.pos is not None:
            x = x + self.pos.data[start:start + T]
        elif self._table is not None:
            x = x + self._table[start:start + T]
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        h = self.norm(x)
        if cache is not None:
            cache.length += T
        self._cache = (h, T)
        W = self.tok.weight.data
        return h @ W.T if self.head is None else self.head(h)

    def backward(self, dlogits: ArrayLike) -> None:
        """Accumulate every parameter's gradient (token ids have none; returns ``None``)."""
        h, T = self._require_cache(self._cache)
        dlogits = as_array(dlogits, "dlogits")
        if self.head is None:
            W = self.tok.weight
            W.grad += np.einsum("ntv,ntd->vd", dlogits, h)   # logits = h W^T
            dh = dlogits @ W.data
        else:
            dh = self.head.backward(dlogits)
        dx = self.norm.backward(dh)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        if self.pos is not None:
            self.pos.grad[:T] += dx.sum(axis=0)
        self.tok.backward(dx)
        return None

    def generate(self, prompt: ArrayLike, max_new_tokens: int, use_cache: bool = True,
                 temperature: float = 0.0, rng: np.random.Generator | None = None
                 ) -> tuple[np.ndarray, list[Array]]:
        """Extend ``prompt`` ``(N, T0)`` by ``max_new_tokens`` tokens.

        ``temperature = 0`` picks the most likely token; otherwise it samples from
        ``softmax(logits / temperature)`` with ``rng``. Returns the tokens ``(N, T0 + new)`` and
        the logits of each generated step (``(N, vocab_size)`` each), so that generation with and
        without the cache can be compared.
        """
        tokens = np.asarray(prompt)
        rng = get_rng(rng)
        cache = KVCache() if use_cache else None
        step_logits: list[Array] = []
        new = tokens
        for _ in range(max_new_tokens):
            logits = self(new if use_cache else tokens, cache)[:, -1]
            step_logits.append(logits)
            if temperature == 0:
                nxt = logits.argmax(axis=-1)
            else:
                z = logits / temperature
                p = np.exp(z - z.max(axis=-1, keepdims=True))
                p /= p.sum(axis=-1, keepdims=True)
                nxt = np.array([rng.choice(self.vocab_size, p=row) for row in p])
            new = nxt[:, None]
            tokens = np.concatenate([tokens, new], axis=1)
        return tokens, step_logits
