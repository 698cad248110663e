r"""What happens to ``Parameter.grad`` between ``backward`` and ``optimizer.step()``: clipping.

**Clipping by norm** (Pascanu, Mikolov & Bengio, 2013) rescales *all* gradients together when
their global norm :math:`\|g\| = \bigl(\sum_p \|g_p\|^2\bigr)^{1/2}` exceeds a threshold
:math:`c`:

.. math:: g \leftarrow g \cdot \min\Bigl(1, \frac{c}{\|g\| + 10^{-6}}\Bigr),

which bounds the step and keeps its direction. **Clipping by value** clamps each entry to
:math:`[-c, c]`, which bounds the step too but changes its direction. Both follow
``torch.nn.utils`` (``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_``): the same constant :math:`10^{-6}`, the same return value. One
difference: where the squares of huge gradients overflow, PyTorch's norm is ``inf`` (and the
gradient is zeroed); nnmath rescales and returns the finite norm.

Gradient accumulation over micro-batches is :func:`nnmath.training.accumulate_gradients`; the
exploding-gradient example of Pascanu et al., :func:`nnmath.models.one_unit_rnn`, is among the
models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_array
from .module import Parameter

__all__ = [
    "get_total_norm", "clip_grads_with_norm_", "clip_grad_norm_", "clip_grad_value_",
]


def _param_list(parameters: Parameter | Iterable[Parameter]) -> list[Parameter]:
    # like torch: a single parameter or any iterable of them (a generator is consumed once)
    return [parameters] if isinstance(parameters, Parameter) else list(parameters)


def _robust_norm(v: np.ndarray, q: float) -> float:
    """``np.linalg.norm(v, q)``, rescaled by the largest entry when squaring would overflow.

    PyTorch returns ``inf`` for, e.g., two entries of 1e200 (their squares overflow), and
    ``clip_grad_norm_`` then zeroes the gradient; nnmath returns the finite norm instead. Results
    are bit-identical to the plain formula whenever that is finite.
    """
    if not v.size:
        return 0.0
    with np.errstate(over="ignore"):
        n = float(np.linalg.norm(v, ord=q))
    if math.isinf(n) and np.isfinite(v).all():
        m = float(np.abs(v).max())
        n = m * float(np.linalg.norm(v / m, ord=q))
    return n


def get_total_norm(tensors: ArrayLike | Iterable[ArrayLike], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> float:
    r"""The norm of all entries of all ``tensors`` taken together (``torch.nn.utils.get_total_norm``).

    Computed as the norm of the per-tensor norms, :math:`\bigl\|(\|g_1\|_q, \ldots, \|g_k\|_q)\bigr\|_q`,
    which equals the :math:`q`-norm of the concatenation without building it. ``norm_type=inf``
    gives the largest absolute entry.

    Parameters
    ----------
    tensors : array_like or iterable of array_like
        Usually the gradients, ``[p.grad for p in params]``.
    norm_type : float
        :math:`q`; ``float("inf")`` for the max-norm.
    error_if_nonfinite : bool
        Raise ``RuntimeError`` when the total is ``nan`` or ``inf`` (PyTorch's option).

    Returns
    -------
    float
        0.0 for an empty list, as in PyTorch.
    """
    arrays = [as_array(tensors, "tensors")] if isinstance(tensors, np.ndarray) else \
        [as_array(t, "tensors") for t in tensors]
    if not arrays:
        return 0.0
    q = float(norm_type)
    if q <= 0:
        raise ValueError(f"norm_type must be positive, got {norm_type}")
    norms = np.array([_robust_norm(a.ravel(), q) for a in arrays])
    total = _robust_norm(norms, q)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is non-finite ({total}), "
                           "so it cannot be clipped; set error_if_nonfinite=False to clip anyway")
    return total


def clip_grads_with_norm_(parameters: Parameter | Iterable[Parameter], max_norm: float,
                          total_norm: float) -> None:
    r"""Scale every ``p.grad`` in place by :math:`\min(1, c/(\text{total} + 10^{-6}))`
    (``torch.nn.utils.clip_grads_with_norm_``).

    The :math:`10^{-6}` keeps the division finite for a zero gradient and makes the clipped norm
    land just *below* :math:`c`. All gradients share one factor, so their direction — the
    concatenated vector's — is unchanged.
    """
    # np.minimum propagates nan (a nan norm makes nan gradients, as in PyTorch); min() would not
    with np.errstate(invalid="ignore"):
        coef = float(np.minimum(1.0, float(max_norm) / (float(total_norm) + 1e-6)))
        for p in _param_list(parameters):
            p.grad *= coef


def clip_grad_norm_(parameters: Parameter | Iterable[Parameter], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    r"""Clip the *global* gradient norm of ``parameters`` to ``max_norm``, in place
    (``torch.nn.utils.clip_grad_norm_``).

    .. math::

        \begin{aligned}
        \|g\| &= \Bigl(\sum_{p}\sum_i |g_{p,i}|^q\Bigr)^{1/q},\\
        g_p &\leftarrow g_p \cdot \min\Bigl(1, \frac{c}{\|g\| + 10^{-6}}\Bigr).
        \end{aligned}

    Parameters
    ----------
    parameters : Parameter or iterable of Parameter
    max_norm : float
        :math:`c`.
    norm_type : float
        :math:`q` (2 by default; ``float("inf")`` for the largest entry).
    error_if_nonfinite : bool
        Raise ``RuntimeError`` if the norm is ``nan``/``inf`` instead of scaling by it.

    Returns
    -------
    float
        The total norm **before** clipping (PyTorch returns it as a 0-d tensor) — log
        it: a gradient norm that keeps hitting the threshold is the first sign of an
        unstable run.
    """
    params = _param_list(parameters)
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: Parameter | Iterable[Parameter], clip_value: float) -> None:
    r"""Clamp every gradient entry to :math:`[-c, c]` in place (``torch.nn.utils.clip_grad_value_``).

    Each coordinate is treated on its own, so the clipped gradient generally points in a
    different direction from the original (the chapter "Training in practice" measures the angle).
    """
    c = float(clip_value)
    if c < 0:
        raise ValueError(f"clip_value must be non-negative, got {clip_value}")
    for p in _param_list(parameters):
        np.clip(p.grad, -c, c, out=p.grad)
