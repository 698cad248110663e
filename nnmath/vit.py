r"""A small Vision Transformer (Dosovitskiy et al., 2021), assembled from nnmath's modules.

An image is cut into non-overlapping :math:`P \times P` patches, each flattened patch is mapped
linearly to a :math:`D`-dimensional token, a learned class token is prepended, learned position
embeddings are added, and the sequence goes through Pre-LN transformer encoder layers; the
classifier reads the final class token (or the mean over tokens). In the paper's notation
(their Eq. 1–4), with :math:`x_p^i \in \mathbb R^{P^2 C}` the :math:`i`-th flattened patch:

.. math::

    \begin{aligned}
    z_0 &= [x_{class};\, x_p^1 E;\, \ldots;\, x_p^N E] + E_{pos},\\
    z_\ell &= \mathrm{EncoderLayer}(z_{\ell-1}),\\
    y &= \mathrm{LN}(z_L^0)\,W_{head} + b_{head}.
    \end{aligned}

The only new operations are the patch reshape (:func:`patchify`, a permutation of the pixels,
so its backward is the inverse permutation) and the token bookkeeping (prepending the class
token and adding position embeddings: their gradients are sums over the batch). Everything else
— :class:`~nnmath.linear.Linear`, :class:`~nnmath.transformer.TransformerEncoderLayer`, :class:`~nnmath.normalization.LayerNorm` —
brings its own, already checked, backward pass.

Names follow ``torchvision.models.VisionTransformer`` (``class_token``, ``pos_embedding``,
``encoder_layers``, ``ln``, ``heads``). Differences: the patch embedding is the paper's linear map
on flattened patches (torchvision's ``conv_proj`` is a convolution with kernel = stride = P, the
same function, see :class:`PatchEmbedding`); no dropout; the head has PyTorch's default ``Linear``
initialisation rather than torchvision's zeros, and mean pooling is offered besides the class token.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import init
from ._checks import Array, as_array, check_ndim
from .linear import Linear
from .module import Module, Parameter
from .normalization import LayerNorm
from .rng import get_rng
from .transformer import TransformerEncoderLayer

__all__ = ["patchify", "patchify_backward", "patchify_naive", "PatchEmbedding", "VisionTransformer",
           "PatchifyCache"]


class PatchifyCache(NamedTuple):
    x_shape: tuple[int, int, int, int]  # (N, C, H, W): the backward is the inverse reshape
    patch_size: int                     # P


def _check_image(x: Array, patch_size: int) -> tuple[int, int, int, int]:
    check_ndim(x, 4, "x", "(N, C, H, W) images")
    n, c, h, w = x.shape
    if patch_size < 1 or h % patch_size or w % patch_size:
        raise ValueError(f"patch_size={patch_size} must divide the image height and width, "
                         f"got x.shape={x.shape}")
    return n, c, h, w


def patchify(x: ArrayLike, patch_size: int) -> tuple[Array, PatchifyCache]:
    r"""Cut ``(N, C, H, W)`` images into flattened, non-overlapping patches.

    Patch :math:`i = r\,(W/P) + s` (row-major over the patch grid) holds the pixels
    ``x[n, :, rP:(r+1)P, sP:(s+1)P]`` flattened in ``(C, P, P)`` order — the order in
    which ``Conv2d(C, D, kernel_size=P, stride=P)`` reads its weight, so the two
    embeddings agree.

    Returns
    -------
    out : ndarray of shape (N, H W / P^2, C P^2)
    cache : PatchifyCache
        The input shape and ``P`` (the backward is the inverse reshape; nothing else is
        needed).
    """
    x = as_array(x, "x")
    n, c, h, w = _check_image(x, patch_size)
    p = patch_size
    # (N, C, h, P, w, P) -> (N, h, w, C, P, P): one transpose instead of a loop over
    # patches
    out = (x.reshape(n, c, h // p, p, w // p, p).transpose(0, 2, 4, 1, 3, 5)
           .reshape(n, (h // p) * (w // p), c * p * p))
    return out, PatchifyCache((n, c, h, w), p)


def patchify_backward(dout: ArrayLike, cache: PatchifyCache) -> Array:
    r"""The inverse permutation: every pixel belongs to exactly one patch, so
    :math:`\bar x` is :math:`\bar y` put back in place (the Jacobian is a permutation matrix)."""
    (n, c, h, w), p = cache
    dout = as_array(dout, "dout")
    expected = (n, (h // p) * (w // p), c * p * p)
    if dout.shape != expected:
        raise ValueError(f"dout must have the patches' shape {expected}, got dout.shape={dout.shape}")
    return dout.reshape(n, h // p, w // p, c, p, p).transpose(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)


def patchify_naive(x: ArrayLike, patch_size: int) -> Array:
    """Loop reference for :func:`patchify` (tests and the book): slice out each patch in turn."""
    x = as_array(x, "x")
    n, c, h, w = _check_image(x, patch_size)
    p = patch_size
    patches = [x[:, :, r:r + p, s:s + p].reshape(n, c * p * p) for r in range(0, h, p) for s in range(0, w, p)]
    return np.stack(patches, axis=1)


class PatchEmbedding(Module):
    r"""Patches to tokens: :math:`(N, C, H, W) \to (N, HW/P^2, D)`, each token :math:`x_p^i E + b`.

    ``proj`` is a :class:`~nnmath.linear.Linear` ``(C P^2, D)``. This equals
    ``torch.nn.Conv2d(C, D, kernel_size=P, stride=P)`` followed by ``flatten(2).transpose(1, 2)``
    with conv weight ``proj.weight.T.reshape(D, C, P, P)`` — a convolution whose windows do not
    overlap is a linear map applied to each window.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int,
                 rng: np.random.Generator | None = None) -> None:
        self.in_channels, self.embed_dim, self.patch_size = in_channels, embed_dim, patch_size
        self.proj = Linear(in_channels * patch_size * patch_size, embed_dim, rng=get_rng(rng))
        self._cache: Any = None

    def forward(self, x: ArrayLike) -> Array:
        x = as_array(x, "x")
        check_ndim(x, 4, "x", "(N, C, H, W) images")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels (x.shape={x.shape}) but PatchEmbedding was built "
                             f"for in_channels={self.in_channels}")
        patches, self._cache = patchify(x, self.patch_size)
        return self.proj(patches)

    def backward(self, dout: ArrayLike) -> Array:
        return patchify_backward(self.proj.backward(dout), self._require_cache(self._cache))

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, embed_dim={self.embed_dim}, patch_size={self.patch_size}"


class VisionTransformer(Module):
    r"""A Vision Transformer classifier (``torchvision.models.VisionTransformer``, without dropout).

    Parameters
    ----------
    image_size : int
        Height and width of the (square) input images.
    patch_size : int
        :math:`P`; must divide ``image_size``. The sequence has :math:`(\text{image\_size}/P)^2`
        patch tokens (plus the class token).
    num_layers, num_heads : int
        Encoder depth and attention heads per layer.
    hidden_dim : int
        Token width :math:`D` (divisible by ``num_heads``).
    mlp_dim : int
        Hidden width of each layer's feed-forward network.
    num_classes : int
    in_channels : int
        1 for grey-scale images.
    pool : {"cls", "mean"}
        Classify from the final class token (the paper's choice) or from the mean of all tokens.
    rng : numpy.random.Generator, optional

    Notes
    -----
    Each encoder layer is :class:`~nnmath.transformer.TransformerEncoderLayer` with ``norm_first=True`` (Pre-LN,
    as in ViT) and GELU; every LayerNorm has ``eps=1e-6``, torchvision's value (PyTorch's default
    is 1e-5). Initialisation as torchvision: class token zeros, position embeddings
    :math:`\mathcal N(0, 0.02^2)`. ``forward`` caches only the token count and pooling mode; every
    sub-module caches its own inputs.
    """

    def __init__(self, image_size: int, patch_size: int, num_layers: int, num_heads: int, hidden_dim: int,
                 mlp_dim: int, num_classes: int = 10, in_channels: int = 1,
                 pool: Literal["cls", "mean"] = "cls", rng: np.random.Generator | None = None) -> None:
        if image_size % patch_size:
            raise ValueError(f"patch_size={patch_size} must divide image_size={image_size}")
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        rng = get_rng(rng)
        self.image_size, self.patch_size, self.hidden_dim, self.pool = image_size, patch_size, hidden_dim, pool
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.patch_embed = PatchEmbedding(in_channels, hidden_dim, patch_size, rng=rng)
        self.class_token = Parameter(np.zeros((1, 1, hidden_dim)))
        self.pos_embedding = init.normal_(Parameter(np.zeros((1, self.seq_length, hidden_dim))), std=0.02, rng=rng)
        self.encoder_layers = [TransformerEncoderLayer(hidden_dim, num_heads, mlp_dim, activation="gelu",
                                                       layer_norm_eps=1e-6, norm_first=True, rng=rng)
                               for _ in range(num_layers)]
        self.ln = LayerNorm(hidden_dim, eps=1e-6)
        self.heads = Linear(hidden_dim, num_classes, rng=rng)
        self._cache: Any = None

    def forward(self, x: ArrayLike) -> Array:
        """``(N, C, image_size, image_size)`` images → ``(N, num_classes)`` logits."""
        x = as_array(x, "x")
        check_ndim(x, 4, "x", "(N, C, H, W) images")
        if x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"x must be {self.image_size}x{self.image_size} images, got x.shape={x.shape}")
        tokens = self.patch_embed(x)                                           # (N, T, D)
        cls = np.broadcast_to(self.class_token.data, (len(x), 1, self.hidden_dim))
        h = np.concatenate([cls, tokens], axis=1) + self.pos_embedding.data    # (N, T + 1, D)
        for layer in self.encoder_layers:
            h = layer(h)
        h = self.ln(h)
        self._cache = h.shape
        feature = h[:, 0] if self.pool == "cls" else h.mean(axis=1)
        return self.heads(feature)

    def backward(self, dout: ArrayLike) -> Array:
        """Gradient w.r.t. the images; accumulates every parameter's gradient."""
        shape = self._require_cache(self._cache)
        dfeature = self.heads.backward(dout)
        if self.pool == "cls":
            dh = np.zeros(shape)
            dh[:, 0] = dfeature                     # only the class token was read
        else:
            # the mean's gradient
            dh = np.broadcast_to(dfeature[:, None, :] / shape[1], shape).copy()
        dh = self.ln.backward(dh)
        for layer in reversed(self.encoder_layers):
            dh = layer.backward(dh)
        # both were broadcast over the batch: their gradients are sums over it
        self.pos_embedding.grad += dh.sum(axis=0, keepdims=True)
        self.class_token.grad += dh[:, :1].sum(axis=0, keepdims=True)
        return self.patch_embed.backward(dh[:, 1:])

    def extra_repr(self) -> str:
        return (f"image_size={self.image_size}, patch_size={self.patch_size}, hidden_dim={self.hidden_dim}, "
                f"seq_length={self.seq_length}, pool={self.pool!r}")
