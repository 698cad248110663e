r"""Measure how signals and gradients travel through a deep network at initialization.

Nothing here is simulated: :func:`layer_statistics` runs a real forward pass and a real backward
pass through the modules of a :class:`~nnmath.module.Sequential` (the same ``forward``/``backward``
that training uses) and summarises, for every ``Linear`` layer :math:`\ell`,

* the pre-activation :math:`z_\ell = h_{\ell-1} W_\ell + b_\ell` and the activation
  :math:`h_\ell = f(z_\ell)`: mean, standard deviation, and the fraction of saturated (sigmoid,
  tanh) or inactive and dead (ReLU) units;
* the back-propagated gradients :math:`\bar h_\ell = \partial L/\partial h_\ell` and
  :math:`\bar z_\ell = \bar h_\ell \odot f'(z_\ell)`, and the weight gradient
  :math:`\bar W_\ell = h_{\ell-1}^\top \bar z_\ell`.

:func:`input_output_jacobian` computes the exact Jacobian :math:`J = \partial y/\partial x` of a
network by back-propagating every output basis vector at once, and :func:`jacobian_singular_values`
its singular values — the quantity that "dynamical isometry" (Saxe et al., 2014; Pennington et
al., 2017) asks to be all close to 1. :func:`~nnmath.models.deep_mlp` builds the plain deep
networks these functions are meant for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_ndim, check_same_shape
from .activations import ReLU, Sigmoid, Tanh
from .linear import Linear
from .module import Module, Parameter, Sequential
from .rng import get_rng

__all__ = ["NetworkStatistics", "layer_statistics", "input_output_jacobian",
           "input_output_jacobian_naive", "jacobian_singular_values"]

@dataclass
class NetworkStatistics:
    r"""Per-layer statistics from one forward and backward pass (see :func:`layer_statistics`).

    Every array attribute has one entry per ``Linear`` layer, input side first. Block
    :math:`\ell` is a ``Linear`` and the modules after it up to the next ``Linear``: it maps
    :math:`h_{\ell-1}` to :math:`z_\ell` (the ``Linear``) and :math:`z_\ell` to :math:`h_\ell`
    (the rest; :math:`h_\ell = z_\ell` when there is no activation). Means and standard deviations
    are over all entries (batch and units); norms are Frobenius norms over the batch.

    Attributes
    ----------
    pre_mean : ndarray
        Mean of the pre-activations :math:`z_\ell`.
    pre_std : ndarray
        Standard deviation of :math:`z_\ell`.
    act_mean : ndarray
        Mean of the activations :math:`h_\ell`.
    act_std : ndarray
        Standard deviation of :math:`h_\ell`.
    frac_saturated : ndarray
        Sigmoid/tanh blocks: fraction of entries whose local derivative :math:`f'(z)` is below
        ``saturation`` times its maximum (¼ for sigmoid, 1 for tanh). NaN for other blocks.
    frac_zero : ndarray
        ReLU blocks: fraction of entries with :math:`h = 0` (zero derivative). NaN otherwise.
    frac_dead : ndarray
        ReLU blocks: fraction of *units* that are zero for every sample of the batch. NaN otherwise.
    grad_act_norm : ndarray
        Norm of :math:`\bar h_\ell = \partial L/\partial h_\ell`.
    grad_act_std : ndarray
        Standard deviation of the entries of :math:`\bar h_\ell`.
    grad_pre_norm : ndarray
        Norm of :math:`\bar z_\ell = \partial L/\partial z_\ell`.
    grad_pre_std : ndarray
        Standard deviation of the entries of :math:`\bar z_\ell`.
    weight_std : ndarray
        Standard deviation of the entries of :math:`W_\ell`.
    weight_grad_norm : ndarray
        Norm of :math:`\bar W_\ell`.
    weight_grad_std : ndarray
        Standard deviation of the entries of :math:`\bar W_\ell`.
    input_grad_norm : float
        Norm of :math:`\bar x = \partial L/\partial x`, the gradient that reaches the input.
    input_grad_std : float
        Standard deviation of the entries of :math:`\bar x`.
    loss : float or None
        The loss value, when a loss module was given.
    activations : list of ndarray
        :math:`h_\ell` for every layer (only with ``keep=True``; empty otherwise).
    pre_activations : list of ndarray
        :math:`z_\ell` (only with ``keep=True``).
    act_grads : list of ndarray
        :math:`\bar h_\ell` (only with ``keep=True``).
    pre_grads : list of ndarray
        :math:`\bar z_\ell` (only with ``keep=True``).
    input_grad : ndarray or None
        :math:`\bar x` (only with ``keep=True``).
    """

    pre_mean: np.ndarray
    pre_std: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    frac_saturated: np.ndarray
    frac_zero: np.ndarray
    frac_dead: np.ndarray
    grad_act_norm: np.ndarray
    grad_act_std: np.ndarray
    grad_pre_norm: np.ndarray
    grad_pre_std: np.ndarray
    weight_std: np.ndarray
    weight_grad_norm: np.ndarray
    weight_grad_std: np.ndarray
    input_grad_norm: float
    input_grad_std: float
    loss: float | None = None
    activations: list[np.ndarray] = field(default_factory=list, repr=False)
    pre_activations: list[np.ndarray] = field(default_factory=list, repr=False)
    act_grads: list[np.ndarray] = field(default_factory=list, repr=False)
    pre_grads: list[np.ndarray] = field(default_factory=list, repr=False)
    input_grad: np.ndarray | None = field(default=None, repr=False)

    @property
    def depth(self) -> int:
        """Number of ``Linear`` layers."""
        return len(self.pre_std)

    def rows(self) -> list[dict[str, float]]:
        """One dict per layer with the scalar statistics (for tables)."""
        names = ["pre_mean", "pre_std", "act_mean", "act_std", "frac_saturated", "frac_zero", "frac_dead",
                 "grad_act_norm", "grad_act_std", "grad_pre_norm", "grad_pre_std", "weight_std",
                 "weight_grad_norm", "weight_grad_std"]
        return [{"layer": i + 1, **{n: float(getattr(self, n)[i]) for n in names}} for i in range(self.depth)]

    def __str__(self) -> str:
        head = (f"{'layer':>5} {'act mean':>10} {'act std':>10} {'saturated':>10} {'dead':>8} "
                f"{'|dL/dh|':>10} {'|dL/dW|':>10}")
        lines = [head]
        for r in self.rows():
            sat = r["frac_saturated"] if not math.isnan(r["frac_saturated"]) else r["frac_zero"]
            lines.append(f"{r['layer']:>5} {r['act_mean']:>10.3g} {r['act_std']:>10.3g} {sat:>10.3f} "
                         f"{r['frac_dead']:>8.3f} {r['grad_act_norm']:>10.3g} {r['weight_grad_norm']:>10.3g}")
        return "\n".join(lines)


def _leaves(model: Module) -> Iterator[Module]:
    """The modules of a (possibly nested) Sequential, in execution order."""
    if isinstance(model, Sequential):
        for layer in model:
            yield from _leaves(layer)
    else:
        yield model


def _blocks(model: Module) -> list[list[Module]]:
    if not isinstance(model, Sequential):
        raise TypeError(f"layer_statistics needs a Sequential, got {type(model).__name__}")
    blocks: list[list[Module]] = []
    for m in _leaves(model):
        if isinstance(m, Linear):
            blocks.append([m])
        elif not blocks:
            raise ValueError(f"the first module must be a Linear (a block starts at each Linear), got "
                             f"{type(m).__name__}")
        else:
            blocks[-1].append(m)
    if not blocks:
        raise ValueError("the Sequential contains no Linear layer")
    return blocks


def _activity(block: list[Module], h: np.ndarray, saturation: float) -> tuple[float, float, float]:
    """``(frac_saturated, frac_zero, frac_dead)`` of a block's output, from its last module's type.

    The local derivative is recomputed from the output ``h`` — exactly what the module's backward
    uses: :math:`\\sigma(1-\\sigma)`, :math:`1-\\tanh^2`, :math:`\\mathbb 1[h>0]`.
    """
    last = block[-1]
    nan = float("nan")
    if isinstance(last, Sigmoid):
        return float(np.mean(h * (1.0 - h) < saturation * 0.25)), nan, nan
    if isinstance(last, Tanh):
        return float(np.mean(1.0 - h * h < saturation)), nan, nan
    if isinstance(last, ReLU):
        inactive = h.reshape(-1, h.shape[-1]) <= 0.0
        return nan, float(np.mean(inactive)), float(np.mean(np.all(inactive, axis=0)))
    return nan, nan, nan


def layer_statistics(model: Sequential, x: ArrayLike, dout: ArrayLike | None = None, *,
                     loss: Module | None = None, target: ArrayLike | None = None,
                     rng: np.random.Generator | None = None, keep: bool = False,
                     saturation: float = 0.01) -> NetworkStatistics:
    r"""Run one forward and one backward pass through ``model`` and measure every layer.

    The passes are the modules' own ``forward`` and ``backward``, called one block at a time so
    that the intermediate arrays can be measured. The upstream gradient at the output is, in order
    of precedence: the gradient of ``loss(model(x), target)``; ``dout``; or, when neither is given,
    a standard normal array drawn from ``rng`` — an isotropic probe, so that the measured change of
    gradient size from layer to layer is the network's, not the loss's.

    Parameters
    ----------
    model : Sequential
        ``Linear`` layers, each followed by zero or more other modules (nested ``Sequential`` is
        flattened). Its parameters' gradients are zeroed first and hold this pass's gradients after.
    x : array_like of shape (N, D_in)
    dout : array_like, optional
        The gradient with respect to the output; must have the output's shape.
    loss : Module, optional
        A loss module such as :class:`~nnmath.losses.CrossEntropyLoss`; needs ``target``.
    target : array_like, optional
    rng : numpy.random.Generator, optional
        For the random probe ``dout``.
    keep : bool
        Also return the activations and gradients themselves (memory: four arrays per layer).
    saturation : float
        A sigmoid or tanh unit counts as saturated when :math:`f'(z) <` ``saturation`` :math:`\cdot
        \max f'` — it passes back less than 1% (by default) of the gradient it could.

    Returns
    -------
    NetworkStatistics
    """
    blocks = _blocks(model)
    h = as_array(x, "x")
    pre, act = [], []
    for block in blocks:
        z = block[0](h)
        h = z
        for m in block[1:]:
            h = m(h)
        pre.append(z)
        act.append(h)
    out = h

    loss_value = None
    if loss is not None:
        if target is None:
            raise ValueError("layer_statistics: a loss needs a target")
        loss_value = float(loss(out, target))
        g = as_array(loss.backward(), "dout")
    elif dout is not None:
        g = as_array(dout, "dout")
        check_same_shape(g, out, "dout", "the output")
    else:
        g = get_rng(rng).standard_normal(out.shape)

    model.zero_grad()
    act_grads: list[np.ndarray] = [np.empty(0)] * len(blocks)
    pre_grads: list[np.ndarray] = [np.empty(0)] * len(blocks)
    for i in reversed(range(len(blocks))):
        act_grads[i] = g
        for m in reversed(blocks[i][1:]):
            g = m.backward(g)
        pre_grads[i] = g
        g = blocks[i][0].backward(g)
    input_grad = g

    activity = np.array([_activity(b, a, saturation) for b, a in zip(blocks, act)]).reshape(-1, 3)
    weights = [b[0].weight for b in blocks]
    return NetworkStatistics(
        pre_mean=np.array([z.mean() for z in pre]), pre_std=np.array([z.std() for z in pre]),
        act_mean=np.array([a.mean() for a in act]), act_std=np.array([a.std() for a in act]),
        frac_saturated=activity[:, 0], frac_zero=activity[:, 1], frac_dead=activity[:, 2],
        grad_act_norm=np.array([np.linalg.norm(a.ravel()) for a in act_grads]),
        grad_act_std=np.array([a.std() for a in act_grads]),
        grad_pre_norm=np.array([np.linalg.norm(a.ravel()) for a in pre_grads]),
        grad_pre_std=np.array([a.std() for a in pre_grads]),
        weight_std=np.array([w.data.std() for w in weights]),
        weight_grad_norm=np.array([np.linalg.norm(w.grad.ravel()) for w in weights]),
        weight_grad_std=np.array([w.grad.std() for w in weights]),
        input_grad_norm=float(np.linalg.norm(input_grad.ravel())), input_grad_std=float(input_grad.std()),
        loss=loss_value,
        activations=act if keep else [], pre_activations=pre if keep else [],
        act_grads=act_grads if keep else [], pre_grads=pre_grads if keep else [],
        input_grad=input_grad if keep else None,
    )


def _as_batch(model: Module, x: ArrayLike) -> tuple[np.ndarray, bool, int]:
    x = as_array(x, "x")
    check_ndim(x, (1, 2), "x", "(D_in,) or (N, D_in)")
    X = x[None, :] if x.ndim == 1 else x
    out = model.forward(X)
    if out.ndim != 2 or out.shape[0] != X.shape[0]:
        raise ValueError(f"the model must map (N, D_in) to (N, D_out); x.shape={X.shape} gave output shape {out.shape}")
    return X, x.ndim == 1, out.shape[1]


def _keeping_grads(model: Module, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Run ``compute`` (which calls ``backward``) and restore every parameter's accumulated grad."""
    saved = [(p, p.grad.copy()) for p in model.parameters()]
    try:
        return compute()
    finally:
        for p, g in saved:
            p.grad[...] = g


def input_output_jacobian(model: Module, x: ArrayLike) -> Array:
    r"""The exact Jacobian :math:`J_{ki} = \partial y_k/\partial x_i` of ``model`` at
    ``x``.

    Backward passes compute vector-Jacobian products :math:`\bar y^\top J`; with
    :math:`\bar y = e_k` that is row :math:`k` of :math:`J`. All rows at once: the input
    is repeated ``D_out`` times into one batch, and the batch of upstream gradients is
    the identity matrix — one forward and one backward pass, vectorised (compare
    :func:`input_output_jacobian_naive`, one backward per output). This needs each
    sample's output to depend on that sample only (no batch statistics: put batch norm
    in ``eval()`` mode). Parameter gradients are left as they were.

    Parameters
    ----------
    model : Module
        Maps ``(N, D_in)`` to ``(N, D_out)``.
    x : array_like of shape (D_in,) or (N, D_in)

    Returns
    -------
    ndarray of shape (D_out, D_in), or (N, D_out, D_in) for a batch
    """
    X, single, d_out = _as_batch(model, x)
    n = X.shape[0]

    def compute() -> np.ndarray:
        # rows n*D_out .. n*D_out+D_out-1 are copies of x_n
        model.forward(np.repeat(X, d_out, axis=0))
        # ... and get upstream e_0 .. e_{D_out-1}
        rows = model.backward(np.tile(np.eye(d_out), (n, 1)))
        return rows.reshape(n, d_out, X.shape[1])

    J = _keeping_grads(model, compute)
    return J[0] if single else J


def input_output_jacobian_naive(model: Module, x: ArrayLike) -> Array:
    """Reference for :func:`input_output_jacobian`: one backward pass per output coordinate ``k``
    with upstream gradient :math:`e_k` (a Python loop over outputs; for tests and the book)."""
    X, single, d_out = _as_batch(model, x)

    def compute() -> np.ndarray:
        J = np.empty((X.shape[0], d_out, X.shape[1]))
        for k in range(d_out):
            model.forward(X)
            e_k = np.zeros((X.shape[0], d_out))
            e_k[:, k] = 1.0
            J[:, k, :] = model.backward(e_k)
        return J

    J = _keeping_grads(model, compute)
    return J[0] if single else J


def jacobian_singular_values(model: Module, x: ArrayLike) -> Array:
    r"""Singular values of :func:`input_output_jacobian` at ``x``, in decreasing order.

    A network is *dynamically isometric* at ``x`` when they are all close to 1: every direction of
    the back-propagated gradient is then scaled by about the same factor, neither vanishing nor
    exploding (Saxe et al., 2014; Pennington et al., 2017).

    Returns
    -------
    ndarray of shape (min(D_out, D_in),), or (N, min(D_out, D_in)) for a batch
    """
    return np.linalg.svd(input_output_jacobian(model, x), compute_uv=False)
