r"""Convolution and pooling in NCHW, with PyTorch's layouts, names and defaults.

What ``torch.nn.functional.conv2d`` computes — and what this module computes — is a
**cross-correlation**: with input :math:`x` of shape ``(N, C_in, H, W)``, weight :math:`w` of shape
``(C_out, C_in, kH, kW)``, stride :math:`s`, zero padding :math:`p` and dilation :math:`d`,

.. math::

    \begin{aligned}
    y_{n,o,i,j} &= b_o + \sum_{c}\sum_{u=0}^{kH-1}\sum_{v=0}^{kW-1} w_{o,c,u,v}\\
    &\qquad x^{\mathrm{pad}}_{n,\,c,\,s_h i + d_h u,\,s_w j + d_w v},
    \end{aligned}

with output size :math:`\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1` per spatial axis
(:func:`conv_output_size`). A true convolution flips the kernel; :func:`convolve2d` and
:func:`correlate2d` are the two single-channel operations side by side (SciPy's semantics).

The fast path is **im2col** (Chellapilla et al., 2006): copy every receptive field into a column
(:func:`im2col`, identical to ``torch.nn.functional.unfold``), after which the convolution is one
(batched) matrix product ``w.reshape(C_out, -1) @ cols``. The backward pass is the transpose of
each step:

.. math::

    \begin{aligned}
    \bar w &= \textstyle\sum_n \bar y_n\,\mathrm{cols}_n^\top,\\
    \bar b_o &= \textstyle\sum_{n,i,j} \bar y_{n,o,i,j},\\
    \bar x &= \mathrm{col2im}\bigl(w^\top \bar y\bigr),
    \end{aligned}

where :func:`col2im` (``torch.nn.functional.fold``) *adds* every column entry back onto the pixel it
was copied from. Windows overlap whenever the stride is smaller than the (dilated) kernel, so a
pixel receives several contributions; col2im therefore accumulates one kernel offset at a time with
basic slices (the targets of one offset are distinct), never with ``+=`` on fancy indices, which
silently keeps only one of the duplicates. For stride 1 the result equals a *full* convolution of
the upstream gradient with the flipped kernel — the book's convolution chapter derives both forms.

Where the time goes (``benchmarks/conv.py`` compares with PyTorch's CPU convolution): the three
matrix products — forward, weight gradient, column gradient — run in BLAS and take most of it; the
rest is im2col's one copy and col2im's :math:`k_h k_w` slice additions, which NumPy runs on one
thread. The weight gradient reuses the columns cached by the forward pass, and col2im adds straight
into the unpadded image. When BLAS may use several threads, forward and backward each cut the batch
into one chunk per thread and run every step of a chunk on its own thread, with BLAS single-threaded
inside (``nnmath/_parallel.py``, PyTorch's ``parallel_for`` over the batch): that parallelises the
copies and slice additions too, where threaded BLAS alone sped up only the products. Cutting the
batch into chunks on *one* thread, to keep each chunk's columns in cache, was measured too and
gained nothing outside the 5x5 first layer. What remains between nnmath and PyTorch is mostly the
BLAS: the benchmark's second table times the forward's matrix product alone in both libraries, and
for the small products of a stride-2 layer NumPy's OpenBLAS is the slower one. Measured and rejected: the input gradient as a transposed convolution (one
product over an im2col of the padded upstream gradient, a matrix :math:`C_{out}/C_{in}` times larger
than the forward's columns), ``einsum``/``tensordot`` (they copy the columns into a 2-D layout
first), and one product over the whole batch in a ``(C_in kH kW, N OH OW)`` layout (the transposing
copies of the output and the upstream gradient cost what it saves).

Pooling reuses the same machinery on one channel at a time: a window's max (or mean) over the
columns, and col2im to send the gradient back to the arg-max (or spread it evenly).

Differences from PyTorch, deliberately left out to keep the code short: no ``groups``, only zero
padding (``padding_mode='zeros'``), and no ``ceil_mode``/``divisor_override`` in pooling.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import ArrayLike

from . import init
from ._parallel import over_batch
from ._checks import Array, as_array, check_dim_match, check_ndim
from .module import FunctionalModule, Module, Parameter
from .rng import get_rng

__all__ = [
    "conv_output_size", "correlate2d", "convolve2d", "im2col", "col2im",
    "conv2d", "conv2d_backward", "conv2d_naive", "conv2d_backward_naive",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
    "ConvCache", "MaxPoolCache", "AvgPoolCache",
]

IntPair = int | tuple[int, int]
Padding = int | tuple[int, int] | Literal["valid", "same"]


# --- geometry ------------------------------------------------------------------------------
def _pair(v: IntPair, name: str, minimum: int) -> tuple[int, int]:
    """``v`` or ``(v, v)`` as a pair of ints ``>= minimum`` (PyTorch's ``_pair``)."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(a, (int, np.integer)) for a in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v!r}")
    return int(pair[0]), int(pair[1])


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    r"""Length of a convolution's (or pooling's) output along one axis.

    A dilated kernel spans :math:`d(k-1)+1` inputs; it fits at offsets
    :math:`0, s, 2s, \dots` as long as it stays inside the :math:`n + 2p` padded inputs, hence

    .. math:: n_{\text{out}} = \Bigl\lfloor \frac{n + 2p - d(k-1) - 1}{s} \Bigr\rfloor + 1 .

    This is the formula in the documentation of ``torch.nn.Conv2d`` (Dumoulin & Visin, 2016,
    relationship 15).

    Raises
    ------
    ValueError
        If the dilated kernel is larger than the padded input (no position fits).
    """
    if min(n, k, stride, dilation) < 1 or padding < 0:
        raise ValueError(f"need n, k, stride, dilation >= 1 and padding >= 0, got n={n}, k={k}, "
                         f"stride={stride}, padding={padding}, dilation={dilation}")
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ValueError(f"kernel of size {k} (dilation {dilation}: spans {span}) is larger than the "
                         f"padded input of size {n} + 2*{padding} = {n + 2 * padding}")
    return (n + 2 * padding - span) // stride + 1


class _Geometry:
    """Everything about a sliding window over an ``(N, C, H, W)`` input except the values.

    ``pads`` is ``(top, bottom, left, right)``: symmetric except for ``padding='same'`` with an
    even dilated kernel, where PyTorch puts the extra row/column at the bottom/right.
    """

    def __init__(self, x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                 pads: tuple[int, int, int, int], dilation: tuple[int, int]) -> None:
        self.x_shape, self.kernel, self.stride, self.pads, self.dilation = x_shape, kernel, stride, pads, dilation
        H, W = x_shape[-2:]
        pt, pb, pl, pr = pads
        spans = [dilation[a] * (kernel[a] - 1) + 1 for a in range(2)]
        if spans[0] > H + pt + pb or spans[1] > W + pl + pr:
            raise ValueError(
                f"kernel {kernel[0]}x{kernel[1]} (dilation {dilation}: spans {spans[0]}x{spans[1]}) is larger "
                f"than the padded input {H + pt + pb}x{W + pl + pr}: input shape {tuple(x_shape)}, "
                f"padding (top, bottom, left, right) = {pads}")
        self.out_hw = ((H + pt + pb - spans[0]) // stride[0] + 1, (W + pl + pr - spans[1]) // stride[1] + 1)

    @classmethod
    def build(cls, x_shape: tuple[int, ...], kernel: IntPair, stride: IntPair, padding: Padding,
              dilation: IntPair) -> _Geometry:
        k = _pair(kernel, "kernel_size", 1)
        s = _pair(stride, "stride", 1)
        d = _pair(dilation, "dilation", 1)
        if isinstance(padding, str):
            if padding == "valid":
                pads = (0, 0, 0, 0)
            elif padding == "same":
                if s != (1, 1):
                    raise ValueError(f"padding='same' needs stride 1 (as in PyTorch), got stride={stride!r}")
                tot = [d[a] * (k[a] - 1) for a in range(2)]
                pads = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
            else:
                raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        else:
            p = _pair(padding, "padding", 0)
            pads = (p[0], p[0], p[1], p[1])
        return cls(x_shape, k, s, pads, d)

    def pad(self, x: Array, value: float = 0.0) -> Array:
        """``x`` inside a border of ``value`` (``np.pad``'s result; ``np.full`` plus one copy is several
        times faster for the small images of a CNN, where ``np.pad``'s Python overhead dominates)."""
        pt, pb, pl, pr = self.pads
        if not any(self.pads):
            return x
        N, C, H, W = x.shape
        xp = np.full((N, C, H + pt + pb, W + pl + pr), value, dtype=x.dtype)
        xp[:, :, pt:pt + H, pl:pl + W] = x
        return xp

    def unpad(self, xp: Array) -> Array:
        """Crop the padding off (explicit end indices: ``xp[p:-p]`` would be empty for ``p = 0``)."""
        pt, pb, pl, pr = self.pads
        return xp[:, :, pt:xp.shape[2] - pb, pl:xp.shape[3] - pr]


def _im2col(x: Array, g: _Geometry, value: float = 0.0,
            out: Array | None = None) -> Array:
    """Columns ``(N, C*kH*kW, OH*OW)`` of ``x`` (padded with ``value``), ordered like
    ``F.unfold``; written into ``out`` (C-contiguous, that shape) if given."""
    xp = g.pad(x, value)
    N, C = xp.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out_hw
    sN, sC, sH, sW = xp.strides
    # a read-only view: axis (u, v) walks the kernel taps, axis (i, j) the output
    # positions
    windows = as_strided(xp, shape=(N, C, kh, kw, OH, OW),
                         strides=(sN, sC, dh * sH, dw * sW, sh * sH, sw * sW),
                         writeable=False)
    if out is None:
        # the reshape copies: one column per window
        return windows.reshape(N, C * kh * kw, OH * OW)
    # the same one copy, into the caller's array
    out.reshape(windows.shape)[...] = windows
    return out


def _inside(start: int, step: int, n_out: int, n: int) -> tuple[slice, slice]:
    """The output positions ``i < n_out`` whose input index ``start + step*i`` lies in ``[0, n)``
    (not in the padding), as ``(input slice, output slice)``; both empty if there are none."""
    first = max(0, -(start // step))                    # smallest i with start + step*i >= 0
    stop = min(n_out, (n - start + step - 1) // step)   # first i with start + step*i >= n
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    return slice(start + step * first, start + step * (stop - 1) + 1, step), slice(first, stop)


def _taps(g: _Geometry) -> Iterator[tuple[int, int, tuple[slice, slice], tuple[slice, slice]]]:
    """Every kernel tap ``(u, v)`` with the pixels it reads, ``(rows, cols)`` of the unpadded image,
    and the output positions ``(i, j)`` that read them; taps that only ever see padding are skipped."""
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out_hw
    H, W = g.x_shape[-2:]
    pt, _, pl, _ = g.pads
    for u in range(kh):
        rows, i = _inside(u * dh - pt, sh, OH, H)
        for v in range(kw):
            cols_v, j = _inside(v * dw - pl, sw, OW, W)
            if rows.start != rows.stop and cols_v.start != cols_v.stop:
                yield u, v, (rows, cols_v), (i, j)


def _col2im(cols: Array, g: _Geometry, out: Array | None = None) -> Array:
    """Adjoint of :func:`_im2col`: add each column entry back onto its pixel (entries
    that were copied from the padding have no pixel and are dropped); into ``out``
    (overwritten) if given."""
    # N from the data: a chunk of the batch works
    (C, H, W), N = g.x_shape[1:], cols.shape[0]
    (kh, kw), (OH, OW) = g.kernel, g.out_hw
    cols = cols.reshape(N, C, kh, kw, OH, OW)
    out = _zeros((N, C, H, W), cols.dtype, out)
    # One kernel tap (u, v) at a time: its targets are distinct pixels, so a basic-slice
    # `+=` is exact; different taps that hit the same pixel are summed by successive
    # iterations. Each tap adds only the windows for which it lands inside the image,
    # straight into the unpadded result: no padded buffer to allocate, crop and copy.
    for u, v, (rows, cols_v), (i, j) in _taps(g):
        out[:, :, rows, cols_v] += cols[:, :, u, v, i, j]
    return out


_TAPWISE_MIN_CHANNELS = 8   # below this C_in, one (N, C_in kH kW, P) product and col2im are faster


def _zeros(shape: tuple[int, ...], dtype: np.dtype, out: Array | None) -> Array:
    if out is None:
        return np.zeros(shape, dtype=dtype)
    out[...] = 0
    return out


def _col2im_matmul(weight: Array, dout: Array, g: _Geometry, out: Array | None = None) -> Array:
    r"""``_col2im`` of :math:`w^\top \bar y` (``weight`` ``(C_out, C_in, kH, kW)``, ``dout``
    ``(N, C_out, OH*OW)``) without forming that ``(N, C_in kH kW, OH OW)`` column gradient: the rows
    of :math:`w^\top \bar y` for tap ``(u, v)`` are :math:`w_{:,:,u,v}^\top \bar y`, so each tap's
    product is computed just before col2im adds it in. The same multiply-adds; the difference is
    memory — one ``(N, C_in, OH*OW)`` block at a time, which stays in cache, instead of an array
    :math:`k_h k_w` times larger that is written once and read once (and, above glibc's
    threshold, mapped fresh and page-faulted on every call)."""
    (C, H, W), N = g.x_shape[1:], dout.shape[0]
    OH, OW = g.out_hw
    per_tap = np.ascontiguousarray(weight.transpose(2, 3, 1, 0))      # (kH, kW, C_in, C_out)
    out = _zeros((N, C, H, W), np.result_type(weight, dout), out)
    for u, v, (rows, cols_v), (i, j) in _taps(g):
        out[:, :, rows, cols_v] += (per_tap[u, v] @ dout).reshape(N, C, OH, OW)[:, :, i, j]
    return out


def im2col(x: ArrayLike, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0,
           stride: IntPair = 1) -> Array:
    r"""Unfold every receptive field of ``x`` into a column: ``torch.nn.functional.unfold``.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    kernel_size, dilation, padding, stride : int or pair of ints
        In ``F.unfold``'s order and with its defaults; zero padding.

    Returns
    -------
    cols : ndarray of shape (N, C*kH*kW, OH*OW)
        ``cols[n, (c*kH + u)*kW + v, i*OW + j] = x_pad[n, c, s_h i + d_h u, s_w j + d_w v]``.
    """
    x = as_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    return _im2col(x, _Geometry.build(x.shape, kernel_size, stride, padding, dilation))


def col2im(cols: ArrayLike, output_size: IntPair, kernel_size: IntPair, dilation: IntPair = 1,
           padding: IntPair = 0, stride: IntPair = 1) -> Array:
    r"""Sum columns back into an image: ``torch.nn.functional.fold``, the adjoint of :func:`im2col`.

    :math:`\langle \mathrm{im2col}(x), c\rangle = \langle x, \mathrm{col2im}(c)\rangle` for all
    :math:`x, c`, which is exactly why it is the backward of im2col. A pixel covered by several
    windows receives the sum of their entries.

    Parameters
    ----------
    cols : array_like of shape (N, C*kH*kW, L)
    output_size : int or pair
        ``(H, W)`` of the image; ``L`` must equal ``OH*OW`` for this geometry.

    Returns
    -------
    ndarray of shape (N, C, H, W)
    """
    cols = as_array(cols, "cols")
    check_ndim(cols, 3, "cols", "(N, C*kH*kW, L)")
    H, W = _pair(output_size, "output_size", 1)
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    if cols.shape[1] % (kh * kw):
        raise ValueError(f"cols.shape={cols.shape}: axis 1 must be a multiple of kH*kW = {kh * kw}")
    g = _Geometry.build((cols.shape[0], cols.shape[1] // (kh * kw), H, W), (kh, kw), stride, padding, dilation)
    if cols.shape[2] != g.out_hw[0] * g.out_hw[1]:
        raise ValueError(f"cols.shape={cols.shape} has {cols.shape[2]} windows, but a {kh}x{kw} kernel "
                         f"over a {H}x{W} image gives {g.out_hw[0]}x{g.out_hw[1]}")
    return _col2im(cols, g)


# --- single-channel correlation and convolution ---------------------------------------------
def _single_channel(image: ArrayLike, kernel: ArrayLike, mode: str, flip: bool) -> Array:
    image, kernel = as_array(image, "image"), as_array(kernel, "kernel")
    check_ndim(image, 2, "image")
    check_ndim(kernel, 2, "kernel")
    if flip:
        kernel = kernel[::-1, ::-1]
    kh, kw = kernel.shape
    if mode == "valid":
        pads = (0, 0, 0, 0)
    elif mode == "full":
        pads = (kh - 1, kh - 1, kw - 1, kw - 1)
    elif mode == "same":
        # centred on the 'full' output as SciPy does; for an even kernel the flip moves the centre
        top, left = (kh // 2, kw // 2) if flip else ((kh - 1) // 2, (kw - 1) // 2)
        pads = (top, kh - 1 - top, left, kw - 1 - left)
    else:
        raise ValueError(f"mode must be 'valid', 'full' or 'same', got {mode!r}")
    g = _Geometry(image[None, None].shape, (kh, kw), (1, 1), pads, (1, 1))
    return (kernel.reshape(1, -1) @ _im2col(image[None, None], g)[0]).reshape(g.out_hw)


def correlate2d(image: ArrayLike, kernel: ArrayLike, mode: Literal["valid", "full", "same"] = "valid") -> Array:
    r"""Cross-correlation of one 2-D image with one 2-D kernel (``scipy.signal.correlate2d``):

    .. math::

        \begin{aligned}
        &(I \star K)[i, j]\\
        &\quad = \sum_{u}\sum_{v} I[i + u, j + v]\, K[u, v].
        \end{aligned}

    The kernel is *not* flipped; this is what CNN layers (and many hand-written ``convolve2d`` loops)
    compute. ``mode`` is ``'valid'`` (only positions where the kernel fits), ``'full'`` (every
    overlap: zero padding :math:`k-1` on each side) or ``'same'`` (the size of ``image``, centred
    like SciPy; for odd kernels this is ``conv2d(..., padding='same')``).
    """
    return _single_channel(image, kernel, mode, flip=False)


def convolve2d(image: ArrayLike, kernel: ArrayLike, mode: Literal["valid", "full", "same"] = "valid") -> Array:
    r"""True 2-D convolution (``scipy.signal.convolve2d``): cross-correlation with the flipped kernel,

    .. math::

        \begin{aligned}
        &(I * K)[i, j]\\
        &\quad = \sum_{m}\sum_{n} I[i - m, j - n]\, K[m, n]\\
        &\quad = (I \star K^{\leftrightarrow\updownarrow})[i, j].
        \end{aligned}

    Unlike correlation it is commutative and associative, which is what the backward pass of a
    convolution layer is written in. Same modes as :func:`correlate2d`.
    """
    return _single_channel(image, kernel, mode, flip=True)


# --- conv2d ---------------------------------------------------------------------------------
class ConvCache(NamedTuple):
    cols: Array                 # im2col(x), (N, C_in*kH*kW, OH*OW): the weight gradient reads it again
    weight: Array               # (C_out, C_in, kH, kW): the input gradient is col2im(w^T dy)
    has_bias: bool              # whether to return dbias or None
    geometry: _Geometry         # sizes, stride, padding, dilation of the sliding window


class ConvNaiveCache(NamedTuple):
    xp: Array                   # the padded input: the loops read each window from it
    weight: Array
    has_bias: bool
    geometry: _Geometry


def _check_conv_args(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None) -> tuple[Array, Array, Array | None]:
    x, weight = as_array(x, "x"), as_array(weight, "weight")
    check_ndim(x, 4, "x", "(N, C_in, H, W)")
    check_ndim(weight, 4, "weight", "(C_out, C_in, kH, kW)")
    check_dim_match(x, 1, weight, 1, "x", "weight")
    if weight.shape[0] == 0:    # as PyTorch: a layer without output channels is an error
        raise ValueError(f"weight must have at least one output channel, got weight.shape={weight.shape}")
    if bias is not None:
        bias = as_array(bias, "bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},) to match weight.shape={weight.shape}, "
                             f"got bias.shape={bias.shape}")
    return x, weight, bias


def _check_dout(dout: ArrayLike, expected: tuple[int, ...]) -> Array:
    dout = as_array(dout, "dout")
    if dout.shape != expected:
        raise ValueError(f"dout must have the output's shape {expected}, got dout.shape={dout.shape}")
    return dout


def conv2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1
           ) -> tuple[Array, ConvCache]:
    r"""2-D convolution layer (a cross-correlation), ``torch.nn.functional.conv2d``
    without groups.

    .. math::

        \begin{aligned}
        y_{n,o,i,j} &= b_o + \sum_{c,u,v} w_{o,c,u,v}\\
        &\qquad x^{\mathrm{pad}}_{n,c,s_h i + d_h u, s_w j + d_w v}
        \end{aligned}

    computed as ``w.reshape(C_out, -1) @ im2col(x)``: one matrix product per sample, in
    a single broadcast ``matmul`` call.

    Parameters
    ----------
    x : array_like of shape (N, C_in, H, W)
    weight : array_like of shape (C_out, C_in, kH, kW)
        PyTorch's layout.
    bias : array_like of shape (C_out,), optional
    stride, dilation : int or pair of ints
    padding : int, pair of ints, ``'valid'`` or ``'same'``
        Zeros added on both sides; ``'same'`` (stride 1 only) pads so that the output
        has the input's size, with the extra row/column at the bottom/right for an even
        dilated kernel, as PyTorch.

    Returns
    -------
    out : ndarray of shape (N, C_out, OH, OW)
        ``OH = conv_output_size(H, kH, s_h, p_h, d_h)``, likewise ``OW``.
    cache : ConvCache
        ``(cols, weight, has_bias, geometry)``. The columns are kept because the weight
        gradient needs every receptive field again; rebuilding them would cost a second
        im2col, keeping them costs kH*kW times the input's memory.

    Raises
    ------
    ValueError
        Wrong number of dimensions, ``x`` and ``weight`` disagreeing on ``C_in``, a bias
        of the wrong shape, or a kernel larger than the padded input — each message
        gives the shapes.
    """
    x, weight, bias = _check_conv_args(x, weight, bias)
    g = _Geometry.build(x.shape, weight.shape[2:], stride, padding, dilation)
    N, C_out, K, P = (x.shape[0], weight.shape[0], weight[0].size,
                      g.out_hw[0] * g.out_hw[1])
    w2 = weight.reshape(C_out, K)
    cols = np.empty((N, K, P), dtype=np.result_type(x, weight))
    out = np.empty((N, C_out, P), dtype=cols.dtype)

    # samples n: their columns, then their product
    def chunk(n: slice) -> None:
        _im2col(x[n], g, out=cols[n])       # (n, C_in*kH*kW, OH*OW)
        np.matmul(w2, cols[n], out=out[n])  # (C_out, K) @ (n, K, P) -> (n, C_out, P)

    over_batch(chunk, N, work=N * C_out * K * P)
    if bias is not None:
        out += bias[:, None]
    return (out.reshape(N, C_out, *g.out_hw),
            ConvCache(cols, weight, bias is not None, g))


def conv2d_backward(dout: ArrayLike, cache: ConvCache
                    ) -> tuple[Array, Array, Array | None]:
    r"""Gradients of :func:`conv2d`: ``(dx, dweight, dbias)`` (``dbias`` is ``None``
    without bias).

    With :math:`\bar y` reshaped to ``(N, C_out, OH*OW)`` and :math:`w` to
    ``(C_out, K)``:

    .. math::

        \begin{aligned}
        \bar w &= \sum_n \bar y_n \,\mathrm{cols}_n^\top,\\
        \bar b &= \sum_{n,p} \bar y_{n,:,p},\\
        \bar x &= \mathrm{col2im}(w^\top \bar y).
        \end{aligned}

    Elementwise, :math:`\bar w_{o,c,u,v} = \sum_{n,i,j} \bar y_{n,o,i,j}\,
    x^{\mathrm{pad}}_{n,c,s i+d u, s j+d v}` (a correlation of the input with the
    upstream gradient) and, for stride 1, :math:`\bar x` is the full convolution of
    :math:`\bar y` with the kernel (a correlation with the flipped kernel).

    :math:`\bar w` reuses the columns that :func:`conv2d` cached, so the backward pass
    builds no columns of its own: one batched matrix product for :math:`\bar w`, and
    col2im of :math:`w^\top \bar y` — computed one kernel tap at a time
    (``_col2im_matmul``) when there are enough input channels for each tap's product to
    be an efficient matrix product (measured with ``benchmarks/conv.py``), as one
    product and ``_col2im`` otherwise.
    """
    cols, weight, has_bias, g = cache
    (N, K, P), C_out = cols.shape, weight.shape[0]
    dout = _check_dout(dout, (N, C_out, *g.out_hw)).reshape(N, C_out, P)
    dx = np.empty(g.x_shape, dtype=np.result_type(cols, dout))

    # samples n: their input gradient, their share of dw
    def chunk(n: slice) -> Array:
        if weight.shape[1] >= _TAPWISE_MIN_CHANNELS:
            # col2im(w^T dout), tap by tap
            _col2im_matmul(weight, dout[n], g, out=dx[n])
        else:
            # few input channels: per-tap products of C_in rows are too thin for BLAS
            _col2im(weight.reshape(C_out, K).T @ dout[n], g, out=dx[n])
        # the cached columns again: products (C_out, P) @ (P, K), summed over the
        # samples (one product over (N*P) would first copy cols into a 2-D layout, which
        # costs more than it saves)
        return (dout[n] @ cols[n].transpose(0, 2, 1)).sum(axis=0)

    # one partial sum per chunk, in order
    parts = over_batch(chunk, N, work=2 * N * C_out * K * P)
    dweight = functools.reduce(np.add, parts).reshape(weight.shape)
    dbias = dout.sum(axis=(0, 2)) if has_bias else None
    return dx, dweight, dbias


def conv2d_naive(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
                 stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1
                 ) -> tuple[Array, ConvNaiveCache]:
    """Loop reference for :func:`conv2d` (same arguments and output): the textbook loop
    ``np.sum(window * kernel)`` at every sample, output channel and position. For tests
    and the book."""
    x, weight, bias = _check_conv_args(x, weight, bias)
    g = _Geometry.build(x.shape, weight.shape[2:], stride, padding, dilation)
    xp = g.pad(x)
    N, C_out = x.shape[0], weight.shape[0]
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out_hw
    out = np.zeros((N, C_out, OH, OW), dtype=np.result_type(x, weight))
    for n in range(N):
        for o in range(C_out):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                                j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    out[n, o, i, j] = (
                        np.sum(window * weight[o])
                        + (bias[o] if bias is not None else 0.0))
    return out, ConvNaiveCache(xp, weight, bias is not None, g)


def conv2d_backward_naive(dout: ArrayLike, cache: ConvNaiveCache) -> tuple[Array, Array, Array | None]:
    """Loop reference for :func:`conv2d_backward`: each output ``y[n,o,i,j]`` sends
    ``dout[n,o,i,j] * weight[o]`` back to its window and ``dout[n,o,i,j] * window`` to ``dweight[o]``."""
    xp, weight, has_bias, g = cache
    N, C_out = xp.shape[0], weight.shape[0]
    dout = _check_dout(dout, (N, C_out, *g.out_hw))
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out_hw
    dxp, dweight = np.zeros_like(xp), np.zeros_like(weight)
    for n in range(N):
        for o in range(C_out):
            for i in range(OH):
                for j in range(OW):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    dxp[n, :, rows, cols] += dout[n, o, i, j] * weight[o]
                    dweight[o] += dout[n, o, i, j] * xp[n, :, rows, cols]
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return np.ascontiguousarray(g.unpad(dxp)), dweight, dbias


# --- pooling --------------------------------------------------------------------------------
def _pool_geometry(x: Array, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
                   dilation: IntPair, op: str) -> _Geometry:
    check_ndim(x, 4, "x", "(N, C, H, W)")
    stride = kernel_size if stride is None else stride   # PyTorch: stride defaults to kernel_size
    g = _Geometry.build(x.shape, kernel_size, stride, padding, dilation)
    # PyTorch's rule, so that every window contains at least one real pixel
    half = [(g.dilation[a] * (g.kernel[a] - 1) + 1) // 2 if op == "max" else g.kernel[a] // 2 for a in range(2)]
    if g.pads[0] > half[0] or g.pads[2] > half[1]:
        raise ValueError(f"{op}_pool2d: padding {g.pads[0], g.pads[2]} must be at most half the kernel "
                         f"{g.kernel} (at most {tuple(half)}), input shape {x.shape}")
    return g


def _per_channel(g: _Geometry) -> _Geometry:
    """The same window geometry over ``(N*C, 1, H, W)``: pooling treats channels as samples."""
    N, C, H, W = g.x_shape
    return _Geometry((N * C, 1, H, W), g.kernel, g.stride, g.pads, g.dilation)


class MaxPoolCache(NamedTuple):
    argmax: np.ndarray          # (N*C, OH*OW): the winning tap of each window, an int per output
    geometry: _Geometry         # the per-channel window geometry over (N*C, 1, H, W)
    x_shape: tuple[int, ...]    # (N, C, H, W), to fold the gradient back


class AvgPoolCache(NamedTuple):
    divisor: Array              # (OH*OW,): how many cells each window averages
    geometry: _Geometry
    x_shape: tuple[int, ...]


def _first_inside(g: _Geometry) -> np.ndarray:
    """For each window, the first tap (row-major) that lies on a real pixel, not in the padding."""
    H, W = g.x_shape[-2:]
    inside = _im2col(np.ones((1, 1, H, W)), _Geometry((1, 1, H, W), g.kernel, g.stride, g.pads, g.dilation))
    return inside[0].argmax(axis=0)          # (OH*OW,): argmax of 0/1 is the first 1


def max_pool2d(x: ArrayLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
               dilation: IntPair = 1) -> tuple[Array, MaxPoolCache]:
    r"""Max pooling, ``torch.nn.functional.max_pool2d`` (``stride`` defaults to ``kernel_size``).

    :math:`y_{n,c,i,j} = \max_{u,v} x^{\mathrm{pad}}_{n,c,s_h i + d_h u, s_w j + d_w v}`, padding
    with :math:`-\infty` (padding at most half the kernel, as PyTorch requires).

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    cache : MaxPoolCache ``(argmax, geometry, x.shape)`` — only the winning tap of each window (an int
        per output), since the gradient goes to that one input:
        :math:`\bar x_{\text{winner}} \mathrel{+}= \bar y`. Ties go to the first maximum in
        row-major window order, as in PyTorch; a window whose real pixels are all :math:`-\infty`
        sends its gradient to its first real pixel (PyTorch's rule), never to a padding cell.
    """
    x = as_array(x, "x")
    g = _per_channel(_pool_geometry(x, kernel_size, stride, padding, dilation, "max"))
    N, C = x.shape[:2]
    cols = _im2col(x.reshape(N * C, 1, *x.shape[2:]), g, value=-np.inf)   # (N*C, kH*kW, P)
    arg = cols.argmax(axis=1)
    out = np.take_along_axis(cols, arg[:, None], axis=1)
    if any(g.pads):
        dead = np.isneginf(out[:, 0])        # every real pixel -inf: the argmax may be a padding cell
        if dead.any():
            arg = np.where(dead, _first_inside(g), arg)
    return out.reshape(N, C, *g.out_hw), MaxPoolCache(arg, g, x.shape)


def max_pool2d_backward(dout: ArrayLike, cache: MaxPoolCache) -> Array:
    r"""Route each upstream gradient to its window's arg-max; overlapping windows add up (col2im)."""
    arg, g, x_shape = cache
    NC, P = arg.shape
    dout = _check_dout(dout, (*x_shape[:2], *g.out_hw)).reshape(NC, 1, P)
    dcols = np.zeros((NC, g.kernel[0] * g.kernel[1], P), dtype=dout.dtype)
    np.put_along_axis(dcols, arg[:, None], dout, axis=1)
    return _col2im(dcols, g).reshape(x_shape)


def avg_pool2d(x: ArrayLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
               count_include_pad: bool = True) -> tuple[Array, AvgPoolCache]:
    r"""Average pooling, ``torch.nn.functional.avg_pool2d`` (``stride`` defaults to ``kernel_size``).

    :math:`y = \frac1{m}\sum_{u,v} x^{\mathrm{pad}}_{s_h i + u, s_w j + v}` with :math:`m = kH\,kW`
    (``count_include_pad=True``, PyTorch's default: padded zeros count) or the number of real
    pixels in the window.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    cache : AvgPoolCache ``(divisor, geometry, x.shape)`` — the backward spreads :math:`\bar y/m` evenly over the window.
    """
    x = as_array(x, "x")
    g = _per_channel(_pool_geometry(x, kernel_size, stride, padding, 1, "avg"))
    N, C = x.shape[:2]
    cols = _im2col(x.reshape(N * C, 1, *x.shape[2:]), g)
    if count_include_pad:
        divisor = np.full(g.out_hw[0] * g.out_hw[1], float(g.kernel[0] * g.kernel[1]))
    else:
        ones = _Geometry((1, 1, *x.shape[2:]), g.kernel, g.stride, g.pads, g.dilation)
        divisor = _im2col(np.ones((1, 1, *x.shape[2:])), ones)[0].sum(axis=0)
    out = cols.sum(axis=1) / divisor
    return out.reshape(N, C, *g.out_hw), AvgPoolCache(divisor, g, x.shape)


def avg_pool2d_backward(dout: ArrayLike, cache: AvgPoolCache) -> Array:
    r""":math:`\bar x` receives :math:`\bar y/m` from every window that contains it (col2im)."""
    divisor, g, x_shape = cache
    NC = g.x_shape[0]
    dout = _check_dout(dout, (*x_shape[:2], *g.out_hw)).reshape(NC, 1, divisor.size)
    dcols = np.broadcast_to(dout / divisor, (NC, g.kernel[0] * g.kernel[1], divisor.size))
    return _col2im(dcols, g).reshape(x_shape)


# --- modules --------------------------------------------------------------------------------
class Conv2d(FunctionalModule):
    r"""``torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    bias=True)``: see :func:`conv2d`.

    ``weight`` has PyTorch's shape ``(out_channels, in_channels, kH, kW)``. Initialised like
    PyTorch: ``kaiming_uniform_(a=sqrt(5))``, i.e. :math:`w, b \sim U(\pm 1/\sqrt{\text{fan\_in}})`
    with :math:`\text{fan\_in} = C_{in}\,kH\,kW`. No ``groups`` and only zero padding.
    """

    _op, _op_backward = staticmethod(conv2d), staticmethod(conv2d_backward)
    _params = ("weight", "bias")
    _options = ("stride", "padding", "dilation")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: IntPair = 1,
                 padding: Padding = 0, dilation: IntPair = 1, bias: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        rng = get_rng(rng)
        kh, kw = _pair(kernel_size, "kernel_size", 1)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        # PyTorch's reset_parameters, step for step
        self.weight = init.kaiming_uniform_(Parameter(np.empty((out_channels, in_channels, kh, kw))),
                                            a=math.sqrt(5), rng=rng)
        self.bias = None
        if bias:
            bound = 1.0 / math.sqrt(init.calculate_fan_in_and_fan_out(self.weight)[0])
            self.bias = init.uniform_(Parameter(np.empty(out_channels)), -bound, bound, rng=rng)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}")


class _Pool(FunctionalModule):
    """A parameter-free module around a functional pooling pair (the math lives there)."""

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool):
    """``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1)``: see :func:`max_pool2d`."""

    _op, _op_backward = staticmethod(max_pool2d), staticmethod(max_pool2d_backward)
    _options = ("kernel_size", "stride", "padding", "dilation")

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                 dilation: IntPair = 1) -> None:
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation


class AvgPool2d(_Pool):
    """``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, count_include_pad=True)``: see
    :func:`avg_pool2d`."""

    _op, _op_backward = staticmethod(avg_pool2d), staticmethod(avg_pool2d_backward)
    _options = ("kernel_size", "stride", "padding", "count_include_pad")

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                 count_include_pad: bool = True) -> None:
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad


class Flatten(Module):
    """``torch.nn.Flatten(start_dim=1, end_dim=-1)``: merge axes ``start_dim..end_dim`` into one.

    Backward reshapes the gradient to the cached input shape (a reshape has an identity Jacobian).
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: ArrayLike) -> Array:
        x = as_array(x, "x")
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        if s > e:
            raise ValueError(f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} "
                             f"for input shape {x.shape}")
        self._shape = x.shape
        return x.reshape(*x.shape[:s], math.prod(x.shape[s:e + 1]), *x.shape[e + 1:])

    def backward(self, dout: ArrayLike) -> Array:
        return as_array(dout, "dout").reshape(self._require_cache(self._shape))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
