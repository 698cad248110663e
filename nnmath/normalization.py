r"""Batch normalization and layer normalization: forward, the derived backward, and modules.

Both normalize an input to zero mean and unit variance and then apply a learned per-feature affine
map; they differ only in *which axes the statistics are taken over*:

* **batch norm** (Ioffe & Szegedy, 2015) averages over the batch (and, for images, the spatial
  positions): per channel ``c`` of an ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)`` input, over the
  axes ``(0,)``, ``(0, 2)`` or ``(0, 2, 3)``;
* **layer norm** (Ba et al., 2016) averages over the trailing ``normalized_shape`` axes of *one*
  example, so every example is normalized on its own.

With :math:`m` the number of values averaged,

.. math::

    \begin{aligned}
    \mu &= \frac1m \sum_i x_i,\\
    \sigma^2 &= \frac1m \sum_i (x_i-\mu)^2,\\
    \hat x_i &= \frac{x_i-\mu}{\sqrt{\sigma^2+\epsilon}}, \quad y_i = \gamma\,\hat x_i + \beta,
    \end{aligned}

and the backward pass (derived in the batch-normalization chapter through the three paths by which
:math:`x_i` reaches :math:`y` — directly, via :math:`\mu`, via :math:`\sigma^2`) collapses to

.. math::

    \begin{aligned}
    \bar x &= \frac{1}{\sqrt{\sigma^2+\epsilon}}\Bigl(\bar{\hat x} - \operatorname{mean}(\bar{\hat x})\\
    &\qquad - \hat x \operatorname{mean}(\bar{\hat x} \odot \hat x)\Bigr),\\
    \bar{\hat x} &= \gamma\,\bar y,
    \end{aligned}

the means being over the same axes as the forward statistics. It follows that, per feature,
:math:`\sum_i \bar x_i = 0` (the output ignores a shift of ``x``) and, for :math:`\epsilon = 0`,
:math:`\sum_i \bar x_i \hat x_i = 0` (it ignores a rescaling of ``x``): the gradient has no
component along the directions the normalization removes. With :math:`\epsilon > 0` the second sum
is :math:`\epsilon/(\sigma^2+\epsilon)` times :math:`m\,r\operatorname{mean}(\bar{\hat x}\odot\hat x)`,
because :math:`\epsilon` makes the output depend, slightly, on the scale of ``x``.

**What is cached, and why.** The forward pass keeps :math:`\hat x` (same shape as ``x``) and
:math:`r = 1/\sqrt{\sigma^2+\epsilon}` (one number per normalized group) — exactly the two things
the compact backward reads: :math:`\hat x` for :math:`\bar\gamma = \sum \bar y\,\hat x` and for the
projection term, :math:`r` for the final scaling. The input ``x`` and the mean are *not* kept:
:math:`x - \mu = \hat x / r` when a step needs it (the staged backward). As in llm.c's layernorm,
one could cache only :math:`\mu` and :math:`r` and recompute :math:`\hat x` from ``x``; nnmath trades
that memory for not re-reading ``x``.

**PyTorch conventions** (``torch.nn.BatchNorm1d/2d``, ``torch.nn.LayerNorm``): ``eps=1e-5``;
biased variance to normalize; ``running = (1 - momentum) * running + momentum * batch`` with
``momentum=0.1`` (``momentum=None`` gives the cumulative average) and the *unbiased* batch
variance (:math:`\frac{m}{m-1}\sigma^2`) stored in ``running_var``; evaluation mode normalizes
with the running statistics; batch norm in training mode refuses a single value per channel. The
same inputs give the same numbers as PyTorch (tested in float64). Three differences: the functional
forms take the differentiable arrays first (``batch_norm(x, gamma, beta, ...)``,
``layer_norm(x, gamma, beta, ...)``) so that ``nm.gradcheck`` can perturb them; the
statistics are computed in the input's dtype (PyTorch accumulates float32 in higher precision);
and a ``normalized_shape`` with a zero in it is an error (PyTorch returns the empty input).
Inputs beyond about :math:`10^{150}` overflow the squared deviations, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_ndim, check_same_shape
from .module import FunctionalModule, Parameter

__all__ = [
    "batch_norm", "batch_norm_backward", "batch_norm_backward_staged",
    "layer_norm", "layer_norm_backward",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "NormCache",
]

Grads = tuple[Array, Array | None, Array | None]


class NormCache(NamedTuple):
    """What the forward pass keeps for the backward pass (see the module docstring)."""

    xhat: Array                 # normalized input, same shape as x
    rstd: Array                 # 1/sqrt(var + eps), keepdims shape (one value per group)
    axes: tuple[int, ...]       # the axes the statistics were taken over
    param_view: tuple[int, ...]  # shape that broadcasts gamma/beta against x
    param_axes: tuple[int, ...]  # the axes dgamma and dbeta sum over (all but the feature axes)
    gamma: Array | None         # the scale (needed for d xhat = gamma * dy)
    has_beta: bool
    batch_stats: bool           # False: fixed (running) statistics, backward is a per-feature affine map


# --- shared pieces ----------------------------------------------------------------------------
def _normalize(x: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array, Array, Array]:
    """``(xhat, mean, var, rstd)`` with the *biased* variance over ``axes`` (keepdims)."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    return xc * rstd, mean, var, rstd


def _check_param(p: ArrayLike | None, shape: tuple[int, ...], name: str, x: Array, what: str) -> Array | None:
    if p is None:
        return None
    p = as_array(p, name)
    if p.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({what} of x.shape={x.shape}), got {name}.shape={p.shape}")
    return p


def _affine(xhat: Array, gamma: Array | None, beta: Array | None, view: tuple[int, ...]) -> Array:
    out = xhat if gamma is None else xhat * gamma.reshape(view)
    return out if beta is None else out + beta.reshape(view)


def _affine_backward(dout: ArrayLike, cache: NormCache) -> tuple[Array, Array, Array | None, Array | None]:
    r"""``(dout, dxhat, dgamma, dbeta)``: :math:`\bar{\hat x} = \gamma\bar y`,
    :math:`\bar\gamma = \sum \bar y\,\hat x`, :math:`\bar\beta = \sum \bar y` over the non-feature axes."""
    dout = as_array(dout, "dout")
    check_same_shape(dout, cache.xhat, "dout", "the output")
    param_shape = tuple(s for i, s in enumerate(cache.param_view) if i not in cache.param_axes)
    dgamma = dbeta = None
    dxhat = dout
    if cache.gamma is not None:
        dgamma = np.sum(dout * cache.xhat, axis=cache.param_axes).reshape(param_shape)
        dxhat = dout * cache.gamma.reshape(cache.param_view)
    if cache.has_beta:
        dbeta = np.sum(dout, axis=cache.param_axes).reshape(param_shape)
    return dout, dxhat, dgamma, dbeta


def _normalize_backward(dxhat: Array, cache: NormCache) -> Array:
    """The compact form:
    ``rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))``."""
    if not cache.batch_stats:
        # fixed statistics: xhat = (x - running_mean) * rstd is affine in x
        return dxhat * cache.rstd
    xhat, axes = cache.xhat, cache.axes
    # the two means are the gradient flowing back through mu (the first) and through
    # sigma^2 (the second); subtracting them projects dxhat onto the complement of
    # {1, xhat}
    return cache.rstd * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                         - xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True))


# --- batch normalization ----------------------------------------------------------------------
def batch_norm(x: ArrayLike, gamma: ArrayLike | None = None, beta: ArrayLike | None = None, eps: float = 1e-5, *,
               running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
               training: bool = True, momentum: float = 0.1) -> tuple[Array, NormCache]:
    r"""Batch normalization over every axis except the channel axis 1 (``torch.nn.functional.batch_norm``).

    .. math::

        \begin{aligned}
        \mu_c &= \frac1m\sum_{i} x_{ic},\\
        \sigma_c^2 &= \frac1m\sum_{i}(x_{ic}-\mu_c)^2,\\
        y_{ic} &= \gamma_c\,\frac{x_{ic}-\mu_c}{\sqrt{\sigma_c^2+\epsilon}} + \beta_c,
        \end{aligned}

    where :math:`i` runs over the :math:`m = N\cdot L` or :math:`N\cdot H\cdot W` positions of
    channel :math:`c`.

    Parameters
    ----------
    x : array_like of shape (N, C), (N, C, L) or (N, C, H, W)
    gamma, beta : array_like of shape (C,), optional
        Scale and shift; omitted means 1 and 0 (``affine=False``).
    eps : float
        Added to the variance (PyTorch's 1e-5).
    running_mean, running_var : ndarray of shape (C,), optional
        Training mode: updated **in place** with ``(1 - momentum) * running + momentum * batch``,
        the unbiased batch variance going into ``running_var``. Evaluation mode
        (``training=False``): the statistics used to normalize (required).
    training : bool
        Use the batch's statistics (True) or the running ones (False).
    momentum : float
        Weight of the new batch in the running averages.

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : NormCache
        :math:`\hat x`, :math:`1/\sqrt{\sigma^2+\epsilon}` per channel and ``gamma``.

    Raises
    ------
    ValueError
        For ``x`` of fewer than 2 dimensions, parameters whose length is not ``C``, or a single
        value per channel in training mode (its variance is 0 and :math:`\hat x` would be 0).
    """
    x = as_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-D (N, C, ...), got shape {x.shape}")
    C = x.shape[1]
    gamma = _check_param(gamma, (C,), "gamma", x, "C = x.shape[1]")
    beta = _check_param(beta, (C,), "beta", x, "C = x.shape[1]")
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and not (isinstance(r, np.ndarray) and r.dtype.kind == "f"):
            raise TypeError(f"{name} must be a floating-point ndarray (training mode updates it in place), "
                            f"got {type(r).__name__} of dtype={np.asarray(r).dtype}")
        _check_param(r, (C,), name, x, "C = x.shape[1]")
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, C) + (1,) * (x.ndim - 2)
    m = x.size // C if C else 0
    if training:
        if m <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input of shape {x.shape}")
        xhat, mean, var, rstd = _normalize(x, axes, eps)
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean.reshape(C)
        if running_var is not None:
            running_var *= 1.0 - momentum
            running_var += momentum * var.reshape(C) * (m / (m - 1))  # unbiased, as PyTorch
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm with training=False needs running_mean and running_var")
        # the running statistics are float64; cast so a float32 input stays float32 (as in training mode)
        rstd = (1.0 / np.sqrt(as_array(running_var, "running_var") + eps)).reshape(view).astype(x.dtype)
        xhat = (x - as_array(running_mean, "running_mean").reshape(view).astype(x.dtype)) * rstd
    out = _affine(xhat, gamma, beta, view)
    return out, NormCache(xhat, rstd, axes, view, axes, gamma, beta is not None, training)


def batch_norm_backward(dout: ArrayLike, cache: NormCache) -> Grads:
    r"""Gradients of :func:`batch_norm` in the compact derived form.

    .. math::

        \begin{aligned}
        \bar{\hat x} &= \gamma\,\bar y,\\
        \bar x &= \frac{1}{\sqrt{\sigma^2+\epsilon}}\Bigl(\bar{\hat x}
            - \operatorname{mean}(\bar{\hat x})\\
        &\qquad - \hat x\,\operatorname{mean}(\bar{\hat x}\odot\hat x)\Bigr),\\
        \bar\gamma &= \sum \bar y\odot\hat x, \qquad \bar\beta = \sum \bar y,
        \end{aligned}

    means and sums over the batch (and spatial) axes. In evaluation mode the statistics
    are constants and
    :math:`\bar x = \bar{\hat x}/\sqrt{\sigma^2_{\rm running}+\epsilon}`.

    Returns
    -------
    (dx, dgamma, dbeta)
        ``dx`` has the shape of ``x``; ``dgamma`` and ``dbeta`` are ``None`` when
        ``gamma`` or ``beta`` was not given (the package's convention: one gradient per
        positional input).
    """
    _, dxhat, dgamma, dbeta = _affine_backward(dout, cache)
    return _normalize_backward(dxhat, cache), dgamma, dbeta


def batch_norm_backward_staged(dout: ArrayLike, cache: NormCache) -> Grads:
    r"""Gradients of :func:`batch_norm`, one step per node of the computation graph.

    The input reaches the output along three paths — directly through :math:`\hat x`,
    through the mean :math:`\mu` and through the variance :math:`\sigma^2` — and the
    chain rule sums them (Ioffe & Szegedy, 2015, Section 3):

    .. math::

        \begin{aligned}
        \bar{\hat x}_i &= \gamma\,\bar y_i \\
        \bar{\sigma^2} &= \sum_i \bar{\hat x}_i\,(x_i-\mu)\\
        &\qquad \cdot\bigl(-\tfrac12\bigr)(\sigma^2+\epsilon)^{-3/2} \\
        \bar\mu &= \sum_i \bar{\hat x}_i\cdot\frac{-1}{\sqrt{\sigma^2+\epsilon}}\\
        &\qquad + \bar{\sigma^2}\cdot\frac{-2}{m}\sum_i (x_i-\mu) \\
        \bar x_i &= \frac{\bar{\hat x}_i}{\sqrt{\sigma^2+\epsilon}}
            + \bar{\sigma^2}\,\frac{2(x_i-\mu)}{m}\\
        &\qquad + \frac{\bar\mu}{m}.
        \end{aligned}

    It returns the same gradients as :func:`batch_norm_backward`, which is this sum
    simplified; the tests check one against the other.
    """
    if not cache.batch_stats:
        return batch_norm_backward(dout, cache)
    _, dxhat, dgamma, dbeta = _affine_backward(dout, cache)
    axes, rstd = cache.axes, cache.rstd
    m = cache.xhat.size // rstd.size
    xc = cache.xhat / rstd                      # x - mu, recovered from the cache
    var_eps = 1.0 / rstd**2                     # sigma^2 + eps
    # node sigma^2: xhat depends on it through (sigma^2 + eps)^(-1/2)
    dvar = np.sum(dxhat * xc, axis=axes, keepdims=True) * -0.5 * var_eps**-1.5
    # node mu: directly through xhat, and through sigma^2 (whose term is 0 since
    # sum(x - mu) = 0)
    dmu = (np.sum(-dxhat * rstd, axis=axes, keepdims=True)
           + dvar * (-2.0 / m) * np.sum(xc, axis=axes, keepdims=True))
    # node x: the three paths
    direct = dxhat * rstd
    via_var = dvar * 2.0 * xc / m
    via_mean = dmu / m
    return direct + via_var + via_mean, dgamma, dbeta


# --- layer normalization ----------------------------------------------------------------------
def _as_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(normalized_shape),) if np.isscalar(normalized_shape) else tuple(int(s) for s in normalized_shape)


def layer_norm(x: ArrayLike, gamma: ArrayLike | None = None,
               beta: ArrayLike | None = None, eps: float = 1e-5, *,
               normalized_shape: int | Sequence[int] | None = None
               ) -> tuple[Array, NormCache]:
    r"""Layer normalization over the trailing ``normalized_shape`` axes
    (``torch.nn.functional.layer_norm``).

    Each example (each row, or each position of a sequence) is normalized with its own
    mean and biased variance over its last :math:`k` axes, then scaled and shifted
    element-wise: :math:`y = \gamma\odot\hat x + \beta` with ``gamma`` and ``beta`` of
    shape ``normalized_shape``.

    Parameters
    ----------
    x : array_like of shape (..., \*normalized_shape)
    gamma, beta : array_like of shape normalized_shape, optional
    eps : float
    normalized_shape : int or tuple of int, optional
        The trailing shape to normalize over; defaults to ``gamma.shape`` (or
        ``beta.shape``), else to the last axis. PyTorch takes it as the second
        positional argument; nnmath takes the arrays first so that ``nm.gradcheck`` can
        perturb them.

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : NormCache
        :math:`\hat x` and :math:`1/\sqrt{\sigma^2+\epsilon}` per example.
    """
    x = as_array(x, "x")
    if normalized_shape is None:
        ref = gamma if gamma is not None else beta
        shape = np.shape(ref) if ref is not None else x.shape[-1:]
    else:
        shape = _as_shape(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"x.shape={x.shape} does not end with "
                         f"normalized_shape={shape}")
    if 0 in shape:  # PyTorch returns the empty x; a mean over no entries is undefined
        raise ValueError(f"normalized_shape={shape} has no entries to normalize over "
                         f"(x.shape={x.shape})")
    gamma = _check_param(gamma, shape, "gamma", x, "normalized_shape")
    beta = _check_param(beta, shape, "beta", x, "normalized_shape")
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat, _, _, rstd = _normalize(x, axes, eps)
    view = (1,) * (x.ndim - k) + shape
    out = _affine(xhat, gamma, beta, view)
    return out, NormCache(xhat, rstd, axes, view, tuple(range(x.ndim - k)), gamma,
                          beta is not None, True)


def layer_norm_backward(dout: ArrayLike, cache: NormCache) -> Grads:
    r"""Gradients of :func:`layer_norm`: the same compact form as batch norm, with the
    means over the normalized (trailing) axes of each example and
    :math:`\bar\gamma,\bar\beta` summed over the leading axes.

    Returns ``(dx, dgamma, dbeta)``, with ``None`` for a ``gamma`` or ``beta`` that was
    not given.
    """
    _, dxhat, dgamma, dbeta = _affine_backward(dout, cache)
    return _normalize_backward(dxhat, cache), dgamma, dbeta


# --- modules ----------------------------------------------------------------------------------
class _BatchNorm(FunctionalModule):
    """Shared body of :class:`BatchNorm1d` and :class:`BatchNorm2d` (as ``torch.nn.modules.batchnorm._BatchNorm``):
    :func:`batch_norm` with the module's parameters, plus what is its own — the running statistics."""

    _op, _op_backward = staticmethod(batch_norm), staticmethod(batch_norm_backward)
    _params = ("weight", "bias")

    _ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features)) if affine else None
        self.bias = Parameter(np.zeros(num_features)) if affine else None
        self.running_mean: np.ndarray | None = np.zeros(num_features) if track_running_stats else None
        self.running_var: np.ndarray | None = np.ones(num_features) if track_running_stats else None
        self.num_batches_tracked = 0

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, counter 0 (PyTorch's initial state)."""
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features)
            self.running_var = np.ones(self.num_features)
            self.num_batches_tracked = 0

    def forward(self, x: ArrayLike) -> Array:
        x = as_array(x, "x")
        check_ndim(x, self._ndims, "x", self._layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"x has {x.shape[1]} channels on axis 1 (x.shape={x.shape}) but "
                             f"{type(self).__name__} was built for num_features={self.num_features}")
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
        return super().forward(x)

    def _kwargs(self) -> dict[str, Any]:
        """Batch statistics in training mode (updating the running ones) or without running
        statistics; the running statistics in evaluation mode."""
        use_batch_stats = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        # momentum=None: cumulative moving average, as PyTorch
        factor = 1.0 / max(self.num_batches_tracked, 1) if self.momentum is None else self.momentum
        stats = update or not use_batch_stats
        return dict(eps=self.eps, running_mean=self.running_mean if stats else None,
                    running_var=self.running_var if stats else None, training=use_batch_stats,
                    momentum=factor if update else 0.0)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``.

    Normalizes each feature of an ``(N, C)`` input over the batch (of an ``(N, C, L)`` input over
    batch and length) — see :func:`batch_norm`.

    Training mode (``model.train()``, the default) uses the batch's mean and biased variance and
    updates ``running_mean``/``running_var`` (unbiased) with ``momentum``; evaluation mode
    (``model.eval()``) normalizes with the running statistics, so the output of one example no
    longer depends on the rest of the batch and the layer is a fixed per-feature affine map. With
    ``track_running_stats=False`` the batch statistics are used in both modes.

    Attributes
    ----------
    weight, bias : Parameter of shape (C,) or None
        :math:`\gamma` (ones) and :math:`\beta` (zeros); ``None`` when ``affine=False``.
    running_mean, running_var : ndarray of shape (C,) or None
        Zeros and ones at creation.
    num_batches_tracked : int
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    r"""``torch.nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``.

    Normalizes each channel of an ``(N, C, H, W)`` input over the batch and all spatial positions,
    i.e. over :math:`m = N H W` values (the "convolutional" batch norm of Ioffe & Szegedy's
    Section 3.2: one :math:`\gamma_c, \beta_c` per feature map). Modes, running statistics and
    attributes as :class:`BatchNorm1d`.
    """

    _ndims = (4,)
    _layout = "(N, C, H, W)"


class LayerNorm(FunctionalModule):
    r"""``torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``.

    Normalizes every example over its trailing ``normalized_shape`` axes (see :func:`layer_norm`).
    There are no running statistics: training and evaluation mode compute the same function.

    Attributes
    ----------
    weight : Parameter of shape normalized_shape or None
        Ones at creation; ``None`` when ``elementwise_affine=False``.
    bias : Parameter of shape normalized_shape or None
        Zeros at creation; ``None`` when ``elementwise_affine=False`` or ``bias=False``.
    """

    _op, _op_backward = staticmethod(layer_norm), staticmethod(layer_norm_backward)
    _params = ("weight", "bias")
    _options = ("eps", "normalized_shape")

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True) -> None:
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape)) if elementwise_affine and bias else None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
