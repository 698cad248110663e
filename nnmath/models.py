r"""Small reference architectures that more than one chapter builds or trains.

* :func:`deep_mlp` — the plain deep networks whose signal and gradient flow the vanishing-gradient
  chapter measures (:mod:`nnmath.diagnostics`) and that later chapters train;
* :func:`digits_cnn` — the convolution chapter introduces this CNN and the capstone compares the
  Vision Transformer with it; building it here keeps the two chapters' models identical by
  construction;
* :func:`one_unit_rnn` / :func:`one_unit_rnn_backward` — the exploding-gradient example of
  Pascanu, Mikolov & Bengio (2013): a recurrent network with a single unit whose loss surface has
  a cliff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import init as _init
from ._checks import Array, as_array, check_same_shape
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Tanh, sigmoid, sigmoid_backward
from .conv import Conv2d, Flatten, MaxPool2d
from .linear import Linear
from .module import Module, Parameter, Sequential
from .normalization import BatchNorm2d
from .rng import get_rng

__all__ = ["deep_mlp", "digits_cnn", "one_unit_rnn", "one_unit_rnn_backward", "OneUnitRNNCache"]


_ACTIVATIONS: dict[str, Callable[[], Module] | None] = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU, "gelu": GELU, "linear": None,
}
_WEIGHT_INITS = ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
                 "normal_", "uniform_")


def deep_mlp(depth: int, width: int, activation: str | Callable[[], Module] = "tanh", *,
             in_features: int | None = None, out_features: int | None = None,
             init: str | Callable[[Parameter, np.random.Generator], Any] = "default",
             init_kwargs: dict[str, Any] | None = None, bias: bool = True,
             rng: np.random.Generator | None = None) -> Sequential:
    r"""A plain deep MLP: ``depth`` blocks ``Linear -> activation``, then an optional linear head.

    Parameters
    ----------
    depth : int
        Number of hidden blocks (``Linear`` followed by the activation).
    width : int
        Units per hidden layer.
    activation : {'sigmoid', 'tanh', 'relu', 'leaky_relu', 'gelu', 'linear'} or callable
        The nonlinearity after each hidden ``Linear`` (``'linear'``: none, a deep *linear*
        network); or a zero-argument factory returning a fresh module, e.g.
        ``lambda: nm.LeakyReLU(0.2)``.
    in_features : int, optional
        Input dimension (default ``width``).
    out_features : int, optional
        If given, a final ``Linear(width, out_features)`` without activation (e.g. logits).
    init : str or callable
        ``'default'`` keeps :class:`~nnmath.linear.Linear`'s PyTorch initialization
        :math:`U(\pm 1/\sqrt{\text{fan\_in}})` for weights and biases. Otherwise the name of a
        weight initializer in :mod:`nnmath.init` (``'xavier_uniform_'``, ``'xavier_normal_'``,
        ``'kaiming_uniform_'``, ``'kaiming_normal_'``, ``'orthogonal_'``, ``'normal_'``,
        ``'uniform_'``), called as ``f(weight, **init_kwargs, rng=rng)``, or a callable
        ``f(weight, rng)``; biases are then set to zero, as in Glorot & Bengio (2010) and
        He et al. (2015).
    init_kwargs : dict, optional
        Keyword arguments for the named initializer, e.g. ``{"nonlinearity": "relu"}`` or
        ``{"std": 0.01}``.
    bias : bool
    rng : numpy.random.Generator, optional
        Every random draw (construction and initialization); the package generator if omitted.

    Returns
    -------
    Sequential
        ``Linear, act, Linear, act, ..., [Linear]``.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got depth={depth}, width={width}")
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(_ACTIVATIONS)} "
                             "or a factory returning a Module")
        make_act = _ACTIVATIONS[activation]
    else:
        make_act = activation
    if isinstance(init, str):
        if init != "default" and init not in _WEIGHT_INITS:
            raise ValueError(f"unknown init {init!r}; expected 'default', one of {', '.join(_WEIGHT_INITS)}, "
                             "or a callable f(weight, rng)")
    if init_kwargs and (callable(init) or init == "default"):
        raise ValueError("init_kwargs only apply to a named initializer such as 'kaiming_normal_'")
    rng = get_rng(rng)
    kwargs = dict(init_kwargs or {})
    dims = [in_features or width] + [width] * depth
    layers: list[Module] = []
    linears: list[Linear] = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        linears.append(Linear(d_in, d_out, bias=bias, rng=rng))
        layers.append(linears[-1])
        if make_act is not None:
            layers.append(make_act())
    if out_features is not None:
        linears.append(Linear(width, out_features, bias=bias, rng=rng))
        layers.append(linears[-1])
    if init != "default":
        for lin in linears:
            if callable(init):
                init(lin.weight, rng)
            else:
                getattr(_init, init)(lin.weight, **kwargs, rng=rng)
            if lin.bias is not None:
                _init.zeros_(lin.bias)
    return Sequential(*layers)


def digits_cnn(channels: tuple[int, int] = (8, 16), num_classes: int = 10,
               rng: np.random.Generator | None = None) -> Sequential:
    """Two conv → batch norm → ReLU → 2×2 max-pool blocks and a linear classifier, for
    8×8 images.

    Shapes for input ``(N, 1, 8, 8)``: ``(N, c1, 4, 4)`` after the first block,
    ``(N, c2, 2, 2)`` after the second, ``(N, 4 c2)`` flattened, ``(N, num_classes)``
    logits. 3×3 kernels with padding 1 keep the spatial size until each pool halves it.
    """
    c1, c2 = channels
    return Sequential(
        Conv2d(1, c1, 3, padding=1, rng=rng), BatchNorm2d(c1), ReLU(), MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, rng=rng), BatchNorm2d(c2), ReLU(), MaxPool2d(2),
        Flatten(), Linear(4 * c2, num_classes, rng=rng))


class OneUnitRNNCache(NamedTuple):
    w: Array                    # the recurrent weight: every step's gradient is multiplied by it
    sigmoid_caches: list[Array] # sigma(x_{t-1}) for t = 1 .. T: back-propagation needs each one


def one_unit_rnn(w: ArrayLike, b: ArrayLike, x0: float = 0.5, steps: int = 50
                 ) -> tuple[Array, OneUnitRNNCache]:
    r"""The one-unit recurrent network of Pascanu, Mikolov & Bengio (2013), element-wise in ``(w, b)``:

    .. math:: x_t = w\,\sigma(x_{t-1}) + b, \qquad t = 1, \ldots, T,

    from :math:`x_0`; returns :math:`x_T`. For large :math:`w` the map has two stable fixed points,
    and a small change of :math:`b` can move :math:`x_0` from one basin of attraction to the other:
    :math:`x_T` jumps, and so does any loss of it — the cliff.

    Parameters
    ----------
    w, b : array_like of the same shape
        Any number of ``(w, b)`` pairs at once (e.g. a grid, for a loss surface).
    x0 : float
    steps : int
        :math:`T`.

    Returns
    -------
    x_T : ndarray, shape of ``w``
    cache : OneUnitRNNCache
        ``(w, [sigmoid caches of x_0 .. x_{T-1}])`` — back-propagation through time needs
        every :math:`\sigma(x_{t-1})`.
    """
    w, b = as_array(w, "w"), as_array(b, "b")
    check_same_shape(w, b, "w", "b")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    x = np.full(w.shape, float(x0))
    caches = []
    for _ in range(steps):  # a loop over *time*: each step needs the previous one
        s, cache = sigmoid(x)
        caches.append(cache)
        x = w * s + b
    return x, OneUnitRNNCache(w, caches)


def one_unit_rnn_backward(dout: ArrayLike, cache: OneUnitRNNCache
                          ) -> tuple[Array, Array]:
    r"""Back-propagation through time for :func:`one_unit_rnn`: ``(dw, db)``.

    With :math:`s_t = \sigma(x_{t-1})` and :math:`\bar x_T` the upstream gradient, going
    backwards

    .. math::

        \begin{aligned}
        \bar w &\mathrel{+}= \bar x_t\, s_t, \qquad \bar b \mathrel{+}= \bar x_t,\\
        \bar x_{t-1} &= \bar x_t\, w\, \sigma'(x_{t-1}),
        \end{aligned}

    so :math:`\bar x_0` carries the product :math:`\prod_t w\,\sigma'(x_{t-1})` — the
    factor that explodes or vanishes.
    """
    w, caches = cache
    dx = as_array(dout, "dout") * np.ones_like(w)
    dw, db = np.zeros_like(w), np.zeros_like(w)
    for s in reversed(caches):
        dw += dx * s
        db += dx
        dx = sigmoid_backward(dx * w, s)
    return dw, db
