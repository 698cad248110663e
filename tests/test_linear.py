"""Tests for nnmath.linear: y = x W + b with W of shape (in, out). Gradient checks with and without
bias, batch size 1 and leading batch axes; the closed-form gradients; PyTorch's initialisation
bounds; accumulation in the module; integer inputs; shape errors that name both shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmath as nm



@pytest.mark.parametrize("xshape", [(1, 4), (7, 4), (2, 3, 4), (4,)])
def test_gradcheck_linear(xshape, rng):
    x, W, b = rng.standard_normal(xshape), rng.standard_normal((4, 3)), rng.standard_normal(3)
    r = nm.gradcheck(nm.linear, nm.linear_backward, x, W, b, names=["x", "W", "b"])
    assert r.passed and r.max_rel_error < 1e-7, str(r)
    assert [c.name for c in r.checks] == ["x", "W", "b"]


def test_gradcheck_linear_without_bias(rng):
    x, W = rng.standard_normal((5, 4)), rng.standard_normal((4, 2))
    r = nm.gradcheck(nm.linear, nm.linear_backward, x, W)
    assert r.passed and r.max_rel_error < 1e-7, str(r)
    _, cache = nm.linear(x, W)
    assert nm.linear_backward(np.ones((5, 2)), cache)[2] is None


def test_closed_form_gradients(rng):
    """dx = dy W^T, dW = x^T dy, db = sum over rows of dy — the chapter's equations."""
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    y, cache = nm.linear(x, W, b)
    np.testing.assert_allclose(y, x @ W + b, rtol=1e-15)
    dy = rng.standard_normal((5, 3))
    dx, dW, db = nm.linear_backward(dy, cache)
    np.testing.assert_allclose(dx, dy @ W.T, rtol=1e-15)
    np.testing.assert_allclose(dW, x.T @ dy, rtol=1e-15)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-15)
    # as a sum of per-sample outer products (the naive form of x^T dy)
    np.testing.assert_allclose(dW, sum(np.outer(x[n], dy[n]) for n in range(5)), rtol=1e-13)


def test_leading_batch_axes_sum_into_the_weight_gradient(rng):
    x, W, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    dy = rng.standard_normal((2, 3, 5))
    _, cache = nm.linear(x, W, b)
    dx, dW, db = nm.linear_backward(dy, cache)
    _, cache2 = nm.linear(x.reshape(6, 4), W, b)
    dx2, dW2, db2 = nm.linear_backward(dy.reshape(6, 5), cache2)
    np.testing.assert_allclose(dx, dx2.reshape(2, 3, 4), rtol=1e-15)
    np.testing.assert_allclose(dW, dW2, rtol=1e-14)
    np.testing.assert_allclose(db, db2, rtol=1e-14)


def test_integer_inputs_are_float64():
    y, _ = nm.linear(np.array([[1, 2]]), np.array([[1, 0], [0, 1]]), np.array([1, 1]))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[2.0, 3.0]])


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"x\.shape=\(5, 3\) \(axis -1 = 3\) but W\.shape=\(4, 2\) \(axis 0 = 4\)"):
        nm.linear(np.zeros((5, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"W must be 2-D \(in_features, out_features\), got shape \(4,\)"):
        nm.linear(np.zeros((5, 4)), np.zeros(4))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\) to match W\.shape=\(4, 2\), got b\.shape=\(4,\)"):
        nm.linear(np.zeros((5, 4)), np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"x must have a feature axis, got shape \(\)"):
        nm.linear(np.float64(1.0), np.zeros((1, 2)))
    _, cache = nm.linear(np.zeros((5, 4)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(5, 2\), got dout\.shape=\(5, 4\)"):
        nm.linear_backward(np.zeros((5, 4)), cache)


# --- the module ---------------------------------------------------------------------------------------
def test_linear_module_init_follows_pytorch():
    """W, b ~ U(-1/sqrt(in), 1/sqrt(in)); weight stored as (in, out), the transpose of torch's."""
    layer = nm.Linear(100, 50, rng=np.random.default_rng(0))
    bound = 1 / math.sqrt(100)
    assert layer.weight.shape == (100, 50) and layer.bias.shape == (50,)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    # uniform on [-a, a]: E w^2 = a^2/3 and Var w^2 = 4a^4/45, so the standard error of the mean
    # square is (a^2/3) sqrt(0.8/n); require 5 of them
    var, n = bound**2 / 3, layer.weight.size
    assert abs(np.mean(layer.weight.data**2) - var) < 5 * var * math.sqrt(0.8 / n)
    assert nm.Linear(3, 2, bias=False).bias is None
    assert repr(nm.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


def test_linear_module_is_seeded_through_the_package_generator():
    nm.manual_seed(5)
    a = nm.Linear(3, 2)
    nm.manual_seed(5)
    b = nm.Linear(3, 2)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [1, 4])
def test_gradcheck_linear_module(bias, batch, rng):
    layer = nm.Linear(3, 2, bias=bias, rng=rng)
    r = nm.gradcheck_module(layer, rng.standard_normal((batch, 3)))
    assert r.passed and r.max_rel_error < 1e-7, str(r)
    assert [c.name for c in r.checks] == (["x", "weight", "bias"] if bias else ["x", "weight"])


def test_linear_module_accumulates_gradients(rng):
    layer = nm.Linear(3, 2, rng=rng)
    x, dy = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer(x)
    layer.backward(dy)
    g = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * g[0])
    np.testing.assert_allclose(layer.bias.grad, 2 * g[1])
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


def test_linear_module_backward_before_forward():
    with pytest.raises(RuntimeError, match="Linear.backward called before forward"):
        nm.Linear(2, 2).backward(np.ones((1, 2)))
