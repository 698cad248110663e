"""Tests for nnmath.meanfield: quadrature against closed forms and Monte Carlo, the recursion
against a simulated wide network, fixed points, and bad input.

Monte Carlo tolerances are 5 standard errors of the sample mean (seeded, so deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

import nnmath as nm
from nnmath import meanfield as mf

Z = 5.0


@pytest.mark.parametrize("q", [0.01, 0.5, 1.0, 4.0])
def test_quadrature_closed_forms(q):
    # polynomials: E[x^2] = q, E[x^4] = 3 q^2; ReLU: E[relu^2] = q/2, E[relu'^2] = 1/2 exactly
    assert mf.gaussian_expectation(lambda x: x**2, q) == pytest.approx(q, rel=1e-13)
    assert mf.gaussian_expectation(lambda x: x**4, q) == pytest.approx(3 * q * q, rel=1e-12)
    assert mf.variance_map(q, "relu", 1.0) == pytest.approx(q / 2, rel=1e-13)
    assert mf.chi(q, "relu", 2.0) == pytest.approx(1.0, rel=1e-13)
    # erf: E[erf(a z)^2] = (2/pi) arcsin(2 a^2 / (1 + 2 a^2)), a = sqrt(q)
    exact = 2 / math.pi * math.asin(2 * q / (1 + 2 * q))
    pair = (lambda x: erf(x), lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x))
    assert mf.variance_map(q, pair, 1.0) == pytest.approx(exact, rel=1e-7)


def test_quadrature_of_a_near_step_converges_slowly():
    # erf(5 z)^2 is almost a step: the documented 6e-3 relative error at q = 25, and better with
    # more nodes
    pair = (lambda x: erf(x), lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x))
    exact = 2 / math.pi * math.asin(50 / 51)
    errs = [abs(float(mf.variance_map(25.0, pair, 1.0, n_nodes=n)) / exact - 1) for n in (128, 200)]
    assert errs[0] < 1e-2 and errs[1] < errs[0] / 2


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("q", [0.1, 1.0, 3.0])
def test_quadrature_matches_monte_carlo(act, q, rng):
    phi, dphi = mf.activation_pair(act)
    z = np.sqrt(q) * rng.standard_normal(400_000)
    for f, quad in [(lambda x: phi(x) ** 2, mf.variance_map(q, act, 1.0)),
                    (lambda x: dphi(x) ** 2, mf.chi(q, act, 1.0))]:
        sample = f(z)
        se = sample.std() / math.sqrt(sample.size)
        assert abs(sample.mean() - quad) < Z * se + 1e-15


def test_vectorised_over_q():
    qs = np.array([[0.1, 1.0], [2.0, 5.0]])
    out = mf.chi(qs, "tanh", 1.5)
    assert out.shape == (2, 2)
    assert out[1, 0] == pytest.approx(float(mf.chi(2.0, "tanh", 1.5)), rel=1e-15)


def test_recursion_matches_a_wide_random_network(rng):
    # Gaussian weights N(0, sigma_w2 / n), biases N(0, sigma_b2); width 2000, 6 layers, 200 inputs
    sigma_w2, sigma_b2, width, depth = 1.5, 0.05, 2000, 6
    q = mf.variance_recursion(depth, "tanh", sigma_w2, sigma_b2, input_second_moment=1.0)
    h = rng.standard_normal((200, width))
    for ell in range(depth):
        W = rng.standard_normal((width, width)) * math.sqrt(sigma_w2 / width)
        z = h @ W + rng.standard_normal(width) * math.sqrt(sigma_b2)
        assert z.var() == pytest.approx(q[ell], rel=0.05)
        h = np.tanh(z)


def test_gradient_factors_match_backprop_in_a_wide_network(rng):
    # tanh, sigma_w2 = 1: per-layer gradient-norm factor sqrt(chi_l) against a real backward pass
    depth, width = 8, 1024
    net = nm.deep_mlp(depth, width, "tanh", init="normal_", init_kwargs={"std": 1 / math.sqrt(width)},
                      rng=rng)
    stats = nm.layer_statistics(net, rng.standard_normal((64, width)), rng=rng)
    norms = np.append(stats.input_grad_norm, stats.grad_act_norm)
    measured = norms[:-1] / norms[1:]
    predicted = mf.gradient_factors(depth, "tanh", 1.0, 0.0)
    np.testing.assert_allclose(measured, predicted, rtol=0.05)


def test_fixed_points():
    # tanh without bias and sigma_w2 < 1: q* = 0; ReLU: q* = sigma_b2 / (1 - sigma_w2 / 2)
    assert mf.variance_fixed_point("tanh", 0.5, 0.0, tol=1e-12) < 1e-10
    assert mf.variance_fixed_point("relu", 1 / 3, 0.01) == pytest.approx(0.01 / (1 - 1 / 6), rel=1e-10)
    q_star = mf.variance_fixed_point("tanh", 1.5, 0.05)
    assert float(mf.variance_map(q_star, "tanh", 1.5, 0.05)) == pytest.approx(q_star, rel=1e-12)
    # critical line of tanh without bias: chi = 1 at sigma_w2 = 1 (q* = 0)
    assert float(mf.chi(0.0, "tanh", 1.0)) == pytest.approx(1.0, rel=1e-15)
    with pytest.raises(ValueError, match="did not converge"):
        mf.variance_fixed_point("relu", 3.0, 0.0, max_iter=2000)


def test_linear_recursion_is_geometric():
    q = mf.variance_recursion(5, "linear", 0.5, 0.0, input_second_moment=2.0)
    np.testing.assert_allclose(q, 2.0 * 0.5 ** np.arange(1, 6), rtol=1e-14)
    np.testing.assert_allclose(mf.gradient_factors(5, "linear", 0.5), math.sqrt(0.5), rtol=1e-14)


def test_extreme_variances_are_finite():
    for act in ["tanh", "sigmoid", "relu"]:
        out = mf.chi(np.array([0.0, 1e-300, 1e6]), act, 1.0)
        assert np.all(np.isfinite(out))


def test_bad_input():
    with pytest.raises(ValueError, match="q must be"):
        mf.gaussian_expectation(np.square, -1.0)
    with pytest.raises(ValueError, match="n_nodes"):
        mf.gaussian_expectation(np.square, 1.0, n_nodes=7)
    with pytest.raises(ValueError, match="n_nodes"):
        mf.gaussian_expectation(np.square, 1.0, n_nodes=400)
    with pytest.raises(ValueError, match="activation must be one of"):
        mf.chi(1.0, "softplus", 1.0)
    with pytest.raises(TypeError, match="pair"):
        mf.chi(1.0, (np.tanh,), 1.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        mf.variance_map(1.0, "tanh", 0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        mf.variance_map(1.0, "tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="depth"):
        mf.variance_recursion(0, "tanh", 1.0)
