r"""Loss functions as forward/backward pairs, and their modules.

Each ``<loss>(input, target, reduction="mean")`` returns ``(loss, cache)`` and
``<loss>_backward(dout, cache)`` returns the gradient with respect to ``input`` (targets are
data, treated as constants). ``dout`` is the upstream gradient of the (scalar, or per-element for
``reduction="none"``) loss — 1.0 when the loss is the final objective.

Fused forms are used where they are more stable *and* simpler: binary cross-entropy takes logits
(:math:`\bar z = \sigma(z) - y`) and softmax cross-entropy goes through log-softmax
(:math:`\bar z = p - \mathrm{onehot}(y)`), the way ``torch.nn.BCEWithLogitsLoss`` and
``torch.nn.CrossEntropyLoss`` do.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_ndim, check_same_shape
from .activations import log_softmax, sigmoid
from .module import FunctionalModule

__all__ = [
    "mse_loss", "mse_loss_backward", "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward", "cross_entropy", "cross_entropy_backward",
    "MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "MSECache", "BCECache", "CrossEntropyCache",
]

Reduction = Literal["mean", "sum", "none"]


class MSECache(NamedTuple):
    diff: Array                 # input - target, the gradient's only array factor
    reduction: str              # how the per-element losses were reduced


class BCECache(NamedTuple):
    z: Array                    # the logits (the gradient needs sigmoid(z))
    y: Array                    # the targets
    reduction: str


class CrossEntropyCache(NamedTuple):
    p: Array                    # softmax(z), shape (N, C)
    y: Array                    # the target distribution (one-hot, soft, or smoothed), shape (N, C)
    reduction: str


def _reduce(losses: Array, reduction: Reduction) -> Array:
    if reduction == "mean":
        # sum / count: the same arithmetic as ndarray.mean, without its per-call overhead
        # an empty batch has loss 0 (and a (0, ...) gradient), not 0/0
        return np.asarray(losses.sum() / max(losses.size, 1))
    if reduction == "sum":
        return np.asarray(losses.sum())
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _unreduce(dout: ArrayLike, shape: tuple[int, ...], count: int, reduction: Reduction) -> Array | float:
    """The gradient of the reduction: ``dout`` for ``"none"``; for a reduced loss the scalar
    ``dout / count`` (mean) or ``dout`` (sum), which broadcasts back over ``shape`` when multiplied
    (cheaper than materialising the full array). An empty batch (``count == 0``) gets an empty
    gradient, not a ``ZeroDivisionError``: the forward returned 0 for it."""
    dout = as_array(dout, "dout")
    if reduction == "none":
        if dout.shape != shape:
            raise ValueError(f"dout must have the loss's shape {shape}, got dout.shape={dout.shape}")
        return dout
    if dout.size != 1:
        raise ValueError(f"dout of a reduced loss must be a scalar, got dout.shape={dout.shape}")
    return float(dout.reshape(())) / (max(count, 1) if reduction == "mean" else 1)


def mse_loss(input: ArrayLike, target: ArrayLike, reduction: Reduction = "mean") -> tuple[Array, MSECache]:
    r"""Mean squared error :math:`L = \frac1n \sum_i (\hat y_i - y_i)^2` (``torch.nn.MSELoss``).

    Note there is no factor :math:`\tfrac12`: the gradient is :math:`\frac2n(\hat y - y)`.
    """
    yhat, y = as_array(input, "input"), as_array(target, "target")
    check_same_shape(yhat, y, "input", "target")
    diff = yhat - y
    return _reduce(diff**2, reduction), MSECache(diff, reduction)


def mse_loss_backward(dout: ArrayLike, cache: MSECache) -> Array:
    r""":math:`\bar{\hat y} = \frac{2}{n}(\hat y - y)\,\bar L` (without the :math:`1/n`
    for ``"sum"``)."""
    diff, reduction = cache
    return 2.0 * diff * _unreduce(dout, diff.shape, diff.size, reduction)


def binary_cross_entropy_with_logits(input: ArrayLike, target: ArrayLike,
                                     reduction: Reduction = "mean") -> tuple[Array, BCECache]:
    r"""Binary cross-entropy of logits :math:`z` against targets :math:`y \in [0, 1]`:

    .. math::

        \begin{aligned}
        \ell &= -y\log\sigma(z)\\
        &\qquad - (1-y)\log(1-\sigma(z))\\
        &= \max(z,0) - zy + \log(1+e^{-|z|}),
        \end{aligned}

    the right-hand form being finite for every float ``z`` (``torch.nn.BCEWithLogitsLoss``).
    """
    z, y = as_array(input, "input"), as_array(target, "target")
    check_same_shape(z, y, "input", "target")
    losses = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return _reduce(losses, reduction), BCECache(z, y, reduction)


def binary_cross_entropy_with_logits_backward(dout: ArrayLike, cache: BCECache) -> Array:
    r""":math:`\bar z = (\sigma(z) - y)\,\bar\ell`."""
    z, y, reduction = cache
    return (sigmoid(z)[0] - y) * _unreduce(dout, z.shape, z.size, reduction)


def cross_entropy(input: ArrayLike, target: ArrayLike, reduction: Reduction = "mean",
                  label_smoothing: float = 0.0) -> tuple[Array, CrossEntropyCache]:
    r"""Softmax cross-entropy of logits ``input`` of shape ``(N, C)`` (``torch.nn.CrossEntropyLoss``).

    ``target`` is either class indices of shape ``(N,)`` (integers in ``[0, C)``) or class
    probabilities of shape ``(N, C)``. With :math:`\log p = \mathrm{log\_softmax}(z)`,
    :math:`\ell_n = -\sum_c y_{nc} \log p_{nc}`.

    ``label_smoothing`` :math:`\varepsilon \in [0, 1]` replaces the target distribution by
    :math:`(1-\varepsilon)\,y + \varepsilon/C` (Szegedy et al., 2016), for class indices
    (:math:`y` = one-hot) and probabilities alike, as PyTorch does.
    """
    z = as_array(input, "input")
    check_ndim(z, 2, "input", "(N, C) logits")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    t = np.asarray(target)
    if t.ndim == 1 and np.issubdtype(t.dtype, np.integer):
        if t.shape[0] != z.shape[0]:
            raise ValueError(f"target has {t.shape[0]} labels for {z.shape[0]} rows of logits: "
                             f"input.shape={z.shape}, target.shape={t.shape}")
        if t.size and (t.min() < 0 or t.max() >= z.shape[1]):
            raise ValueError(f"class indices must be in [0, {z.shape[1]}), got min {t.min()} and max {t.max()}")
        y = np.zeros_like(z)
        y[np.arange(z.shape[0]), t] = 1.0
    else:
        y = as_array(t, "target")
        if y.shape != z.shape:
            raise ValueError("target must be integer class indices of shape (N,) or probabilities of the "
                             f"input's shape: input.shape={z.shape}, target.shape={y.shape}")
    if label_smoothing:
        y = (1.0 - label_smoothing) * y + label_smoothing / z.shape[1]
    logp, (p, _) = log_softmax(z, axis=1)
    losses = -np.sum(y * logp, axis=1)
    return _reduce(losses, reduction), CrossEntropyCache(p, y, reduction)


def cross_entropy_backward(dout: ArrayLike, cache: CrossEntropyCache) -> Array:
    r""":math:`\bar z_n = (p_n - y_n)\,\bar\ell_n`; with the mean over :math:`N`,
    :math:`(p - y)/N`.

    (For soft targets the general form is :math:`p\sum_c y_c - y`; rows of ``y``
    sum to 1. The smoothed target is such a soft target.)"""
    p, y, reduction = cache
    g = _unreduce(dout, (p.shape[0],), p.shape[0], reduction)
    return ((p * y.sum(axis=1, keepdims=True) - y)
            * (g[:, None] if isinstance(g, np.ndarray) else g))


class _Loss(FunctionalModule):
    """A loss module: ``loss_fn(input, target)``; ``backward()`` starts from 1 (the loss is the objective)."""

    _options = ("reduction",)

    def __init__(self, reduction: Reduction = "mean") -> None:
        self.reduction = reduction

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        """Gradient w.r.t. ``input``; ``dout`` defaults to 1 (the loss is the objective)."""
        return super().backward(dout)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """``torch.nn.MSELoss``: see :func:`mse_loss`."""
    _op, _op_backward = staticmethod(mse_loss), staticmethod(mse_loss_backward)


class BCEWithLogitsLoss(_Loss):
    """``torch.nn.BCEWithLogitsLoss``: see :func:`binary_cross_entropy_with_logits`."""
    _op = staticmethod(binary_cross_entropy_with_logits)
    _op_backward = staticmethod(binary_cross_entropy_with_logits_backward)


class CrossEntropyLoss(_Loss):
    """``torch.nn.CrossEntropyLoss(reduction='mean', label_smoothing=0.0)``: see :func:`cross_entropy`."""
    _op, _op_backward = staticmethod(cross_entropy), staticmethod(cross_entropy_backward)

    _options = ("reduction", "label_smoothing")

    def __init__(self, reduction: Reduction = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.label_smoothing = label_smoothing

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"
