r"""Mean-field theory of signal and gradient propagation in wide random networks.

For a deep network :math:`z_\ell = h_{\ell-1}W_\ell + b_\ell`, :math:`h_\ell = \phi(z_\ell)` with
independent weights of variance :math:`\sigma_w^2/n` (:math:`n` the fan-in) and biases of variance
:math:`\sigma_b^2`, the pre-activations of a wide layer are Gaussian with a variance
:math:`q_\ell` that obeys a deterministic recursion (Poole et al. 2016, eq. (3)):

.. math::

   \begin{aligned}
   q_1 &= \sigma_w^2\,\operatorname{E}[x^2] + \sigma_b^2,\\
   q_\ell &= \sigma_w^2 \int \phi\bigl(\sqrt{q_{\ell-1}}\,z\bigr)^2\,Dz + \sigma_b^2,
   \end{aligned}

with :math:`Dz` the standard normal measure. Back-propagation through layer :math:`\ell`
multiplies the squared gradient norm by (Poole et al. 2016, eq. (7); Schoenholz et al. 2017)

.. math::

   \chi_\ell = \sigma_w^2 \int \phi'\bigl(\sqrt{q_\ell}\,z\bigr)^2\,Dz ,

which at the fixed point :math:`q^*` of the recursion is the :math:`\chi_1` that separates the
ordered (:math:`\chi_1 < 1`, vanishing gradients) from the chaotic (:math:`\chi_1 > 1`, exploding
gradients) phase. The per-layer factor of the gradient *norm* is :math:`\sqrt{\chi_\ell}`.

The Gaussian integrals are evaluated with Gauss–Hermite quadrature for the weight
:math:`e^{-z^2/2}` (:func:`numpy.polynomial.hermite_e.hermegauss`) on an even number of nodes, so
that no node sits on ReLU's kink at 0 and the ReLU integrals :math:`q/2` and :math:`1/2` come out
exactly. The activations and their derivatives are nnmath's own forward and backward functions,
evaluated at the quadrature nodes — nothing here runs a network.

Accuracy: for smooth integrands the error falls exponentially with the number of nodes (the rule
is exact for polynomials of degree ``2 * n_nodes - 1``). A saturating activation at a large variance
is nearly a step function of :math:`z`, for which the convergence is only algebraic: with the
default 128 nodes, :math:`\operatorname{E}[\operatorname{erf}(\sqrt q z)^2]` has a relative error
of about :math:`10^{-8}` at :math:`q = 4` and :math:`6\cdot 10^{-3}` at :math:`q = 25` (the tests
compare with the closed form :math:`\tfrac2\pi\arcsin\frac{2q}{1+2q}`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from . import activations as _act
from ._checks import Array, as_array

__all__ = ["gaussian_expectation", "activation_pair", "variance_map", "variance_recursion",
           "variance_fixed_point", "chi", "gradient_factors"]

Activation = str | tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


@lru_cache(maxsize=8)
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / np.sqrt(2 * np.pi)          # weights of the standard normal measure, sum 1


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: ArrayLike = 1.0,
                         n_nodes: int = 128) -> Array:
    r"""Gauss–Hermite estimate of :math:`\operatorname{E}_{z\sim\mathcal N(0,1)}[f(\sqrt q\,z)]`.

    Parameters
    ----------
    f : callable
        Vectorised function of an array (applied to an array of shape ``q.shape + (n_nodes,)``).
    q : array_like, any shape
        Variances, ``q >= 0``.
    n_nodes : int
        Number of quadrature nodes; even (no node at 0) and at most 256 (beyond that NumPy's
        weights underflow). Exact for polynomials of degree up to ``2 * n_nodes - 1``.

    Returns
    -------
    ndarray, shape of ``q``
        The expectation for every variance.
    """
    q = as_array(q, "q")
    if np.any(q < 0) or not np.all(np.isfinite(q)):
        raise ValueError(f"q must be finite and >= 0, got min {q.min() if q.size else q}")
    if not isinstance(n_nodes, (int, np.integer)) or not 2 <= n_nodes <= 256 or n_nodes % 2:
        raise ValueError(f"n_nodes must be an even integer in [2, 256], got {n_nodes!r}")
    z, w = _nodes(int(n_nodes))
    values = np.asarray(f(np.sqrt(q)[..., None] * z), dtype=np.float64)
    return values @ w


def activation_pair(activation: Activation) -> tuple[Callable[[np.ndarray], np.ndarray],
                                                        Callable[[np.ndarray], np.ndarray]]:
    r"""The functions :math:`\phi` and :math:`\phi'` for a name, from nnmath's forward/backward pairs.

    Parameters
    ----------
    activation : {'tanh', 'sigmoid', 'relu', 'linear'} or (phi, dphi)
        A name, or a pair of vectorised callables (returned unchanged).

    Returns
    -------
    phi, dphi : callable
        :math:`\phi'` is the backward function applied to an upstream gradient of ones.
    """
    if isinstance(activation, tuple):
        if len(activation) != 2 or not all(callable(f) for f in activation):
            raise TypeError("activation must be a name or a pair (phi, dphi) of callables")
        return activation
    pairs = {"tanh": (_act.tanh, _act.tanh_backward), "sigmoid": (_act.sigmoid, _act.sigmoid_backward),
             "relu": (_act.relu, _act.relu_backward)}
    if activation == "linear":
        return (lambda x: x), (lambda x: np.ones_like(x))
    if activation not in pairs:
        raise ValueError(f"activation must be one of {sorted([*pairs, 'linear'])} or a pair "
                         f"(phi, dphi), got {activation!r}")
    op, op_backward = pairs[activation]

    def phi(x: np.ndarray) -> np.ndarray:
        return op(x)[0]

    def dphi(x: np.ndarray) -> np.ndarray:
        return op_backward(np.ones_like(x), op(x)[1])

    return phi, dphi


def _check_sigmas(sigma_w2: float, sigma_b2: float) -> None:
    if not np.isfinite(sigma_w2) or sigma_w2 <= 0:
        raise ValueError(f"sigma_w2 must be finite and > 0, got {sigma_w2}")
    if not np.isfinite(sigma_b2) or sigma_b2 < 0:
        raise ValueError(f"sigma_b2 must be finite and >= 0, got {sigma_b2}")


def variance_map(q: ArrayLike, activation: Activation, sigma_w2: float, sigma_b2: float = 0.0,
                 n_nodes: int = 128) -> Array:
    r"""One step of the variance recursion, :math:`\sigma_w^2\int\phi(\sqrt q z)^2 Dz + \sigma_b^2`.

    Parameters
    ----------
    q : array_like
        Pre-activation variance(s) of layer :math:`\ell - 1`, ``>= 0``.
    activation : str or (phi, dphi)
        See :func:`activation_pair`.
    sigma_w2, sigma_b2 : float
        :math:`\sigma_w^2 = n\operatorname{Var}[w]` (fan-in times the weight variance) and the
        bias variance :math:`\sigma_b^2`.

    Returns
    -------
    ndarray, shape of ``q``
        The variance of layer :math:`\ell`.
    """
    _check_sigmas(sigma_w2, sigma_b2)
    phi, _ = activation_pair(activation)
    return sigma_w2 * gaussian_expectation(lambda x: phi(x) ** 2, q, n_nodes) + sigma_b2


def variance_recursion(depth: int, activation: Activation, sigma_w2: float, sigma_b2: float = 0.0,
                       input_second_moment: float = 1.0, n_nodes: int = 128) -> Array:
    r"""The pre-activation variances :math:`q_1, \dots, q_L` of a deep network at initialization.

    Parameters
    ----------
    depth : int
        Number of layers :math:`L \ge 1`.
    activation, sigma_w2, sigma_b2
        See :func:`variance_map`.
    input_second_moment : float
        :math:`\operatorname{E}[x^2]` of the network's input entries (1 for standard normal inputs);
        :math:`q_1 = \sigma_w^2\operatorname{E}[x^2] + \sigma_b^2`.

    Returns
    -------
    ndarray, shape (depth,)
        ``q[l - 1]`` is the variance of the pre-activations of layer ``l``.
    """
    if not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    _check_sigmas(sigma_w2, sigma_b2)
    if not np.isfinite(input_second_moment) or input_second_moment < 0:
        raise ValueError(f"input_second_moment must be finite and >= 0, got {input_second_moment}")
    q = np.empty(int(depth))
    q[0] = sigma_w2 * input_second_moment + sigma_b2
    for ell in range(1, int(depth)):
        q[ell] = variance_map(q[ell - 1], activation, sigma_w2, sigma_b2, n_nodes)
    return q


def variance_fixed_point(activation: Activation, sigma_w2: float, sigma_b2: float = 0.0,
                         q0: float = 1.0, tol: float = 1e-13, max_iter: int = 100_000,
                         n_nodes: int = 128) -> float:
    r"""The fixed point :math:`q^*` reached by iterating :func:`variance_map` from ``q0``.

    Raises
    ------
    ValueError
        If the iteration has not converged (relative change below ``tol``) after ``max_iter``
        steps, e.g. because the variance grows without bound (ReLU with :math:`\sigma_w^2 > 2`).
    """
    q = float(q0)
    for _ in range(max_iter):
        q_next = float(variance_map(q, activation, sigma_w2, sigma_b2, n_nodes))
        if q_next > 1e100:              # growing without bound (before float64 overflows)
            break
        if abs(q_next - q) <= tol * max(q_next, 1e-300):
            return q_next
        q = q_next
    raise ValueError(f"the variance recursion did not converge from q0={q0} "
                     f"(sigma_w2={sigma_w2}, sigma_b2={sigma_b2})")


def chi(q: ArrayLike, activation: Activation, sigma_w2: float, n_nodes: int = 128) -> Array:
    r"""Squared-gradient factor :math:`\chi = \sigma_w^2\int\phi'(\sqrt q\,z)^2\,Dz` of a layer.

    Parameters
    ----------
    q : array_like
        The layer's pre-activation variance(s).
    activation, sigma_w2
        See :func:`variance_map`.

    Returns
    -------
    ndarray, shape of ``q``
        The factor by which back-propagation through the layer multiplies the expected squared
        gradient norm (for a square layer).
    """
    _check_sigmas(sigma_w2, 0.0)
    _, dphi = activation_pair(activation)
    return sigma_w2 * gaussian_expectation(lambda x: dphi(x) ** 2, q, n_nodes)


def gradient_factors(depth: int, activation: Activation, sigma_w2: float,
                     sigma_b2: float = 0.0, input_second_moment: float = 1.0,
                     n_nodes: int = 128) -> Array:
    r"""Predicted per-layer factors :math:`\sqrt{\chi_\ell}` of the back-propagated
    gradient norm.

    :math:`\|\bar h_{\ell-1}\| / \|\bar h_\ell\| \approx \sqrt{\chi_\ell}` with
    :math:`\chi_\ell` evaluated at the variance :math:`q_\ell` of
    :func:`variance_recursion` (square layers, the gradient treated as independent of
    the forward weights, as in the mean-field literature).

    Returns
    -------
    ndarray, shape (depth,)
        ``factors[l - 1]`` is the factor of layer ``l``; their product over all layers
        predicts :math:`\|\bar h_0\| / \|\bar h_L\|`.
    """
    q = variance_recursion(depth, activation, sigma_w2, sigma_b2, input_second_moment,
                           n_nodes)
    return np.sqrt(chi(q, activation, sigma_w2, n_nodes))
