r"""Recurrent networks — :class:`RNN`, :class:`LSTM`, :class:`GRU` — and backpropagation through time.

A recurrent layer applies one *cell* at every time step, with the same weights, to the step's
input and the previous state:

.. math:: h_t = \mathrm{cell}(x_t, h_{t-1}), \qquad t = 1, \ldots, T .

Unrolled over time this is a feed-forward network of depth :math:`T` with tied weights, so its
backward pass is ordinary backpropagation on the unrolled graph — *backpropagation through time*
(BPTT, Werbos 1990): one cell's vector-Jacobian product, applied from :math:`t = T` down to
:math:`t = 1`, with the state gradient carried from each step to the one before,

.. math::

    \begin{aligned}
    &\bar h_{t-1} = \Bigl(\frac{\partial h_t}{\partial h_{t-1}}\Bigr)^{\!\top} \bigl(\bar h_t\bigr)\\
    &\text{where}\quad \bar h_t \leftarrow \bar h_t + \frac{\partial\mathcal L}{\partial h_t}\Big|_{\text{output } t},
    \end{aligned}

and every step's parameter gradients *summed* (the weights are shared). The loop over time is the
one Python loop the math requires: each step needs the state of the one before (forward) or after
(backward). Everything inside a step is vectorised over the batch and the features.

Each cell is a functional pair with PyTorch's weight layout (weights are ``(gates·H, in)``, the
transpose of :class:`~nnmath.linear.Linear`'s, so that ``weight_ih_l0`` copied from
``torch.nn.LSTM`` is used as is):

* :func:`rnn_cell` / :func:`rnn_cell_backward` — :math:`h' = f(W_{ih}x + b_{ih} + W_{hh}h + b_{hh})`,
  :math:`f` = tanh or ReLU;
* :func:`lstm_cell` / :func:`lstm_cell_backward` — gates i, f, g, o (in that order in the rows),
  :math:`c' = f\odot c + i\odot g`, :math:`h' = o\odot\tanh c'`;
* :func:`gru_cell` / :func:`gru_cell_backward` — gates r, z, n with PyTorch's
  :math:`n = \tanh(W_{in}x + b_{in} + r\odot(W_{hn}h + b_{hn}))` and
  :math:`h' = (1-z)\odot n + z\odot h`.

The modules stack ``num_layers`` such layers (layer :math:`\ell > 0` reads the hidden states of
layer :math:`\ell-1`), take ``(T, N, D)`` input (``(N, T, D)`` with ``batch_first=True``; a 2-D
``(T, D)`` input is one unbatched sequence) and have PyTorch's parameter names, shapes, defaults
and initialisation :math:`U(-1/\sqrt{H}, 1/\sqrt{H})`. Not supported: ``dropout`` between
layers, ``bidirectional`` and the LSTM's ``proj_size``.

Where nnmath differs from PyTorch: there is no tape, so ``backward`` takes the upstream
gradients of *both* outputs — the output sequence and the final state(s) — and returns the
gradients of both inputs; and ``bptt_truncate=k`` (an nnmath option) gives truncated BPTT.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

from ._checks import Array, as_array
from . import init
from .module import Module, Parameter
from .rng import get_rng

__all__ = [
    "rnn_cell", "rnn_cell_backward", "lstm_cell", "lstm_cell_backward", "gru_cell",
    "gru_cell_backward", "bptt", "RNNCellCache", "LSTMCellCache", "GRUCellCache", "RNN", "LSTM", "GRU",
]


# --- shared checks -------------------------------------------------------------------------
def _cell_inputs(x: ArrayLike, h: ArrayLike, W_ih: ArrayLike, W_hh: ArrayLike,
                 b_ih: ArrayLike | None, b_hh: ArrayLike | None, gates: int
                 ) -> tuple[Array, Array, Array, Array, Array | None, Array | None]:
    """One cell step's arguments as arrays, with their shapes checked: x (N, I), h (N, H),
    W_ih (gates·H, I), W_hh (gates·H, H), both biases (gates·H,) or neither."""
    x, h, W_ih, W_hh = (as_array(a, n) for a, n in ((x, "x"), (h, "h"), (W_ih, "W_ih"), (W_hh, "W_hh")))
    b_ih = None if b_ih is None else as_array(b_ih, "b_ih")
    b_hh = None if b_hh is None else as_array(b_hh, "b_hh")
    if (b_ih is None) != (b_hh is None):
        raise ValueError("give both biases b_ih and b_hh or neither")
    if h.ndim != 2:
        raise ValueError(f"h must be 2-D (N, hidden_size), got shape {h.shape}")
    H = h.shape[1]
    if x.ndim != 2 or x.shape[0] != h.shape[0]:
        raise ValueError(f"x must be 2-D (N, input_size) with the batch size of h, got "
                         f"x.shape={x.shape} and h.shape={h.shape}")
    if W_ih.shape != (gates * H, x.shape[1]):
        raise ValueError(f"W_ih must have shape ({gates}*hidden_size, input_size) = "
                         f"{(gates * H, x.shape[1])}, got W_ih.shape={W_ih.shape}")
    if W_hh.shape != (gates * H, H):
        raise ValueError(f"W_hh must have shape ({gates}*hidden_size, hidden_size) = {(gates * H, H)}, "
                         f"got W_hh.shape={W_hh.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (gates * H,):
            raise ValueError(f"{name} must have shape ({gates * H},), got {name}.shape={b.shape}")
    return x, h, W_ih, W_hh, b_ih, b_hh


def _affine(x: Array, h: Array, W_ih: Array, W_hh: Array, b_ih: Array | None,
            b_hh: Array | None) -> tuple[Array, Array]:
    """The two pre-activations ``x W_ih^T + b_ih`` and ``h W_hh^T + b_hh`` (rows are samples)."""
    gi = x @ W_ih.T
    gh = h @ W_hh.T
    if b_ih is not None:
        gi = gi + b_ih
    if b_hh is not None:
        gh = gh + b_hh
    return gi, gh


def _affine_backward(dgi: Array, dgh: Array, x: Array, h: Array, W_ih: Array,
                     W_hh: Array, has_bias: bool
                     ) -> tuple[Array, Array, Array, Array, Array | None, Array | None]:
    r"""VJP of :func:`_affine`: ``(dx, dh, dW_ih, dW_hh, db_ih, db_hh)``.

    :math:`\bar x = \bar g_i W_{ih}`, :math:`\bar W_{ih} = \bar g_i^\top x`,
    :math:`\bar b_{ih} = \sum_n \bar g_{i,n}`, and the same for the ``hh`` half.
    """
    return (dgi @ W_ih, dgh @ W_hh, dgi.T @ x, dgh.T @ h,
            dgi.sum(axis=0) if has_bias else None,
            dgh.sum(axis=0) if has_bias else None)


def _dstate(d: ArrayLike | None, like: Array, name: str) -> Array:
    if d is None:
        return np.zeros_like(like)
    d = as_array(d, name)
    if d.shape != like.shape:
        raise ValueError(f"{name} must have the state's shape {like.shape}, got {name}.shape={d.shape}")
    return d


# --- the Elman cell --------------------------------------------------------------------------
class RNNCellCache(NamedTuple):
    x: Array                    # the step's input: dW_ih = dz^T x
    h: Array                    # the previous state: dW_hh = dz^T h
    W_ih: Array                 # dx = dz W_ih
    W_hh: Array                 # dh = dz W_hh
    h_new: Array                # the output: tanh' = 1 - h'^2, relu' = [h' > 0]
    nonlinearity: str
    has_bias: bool


def rnn_cell(x: ArrayLike, h: ArrayLike, W_ih: ArrayLike, W_hh: ArrayLike,
             b_ih: ArrayLike | None = None, b_hh: ArrayLike | None = None,
             nonlinearity: str = "tanh") -> tuple[Array, RNNCellCache]:
    r"""One step of the Elman network (``torch.nn.RNNCell``):

    .. math::

        \begin{aligned}
        z &= W_{ih} x + b_{ih} + W_{hh} h + b_{hh},\\
        h' &= f(z),
        \end{aligned}

    with :math:`f = \tanh` or ReLU, for every row (sample) of ``x`` and ``h``.

    Parameters
    ----------
    x : array_like of shape (N, I)
    h : array_like of shape (N, H)
    W_ih : array_like of shape (H, I)
    W_hh : array_like of shape (H, H)
    b_ih, b_hh : array_like of shape (H,), optional (both or neither)
    nonlinearity : {"tanh", "relu"}

    Returns
    -------
    h_new : ndarray of shape (N, H)
    cache : RNNCellCache
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_inputs(x, h, W_ih, W_hh, b_ih, b_hh, 1)
    return _rnn_step(x, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)


def _rnn_step(x: Array, h: Array, W_ih: Array, W_hh: Array, b_ih: Array | None,
              b_hh: Array | None, nonlinearity: str) -> tuple[Array, RNNCellCache]:
    gi, gh = _affine(x, h, W_ih, W_hh, b_ih, b_hh)
    z = gi + gh
    h_new = np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0.0)
    return h_new, RNNCellCache(x, h, W_ih, W_hh, h_new, nonlinearity, b_ih is not None)


def rnn_cell_backward(dh_new: ArrayLike, cache: RNNCellCache) -> tuple[Array, ...]:
    r"""VJP of :func:`rnn_cell`: ``(dx, dh, dW_ih, dW_hh, db_ih, db_hh)`` (biases
    ``None`` if absent).

    With :math:`\bar z = \bar h' \odot f'(z)` — :math:`1 - h'^2` for tanh,
    :math:`[z > 0]` for ReLU —

    .. math::

        \begin{aligned}
        \bar x &= \bar z W_{ih}, \quad \bar h = \bar z W_{hh},\\
        \bar W_{ih} &= \bar z^\top x, \quad \bar W_{hh} = \bar z^\top h,\\
        \bar b_{ih} &= \bar b_{hh} = \textstyle\sum_n \bar z_n .
        \end{aligned}

    :math:`\bar h = \bar h'\,\mathrm{diag}(f'(z))\,W_{hh}` is the step Jacobian
    :math:`\partial h'/\partial h = \mathrm{diag}(f'(z))\,W_{hh}` applied from the left.
    """
    x, h, W_ih, W_hh, h_new, nonlinearity, has_bias = cache
    dh_new = _dstate(dh_new, h_new, "dh_new")
    dz = dh_new * (1.0 - h_new**2) if nonlinearity == "tanh" else dh_new * (h_new > 0)
    return _affine_backward(dz, dz, x, h, W_ih, W_hh, has_bias)


# --- the LSTM cell --------------------------------------------------------------------------
class LSTMCellCache(NamedTuple):
    x: Array
    h: Array
    c: Array                    # the previous cell: df = dc' * c
    W_ih: Array
    W_hh: Array
    i: Array                    # the four gate activations, each (N, H)
    f: Array
    g: Array
    o: Array
    tanh_c: Array               # tanh(c'): do = dh' * tanh(c')
    has_bias: bool


def lstm_cell(x: ArrayLike, h: ArrayLike, c: ArrayLike, W_ih: ArrayLike, W_hh: ArrayLike,
              b_ih: ArrayLike | None = None, b_hh: ArrayLike | None = None
              ) -> tuple[tuple[Array, Array], LSTMCellCache]:
    r"""One step of the LSTM (``torch.nn.LSTMCell``; Hochreiter & Schmidhuber 1997, with the forget
    gate of Gers et al. 2000):

    .. math::

        \begin{aligned}
        (a_i, a_f, a_g, a_o) &= W_{ih} x + b_{ih}\\
        &\quad + W_{hh} h + b_{hh},\\
        i &= \sigma(a_i),\ f = \sigma(a_f),\\
        g &= \tanh(a_g),\ o = \sigma(a_o),\\
        c' &= f \odot c + i \odot g,\\
        h' &= o \odot \tanh(c').
        \end{aligned}

    The four gates are stacked in the rows of the weights in PyTorch's order i, f, g, o: rows
    ``[0, H)`` of ``W_ih`` belong to the input gate, ``[H, 2H)`` to the forget gate, and so on.

    Parameters
    ----------
    x : array_like of shape (N, I)
    h, c : array_like of shape (N, H)
    W_ih : array_like of shape (4H, I)
    W_hh : array_like of shape (4H, H)
    b_ih, b_hh : array_like of shape (4H,), optional (both or neither)

    Returns
    -------
    (h_new, c_new) : two ndarrays of shape (N, H)
    cache : LSTMCellCache
    """
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_inputs(x, h, W_ih, W_hh, b_ih, b_hh, 4)
    c = as_array(c, "c")
    if c.shape != h.shape:
        raise ValueError(f"c must have the shape of h, got c.shape={c.shape} and h.shape={h.shape}")
    return _lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)


def _lstm_step(x: Array, h: Array, c: Array, W_ih: Array, W_hh: Array, b_ih: Array | None,
               b_hh: Array | None) -> tuple[tuple[Array, Array], LSTMCellCache]:
    gi, gh = _affine(x, h, W_ih, W_hh, b_ih, b_hh)
    a = gi + gh
    H = h.shape[1]
    s = expit(a)              # one call for all gates (the g quarter is recomputed by tanh)
    i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
    g = np.tanh(a[:, 2 * H:3 * H])
    c_new = f * c + i * g
    tanh_c = np.tanh(c_new)
    h_new = o * tanh_c
    return (h_new, c_new), LSTMCellCache(x, h, c, W_ih, W_hh, i, f, g, o, tanh_c, b_ih is not None)


def lstm_cell_backward(dout: tuple[ArrayLike | None, ArrayLike | None],
                       cache: LSTMCellCache) -> tuple[Array, ...]:
    r"""VJP of :func:`lstm_cell`: ``(dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh)``.

    ``dout = (dh_new, dc_new)``, either may be ``None`` (zero). The cell receives
    gradient along two paths — directly, and through :math:`h' = o\odot\tanh c'` — so
    first

    .. math::

        \bar c'_{\text{tot}} = \bar c' + \bar h' \odot o \odot (1 - \tanh^2 c'),

    then, from :math:`c' = f\odot c + i\odot g`,

    .. math::

        \begin{aligned}
        \bar c &= \bar c'_{\text{tot}} \odot f,\\
        \bar a_f &= \bar c'_{\text{tot}} \odot c \odot f(1-f),\\
        \bar a_i &= \bar c'_{\text{tot}} \odot g \odot i(1-i),
        \end{aligned}

    .. math::

        \begin{aligned}
        \bar a_g &= \bar c'_{\text{tot}} \odot i \odot (1-g^2),\\
        \bar a_o &= \bar h' \odot \tanh c' \odot o(1-o),
        \end{aligned}

    and the stacked :math:`\bar a` goes through the affine map as in
    :func:`rnn_cell_backward`. :math:`\bar c = \bar c'_{\text{tot}}\odot f` is the
    *additive* path: no weight matrix and no squashing derivative, only the forget gate.
    """
    dh_new = _dstate(dout[0], cache.h, "dh_new")
    dc_tot = _lstm_total_dc(dh_new, _dstate(dout[1], cache.c, "dc_new"), cache)
    return _lstm_backward_total(dh_new, dc_tot, cache)


def _lstm_backward_total(dh_new: Array, dc_tot: Array, cache: LSTMCellCache
                         ) -> tuple[Array, ...]:
    r""":func:`lstm_cell_backward` from the cell's *total* gradient
    :math:`\bar c'_{\text{tot}}`."""
    x, h, c, W_ih, W_hh, i, f, g, o, tanh_c, has_bias = cache
    da = np.concatenate([dc_tot * g * i * (1.0 - i),          # input gate
                         dc_tot * c * f * (1.0 - f),          # forget gate
                         dc_tot * i * (1.0 - g**2),           # cell candidate
                         dh_new * tanh_c * o * (1.0 - o)],    # output gate
                        axis=1)
    dx, dh, dW_ih, dW_hh, db_ih, db_hh = _affine_backward(da, da, x, h, W_ih, W_hh,
                                                          has_bias)
    return dx, dh, dc_tot * f, dW_ih, dW_hh, db_ih, db_hh


def _lstm_total_dc(dh_new: Array, dc_new: Array, cache: LSTMCellCache) -> Array:
    r"""The cell's total gradient: directly, plus through :math:`h' = o\odot\tanh c'`."""
    return dc_new + dh_new * cache.o * (1.0 - cache.tanh_c**2)


# --- the GRU cell ----------------------------------------------------------------------------
class GRUCellCache(NamedTuple):
    x: Array
    h: Array
    W_ih: Array
    W_hh: Array
    r: Array                    # reset gate
    z: Array                    # update gate
    n: Array                    # candidate state
    gh_n: Array                 # W_hn h + b_hn, which r multiplies
    has_bias: bool


def gru_cell(x: ArrayLike, h: ArrayLike, W_ih: ArrayLike, W_hh: ArrayLike,
             b_ih: ArrayLike | None = None, b_hh: ArrayLike | None = None
             ) -> tuple[Array, GRUCellCache]:
    r"""One step of the GRU (``torch.nn.GRUCell``; Cho et al. 2014) in PyTorch's form:

    .. math::

        \begin{aligned}
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}),\\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}),\\
        n &= \tanh\bigl(W_{in} x + b_{in}\\
        &\qquad + r \odot (W_{hn} h + b_{hn})\bigr),\\
        h' &= (1 - z) \odot n + z \odot h .
        \end{aligned}

    The reset gate multiplies :math:`W_{hn}h + b_{hn}` *after* the matrix product (Cho et al.
    apply it to :math:`h` before; PyTorch and cuDNN use this form). Gates are stacked r, z, n
    in the rows of the weights.

    Parameters
    ----------
    x : array_like of shape (N, I)
    h : array_like of shape (N, H)
    W_ih : array_like of shape (3H, I)
    W_hh : array_like of shape (3H, H)
    b_ih, b_hh : array_like of shape (3H,), optional (both or neither)

    Returns
    -------
    h_new : ndarray of shape (N, H)
    cache : GRUCellCache
    """
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_inputs(x, h, W_ih, W_hh, b_ih, b_hh, 3)
    return _gru_step(x, h, W_ih, W_hh, b_ih, b_hh)


def _gru_step(x: Array, h: Array, W_ih: Array, W_hh: Array, b_ih: Array | None,
              b_hh: Array | None) -> tuple[Array, GRUCellCache]:
    gi, gh = _affine(x, h, W_ih, W_hh, b_ih, b_hh)
    H = h.shape[1]
    rz = expit(gi[:, :2 * H] + gh[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    gh_n = gh[:, 2 * H:]
    n = np.tanh(gi[:, 2 * H:] + r * gh_n)
    h_new = (1.0 - z) * n + z * h
    return h_new, GRUCellCache(x, h, W_ih, W_hh, r, z, n, gh_n, b_ih is not None)


def gru_cell_backward(dh_new: ArrayLike, cache: GRUCellCache) -> tuple[Array, ...]:
    r"""VJP of :func:`gru_cell`: ``(dx, dh, dW_ih, dW_hh, db_ih, db_hh)``.

    From :math:`h' = (1-z)\odot n + z\odot h`: :math:`\bar n = \bar h'\odot(1-z)`,
    :math:`\bar z = \bar h'\odot(h - n)` and a direct term :math:`\bar h'\odot z` for
    :math:`\bar h`. Through the tanh, :math:`\bar a_n = \bar n\odot(1-n^2)`; the input
    half of the candidate gets :math:`\bar a_n`, the hidden half
    :math:`\bar a_n\odot r`, and the reset gate
    :math:`\bar a_r = \bar a_n\odot(W_{hn}h + b_{hn})\odot r(1-r)`; the update gate
    :math:`\bar a_z = \bar z\odot z(1-z)`. Then

    .. math::

        \begin{aligned}
        \bar g_i &= (\bar a_r, \bar a_z, \bar a_n),\\
        \bar g_h &= (\bar a_r, \bar a_z, \bar a_n \odot r),
        \end{aligned}

    go through the two affine maps, and
    :math:`\bar h = \bar h'\odot z + \bar g_h W_{hh}`.
    """
    x, h, W_ih, W_hh, r, z, n, gh_n, has_bias = cache
    dh_new = _dstate(dh_new, h, "dh_new")
    dan = dh_new * (1.0 - z) * (1.0 - n**2)
    dar = dan * gh_n * r * (1.0 - r)
    daz = dh_new * (h - n) * z * (1.0 - z)
    dgi = np.concatenate([dar, daz, dan], axis=1)
    dgh = np.concatenate([dar, daz, dan * r], axis=1)
    dx, dh, dW_ih, dW_hh, db_ih, db_hh = _affine_backward(dgi, dgh, x, h, W_ih, W_hh,
                                                          has_bias)
    return dx, dh + dh_new * z, dW_ih, dW_hh, db_ih, db_hh


# --- one layer over time: the forward loop and BPTT ------------------------------------------
# Internally a state is a tuple: (h,) for RNN and GRU, (h, c) for the LSTM, so that one loop
# serves all three cells.
def _step(mode: str, x: Array, state: tuple[Array, ...], params: list[Array | None],
          nonlinearity: str) -> tuple[tuple[Array, ...], Any]:
    # the unchecked steps: the module has checked every shape once, before the loop
    if mode == "LSTM":
        return _lstm_step(x, state[0], state[1], *params)
    if mode == "GRU":
        h, cache = _gru_step(x, state[0], *params)
        return (h,), cache
    h, cache = _rnn_step(x, state[0], *params, nonlinearity)
    return (h,), cache


def _step_backward(mode: str, dstate: tuple[Array, ...], cache: Any
                   ) -> tuple[Array, tuple[Array, ...], tuple[Array | None, ...]]:
    """One step's VJP as ``(dx, dstate_prev, dparams)``."""
    if mode == "LSTM":   # dstate = (dh_t, total dc_t), see bptt
        dx, dh, dc, *dparams = _lstm_backward_total(dstate[0], dstate[1], cache)
        return dx, (dh, dc), tuple(dparams)
    backward = gru_cell_backward if mode == "GRU" else rnn_cell_backward
    dx, dh, *dparams = backward(dstate[0], cache)
    return dx, (dh,), tuple(dparams)


def _layer_forward(mode: str, xs: Array, state: tuple[Array, ...], params: list[Array | None],
                   nonlinearity: str) -> tuple[Array, tuple[Array, ...], list[Any]]:
    """Run one layer over the sequence ``xs`` (T, N, I): its outputs (T, N, H), final state, caches."""
    outputs, caches = [], []
    for x in xs:    # the loop over time: step t needs the state of step t - 1
        state, cache = _step(mode, x, state, params, nonlinearity)
        outputs.append(state[0])
        caches.append(cache)
    return np.stack(outputs), state, caches


def bptt(mode: str, doutputs: Array, dstate_T: tuple[Array, ...], caches: list[Any],
         truncate: int | None = None
         ) -> tuple[Array, tuple[Array, ...], list[Array | None],
                    list[tuple[Array, ...]]]:
    r"""Backpropagation through time for one layer: step VJPs from :math:`t = T`
    down to 1.

    Parameters
    ----------
    mode : {"RNN", "LSTM", "GRU"}
    doutputs : ndarray of shape (T, N, H)
        :math:`\partial\mathcal L/\partial h_t` through the layer's output at every step
        (from the loss or the layer above) — the gradient that enters the graph at step
        :math:`t`.
    dstate_T : tuple of ndarray of shape (N, H)
        Gradient of the final state(s), :math:`\bar h_T` (and :math:`\bar c_T`).
    caches : list of the T step caches of the forward pass
    truncate : int, optional
        Truncated BPTT with chunks of ``k = truncate`` steps: the state passed from step
        :math:`t` to :math:`t+1` is treated as a constant whenever :math:`t` is a
        multiple of :math:`k` — exactly what ``h = h.detach()`` every ``k`` steps does
        in PyTorch.

    Returns
    -------
    dxs : ndarray of shape (T, N, I)
        Gradient of the layer's inputs.
    dstate_0 : tuple of ndarray
        Gradient of the initial state(s).
    dparams : list
        Parameter gradients summed over time (``None`` for absent biases).
    dstates : list of tuples
        :math:`\bar h_t` (and :math:`\bar c_t`) for :math:`t = 0, \ldots, T`: the total
        gradient of every state, as propagated (zero across a truncation boundary).
    """
    T = len(caches)
    dstate = dstate_T
    dstates: list[tuple[Array, ...]] = [()] * (T + 1)
    dxs: list[Array] = [np.empty(0)] * T
    dparams: list[Array | None] = []
    # the loop over time, backwards: step t is cell(x_t, h_{t-1})
    for t in range(T, 0, -1):
        # h_t is also the output at t
        dstate = (dstate[0] + doutputs[t - 1],) + dstate[1:]
        if mode == "LSTM":
            # c_t's total gradient: directly, and through h_t = o_t tanh(c_t)
            dstate = (dstate[0], _lstm_total_dc(dstate[0], dstate[1], caches[t - 1]))
        dstates[t] = dstate
        dxs[t - 1], dstate, dp = _step_backward(mode, dstate, caches[t - 1])
        if not dparams:
            dparams = list(dp)
        else:                # the weights are shared: every step adds its gradient
            for acc, d in zip(dparams, dp):
                if acc is not None:
                    acc += d
        if truncate is not None and (t - 1) % truncate == 0 and t > 1:
            # h_{t-1}, t-1 = jk: detached
            dstate = tuple(np.zeros_like(d) for d in dstate)
    dstates[0] = dstate
    return np.stack(dxs), dstate, dparams, dstates


# --- the modules -----------------------------------------------------------------------------
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


class _RecurrentBase(Module):
    """The shared part of :class:`RNN`, :class:`LSTM` and :class:`GRU` (``torch.nn.RNNBase``).

    A plain :class:`~nnmath.module.Module`, not a :class:`~nnmath.module.FunctionalModule`: the
    forward has two outputs (the sequence and the final state) and the backward two upstream
    gradients, and the math is a loop of functional pairs (:func:`bptt`) rather than one pair.
    """

    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, nonlinearity: str = "tanh",
                 bptt_truncate: int | None = None, rng: np.random.Generator | None = None) -> None:
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.nonlinearity = bool(bias), bool(batch_first), nonlinearity
        self.bptt_truncate = bptt_truncate
        rng = get_rng(rng)
        gate = _GATES[self._mode] * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        for layer in range(self.num_layers):   # PyTorch's names and order
            shapes = {"weight_ih": (gate, self.input_size if layer == 0 else self.hidden_size),
                      "weight_hh": (gate, self.hidden_size)}
            if self.bias:
                shapes.update(bias_ih=(gate,), bias_hh=(gate,))
            for name, shape in shapes.items():
                p = init.uniform_(Parameter(np.empty(shape)), -bound, bound, rng=rng)
                setattr(self, f"{name}_l{layer}", p)
        self._cache: Any = None

    @property
    def bptt_truncate(self) -> int | None:
        """Truncated BPTT: ``None`` (full BPTT) or ``k`` — the gradient does not flow through the
        state across the boundaries after steps ``k, 2k, 3k, ...``, as when the state is
        detached every ``k`` steps in PyTorch (see :func:`bptt`). The forward is unchanged."""
        return self._bptt_truncate

    @bptt_truncate.setter
    def bptt_truncate(self, k: int | None) -> None:
        if k is not None and (not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1):
            raise ValueError(f"bptt_truncate must be None or a positive integer, got {k!r}")
        self._bptt_truncate = None if k is None else int(k)

    def _layer_params(self, layer: int) -> list[Parameter | None]:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [getattr(self, f"{n}_l{layer}", None) for n in names]

    def _n_states(self) -> int:
        return 2 if self._mode == "LSTM" else 1

    def _prepare(self, input: ArrayLike, hx: tuple[ArrayLike | None, ...]
                 ) -> tuple[Array, list[Array], bool]:
        x = as_array(input, "input")
        if x.ndim not in (2, 3):
            layout = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
            raise ValueError(f"input must be 3-D {layout} or 2-D (T, input_size), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input.shape[-1] must be input_size={self.input_size}, got input.shape={x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.transpose(1, 0, 2) if self.batch_first else x)
        N = x.shape[1]
        expected = (self.num_layers, N, self.hidden_size)
        names = ("h_0", "c_0")
        states = []
        for name, s in zip(names, hx):
            if s is None:
                states.append(np.zeros(expected, dtype=x.dtype))
                continue
            s = as_array(s, name)
            want = (self.num_layers, self.hidden_size) if unbatched else expected
            if s.shape != want:
                raise ValueError(f"{name} must have shape (num_layers, N, hidden_size) = {want}, "
                                 f"got {name}.shape={s.shape}")
            states.append(s[:, None] if unbatched else s)
        return x, states, unbatched

    def _run(self, input: ArrayLike, hx: tuple[ArrayLike | None, ...]) -> tuple[Array, list[Array]]:
        x, states, unbatched = self._prepare(input, hx)
        caches, finals = [], []
        for layer in range(self.num_layers):
            params = [None if p is None else p.data for p in self._layer_params(layer)]
            x, state, layer_caches = _layer_forward(self._mode, x, tuple(s[layer] for s in states),
                                                    params, self.nonlinearity)
            caches.append(layer_caches)
            finals.append(state)
        finals_stacked = [np.stack([f[k] for f in finals]) for k in range(self._n_states())]
        self._cache = (caches, unbatched, x.shape)
        out = x[:, 0] if unbatched else (x.transpose(1, 0, 2) if self.batch_first else x)
        if unbatched:
            finals_stacked = [f[:, 0] for f in finals_stacked]
        return out, finals_stacked

    def _run_backward(self, doutput: ArrayLike | None, dfinal: tuple[ArrayLike | None, ...]
                      ) -> tuple[Array, list[Array]]:
        caches, unbatched, out_shape = self._require_cache(self._cache)
        T, N, H = out_shape
        shown = (T, H) if unbatched else ((N, T, H) if self.batch_first else (T, N, H))
        if doutput is None:
            dout = np.zeros(out_shape)
        else:
            dout = as_array(doutput, "doutput")
            if dout.shape != shown:
                raise ValueError(f"doutput must have the output's shape {shown}, got doutput.shape={dout.shape}")
            dout = dout[:, None] if unbatched else (dout.transpose(1, 0, 2) if self.batch_first else dout)
        state_shape = (self.num_layers, H) if unbatched else (self.num_layers, N, H)
        dfin = []
        for name, d in zip(("dh_n", "dc_n"), dfinal):
            d = np.zeros(state_shape) if d is None else as_array(d, name)
            if d.shape != state_shape:
                raise ValueError(f"{name} must have the final state's shape {state_shape}, got {name}.shape={d.shape}")
            dfin.append(d[:, None] if unbatched else d)
        d0: list[list[Array]] = [[] for _ in dfin]
        self.state_grads: list[list[tuple[Array, ...]]] = [[] for _ in range(self.num_layers)]
        for layer in reversed(range(self.num_layers)):   # the top layer first: its dx feeds the one below
            dout, dstate0, dparams, dstates = bptt(self._mode, dout, tuple(d[layer] for d in dfin),
                                                   caches[layer], self.bptt_truncate)
            self.state_grads[layer] = dstates
            for p, g in zip(self._layer_params(layer), dparams):
                if p is not None:
                    p.grad += g
            for k, d in enumerate(dstate0):
                d0[k].insert(0, d)
        d0_stacked = [np.stack(d) for d in d0]
        dx = dout[:, 0] if unbatched else (dout.transpose(1, 0, 2) if self.batch_first else dout)
        if unbatched:
            d0_stacked = [d[:, 0] for d in d0_stacked]
        return dx, d0_stacked

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self._mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.bptt_truncate is not None:
            s += f", bptt_truncate={self.bptt_truncate}"
        return s


class RNN(_RecurrentBase):
    r"""``torch.nn.RNN``: a stack of Elman layers, :math:`h_t = f(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh})`.

    Parameters
    ----------
    input_size, hidden_size : int
        :math:`D` and :math:`H`.
    num_layers : int
        Layers stacked in depth; layer :math:`\ell > 0` reads layer :math:`\ell - 1`'s states.
    nonlinearity : {"tanh", "relu"}
    bias : bool
        Without bias the module has no ``bias_*`` parameters, as in PyTorch.
    batch_first : bool
        Input and output are ``(N, T, ·)`` instead of ``(T, N, ·)``; the states are
        ``(num_layers, N, H)`` either way.
    bptt_truncate : int, optional
        nnmath's option for truncated BPTT: the state is treated as a constant across the
        boundaries after steps ``k, 2k, ...``, as with ``h.detach()`` every ``k`` steps (see :func:`bptt`).
    rng : numpy.random.Generator, optional

    Attributes
    ----------
    weight_ih_l{k} : Parameter of shape (H, D) for k = 0, (H, H) above
    weight_hh_l{k} : Parameter of shape (H, H)
    bias_ih_l{k}, bias_hh_l{k} : Parameter of shape (H,)
    state_grads : list
        After ``backward``, one list per layer of ``T + 1`` tuples: :math:`\partial\mathcal L/\partial h_t`
        (and, for the LSTM, the total :math:`\partial\mathcal L/\partial c_t`) for
        :math:`t = 0, \ldots, T`.
    """

    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 bptt_truncate: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, nonlinearity,
                         bptt_truncate, rng)

    def forward(self, input: ArrayLike, hx: ArrayLike | None = None) -> tuple[Array, Array]:
        """``(output, h_n)``: the top layer's states ``(T, N, H)`` and every layer's last state
        ``(num_layers, N, H)``. ``hx`` is :math:`h_0` (zeros by default)."""
        out, (h_n,) = self._run(input, (hx,))
        return out, h_n

    def backward(self, doutput: ArrayLike | None, dh_n: ArrayLike | None = None) -> tuple[Array, Array]:
        """BPTT from the gradients of ``output`` and ``h_n`` (``None`` = zero): returns
        ``(dinput, dh_0)`` and adds every parameter's gradient into its ``.grad``."""
        dx, (dh0,) = self._run_backward(doutput, (dh_n,))
        return dx, dh0


class GRU(RNN):
    r"""``torch.nn.GRU``: a stack of GRU layers (:func:`gru_cell`; gates r, z, n stacked in the
    rows of ``weight_ih_l{k}`` of shape ``(3H, ·)``). Same arguments as :class:`RNN` without
    ``nonlinearity``; ``forward`` returns ``(output, h_n)``, ``backward(doutput, dh_n)`` returns
    ``(dinput, dh_0)``."""

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, bptt_truncate: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        _RecurrentBase.__init__(self, input_size, hidden_size, num_layers, bias, batch_first, "tanh",
                                bptt_truncate, rng)


class LSTM(_RecurrentBase):
    r"""``torch.nn.LSTM``: a stack of LSTM layers (:func:`lstm_cell`; gates i, f, g, o stacked in
    the rows of ``weight_ih_l{k}`` of shape ``(4H, ·)``, so ``bias_hh_l0[H:2H]`` is a forget-gate
    bias). Same arguments as :class:`GRU`.

    ``forward(input, (h_0, c_0))`` returns ``(output, (h_n, c_n))``;
    ``backward(doutput, dh_n, dc_n)`` returns ``(dinput, (dh_0, dc_0))``.
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, bptt_truncate: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, "tanh",
                         bptt_truncate, rng)

    def forward(self, input: ArrayLike, hx: tuple[ArrayLike | None, ArrayLike | None] | None = None
                ) -> tuple[Array, tuple[Array, Array]]:
        hx = (None, None) if hx is None else hx
        if not isinstance(hx, tuple) or len(hx) != 2:
            raise TypeError("hx of an LSTM must be a tuple (h_0, c_0)")
        out, (h_n, c_n) = self._run(input, hx)
        return out, (h_n, c_n)

    def backward(self, doutput: ArrayLike | None, dh_n: ArrayLike | None = None,
                 dc_n: ArrayLike | None = None) -> tuple[Array, tuple[Array, Array]]:
        dx, (dh0, dc0) = self._run_backward(doutput, (dh_n, dc_n))
        return dx, (dh0, dc0)
