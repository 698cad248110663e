"""Tests for nnmath.activations: values against hand computations, gradient checks (float64,
random upstream, batch size 1 included), hypothesis properties of softmax/log-softmax, stability at
+-1000 (exact limits, no warnings), integer inputs, bad input, and the modules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nnmath as nm

SHAPES = [(1, 4), (6, 3), (2, 3, 4), (5,)]



def away_from_zero(x: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """Move entries near the kink at 0 away from it: a central difference across a kink is wrong."""
    return np.where(np.abs(x) < margin, np.sign(x + 1e-300) * (margin + 0.1), x)


# --- values ----------------------------------------------------------------------------------------
def test_values_against_hand_computation():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(nm.sigmoid(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(nm.tanh(x)[0], np.tanh(x), rtol=0)
    np.testing.assert_array_equal(nm.relu(x)[0], [0.0, 0.0, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(nm.leaky_relu(x)[0], [-0.02, -0.005, 0.0, 0.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(nm.leaky_relu(x, negative_slope=0.2)[0], [-0.4, -0.1, 0.0, 0.5, 2.0], rtol=1e-15)
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(nm.gelu(x)[0], x * phi, rtol=1e-15, atol=1e-300)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(nm.gelu(x, approximate="tanh")[0], tanh_form, rtol=1e-15)
    # the tanh approximation is close to the exact GELU but not equal
    assert 0 < np.abs(nm.gelu(x, approximate="tanh")[0] - nm.gelu(x)[0]).max() < 1e-3
    z = np.array([[1.0, 2.0, 3.0]])
    e = np.exp(z)
    np.testing.assert_allclose(nm.softmax(z)[0], e / e.sum(), rtol=1e-15)
    np.testing.assert_allclose(nm.log_softmax(z)[0], z - np.log(e.sum()), rtol=1e-15)


def test_caches_are_what_the_docstrings_say():
    x = np.array([-1.0, 2.0])
    out, cache = nm.sigmoid(x)
    assert cache is out                       # sigmoid' = s (1 - s): the output is the cache
    out, cache = nm.tanh(x)
    assert cache is out
    _, mask = nm.relu(x)
    np.testing.assert_array_equal(mask, [False, True])
    _, (xc, mode) = nm.gelu(x)
    np.testing.assert_array_equal(xc, x)
    assert mode == "none"


def test_derivatives_at_the_kink_follow_pytorch():
    """relu'(0) = 0 and leaky_relu'(0) = negative_slope, as in PyTorch."""
    x = np.array([0.0])
    assert nm.relu_backward(np.array([1.0]), nm.relu(x)[1])[0] == 0.0
    assert nm.leaky_relu_backward(np.array([1.0]), nm.leaky_relu(x, 0.3)[1])[0] == 0.3


# --- gradient checks ----------------------------------------------------------------------------------
SMOOTH = [
    ("sigmoid", nm.sigmoid, nm.sigmoid_backward, {}),
    ("tanh", nm.tanh, nm.tanh_backward, {}),
    ("gelu", nm.gelu, nm.gelu_backward, {}),
    ("gelu_tanh", nm.gelu, nm.gelu_backward, {"approximate": "tanh"}),
    ("softmax", nm.softmax, nm.softmax_backward, {}),
    ("softmax_axis0", nm.softmax, nm.softmax_backward, {"axis": 0}),
    ("log_softmax", nm.log_softmax, nm.log_softmax_backward, {}),
    ("log_softmax_axis0", nm.log_softmax, nm.log_softmax_backward, {"axis": 0}),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,op,op_backward,kwargs", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_gradcheck_smooth(name, op, op_backward, kwargs, shape, rng):
    x = 2 * rng.standard_normal(shape)
    report = nm.gradcheck(op, op_backward, x, **kwargs)
    assert report.passed and report.max_rel_error < 1e-7, str(report)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slope", [None, 0.01, 0.2])
def test_gradcheck_relu_family_away_from_zero(slope, shape, rng):
    x = away_from_zero(rng.standard_normal(shape))
    if slope is None:
        report = nm.gradcheck(nm.relu, nm.relu_backward, x)
    else:
        report = nm.gradcheck(nm.leaky_relu, nm.leaky_relu_backward, x, negative_slope=slope)
    # piecewise linear: the central difference is exact up to rounding away from the kink
    assert report.passed and report.max_rel_error < 1e-7, str(report)


@pytest.mark.parametrize("x0", [-30.0, -8.0, 8.0, 30.0])
def test_gradcheck_in_the_saturated_tails(x0, rng):
    """Large |x|: derivatives are tiny but the derived formulas stay accurate."""
    x = x0 + rng.standard_normal((3, 4))
    for op, back in [(nm.sigmoid, nm.sigmoid_backward), (nm.tanh, nm.tanh_backward), (nm.gelu, nm.gelu_backward)]:
        report = nm.gradcheck(op, back, x)
        assert report.passed, str(report)


def test_softmax_gradient_is_orthogonal_to_ones(rng):
    """Softmax is invariant to adding a constant per row, so each row of its input gradient sums to
    zero; with an all-ones upstream the whole gradient is zero (why gradcheck uses a random one)."""
    x = rng.standard_normal((4, 5))
    _, cache = nm.softmax(x)
    g = nm.softmax_backward(rng.standard_normal((4, 5)), cache)
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-15)
    # exactly p * (1 - sum(p)): zero up to the rounding of the 5-term sum, |1 - sum(p)| <= 5 eps
    np.testing.assert_allclose(nm.softmax_backward(np.ones((4, 5)), cache), 0.0, atol=5 * np.finfo(float).eps)


def test_softmax_backward_equals_explicit_jacobian(rng):
    """The vector-Jacobian product without the Jacobian equals J^T dout with J = diag(p) - p p^T."""
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    p, cache = nm.softmax(x)
    fast = nm.softmax_backward(dout, cache)
    for n in range(3):
        J = np.diag(p[n]) - np.outer(p[n], p[n])
        np.testing.assert_allclose(fast[n], J.T @ dout[n], rtol=1e-13, atol=1e-16)


# --- hypothesis properties ----------------------------------------------------------------------------
finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
matrices = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite)


@settings(deadline=None, max_examples=60)
@given(x=matrices)
def test_softmax_rows_are_distributions(x):
    p = nm.softmax(x)[0]
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)


@settings(deadline=None, max_examples=60)
@given(x=matrices, c=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=5, max_size=5))
def test_softmax_invariant_to_a_constant_per_row(x, c):
    shift = np.array(c[: x.shape[0]])[:, None]
    np.testing.assert_allclose(nm.softmax(x + shift)[0], nm.softmax(x)[0], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(nm.log_softmax(x + shift)[0] - nm.log_softmax(x)[0], 0.0, atol=1e-9)


@settings(deadline=None, max_examples=60)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
                elements=st.floats(-1e4, 1e4, allow_nan=False)))
def test_log_softmax_is_log_of_softmax_where_finite(x):
    logp = nm.log_softmax(x)[0]
    p = nm.softmax(x)[0]
    assert np.all(np.isfinite(logp)) and np.all(logp <= 0)   # finite even where softmax underflows to 0
    ok = p > 1e-300
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(logp[ok], np.log(p[ok]), rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(x=arrays(np.float64, st.integers(1, 8), elements=st.floats(-1e6, 1e6, allow_nan=False)))
def test_sigmoid_symmetry_and_range(x):
    s = nm.sigmoid(x)[0]
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s + nm.sigmoid(-x)[0], 1.0, rtol=1e-15)


# --- stability at extreme inputs (pytest turns NumPy warnings into errors) ------------------------
def test_extreme_inputs_exact_limits():
    x = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(nm.sigmoid(x)[0], [0.0, 1.0])
    np.testing.assert_array_equal(nm.tanh(x)[0], [-1.0, 1.0])
    np.testing.assert_array_equal(nm.relu(x)[0], [0.0, 1000.0])
    np.testing.assert_array_equal(nm.leaky_relu(x)[0], [-10.0, 1000.0])
    np.testing.assert_array_equal(nm.gelu(x)[0], [0.0, 1000.0])
    np.testing.assert_array_equal(nm.gelu(x, approximate="tanh")[0], [0.0, 1000.0])
    np.testing.assert_array_equal(nm.softmax(np.array([[1000.0, 0.0, -1000.0]]))[0], [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(nm.log_softmax(np.array([[0.0, -1000.0]]))[0], [[0.0, -1000.0]])
    np.testing.assert_array_equal(nm.softmax(np.array([[1000.0, 1000.0]]))[0], [[0.5, 0.5]])


def test_extreme_inputs_finite_gradients():
    x = np.array([-1e300, -1000.0, 1000.0, 1e300])
    dout = np.ones_like(x)
    for op, back, kw in [(nm.sigmoid, nm.sigmoid_backward, {}), (nm.tanh, nm.tanh_backward, {}),
                         (nm.gelu, nm.gelu_backward, {}), (nm.gelu, nm.gelu_backward, {"approximate": "tanh"}),
                         (nm.relu, nm.relu_backward, {}), (nm.leaky_relu, nm.leaky_relu_backward, {})]:
        out, cache = op(x, **kw)
        assert np.all(np.isfinite(out)), op.__name__
        g = back(dout, cache)
        assert np.all(np.isfinite(g)), op.__name__
    np.testing.assert_array_equal(nm.gelu_backward(dout, nm.gelu(x)[1]), [0.0, 0.0, 1.0, 1.0])
    z = np.array([[1000.0, -1000.0, 0.0]])
    for op, back in [(nm.softmax, nm.softmax_backward), (nm.log_softmax, nm.log_softmax_backward)]:
        out, cache = op(z)
        assert np.all(np.isfinite(back(np.array([[1.0, 2.0, 3.0]]), cache)))


# --- integers, bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [nm.sigmoid, nm.tanh, nm.relu, nm.leaky_relu, nm.gelu, nm.softmax, nm.log_softmax])
def test_integer_inputs_are_computed_in_float64(op):
    xi = np.array([[-2, 0, 3]])
    out_i, _ = op(xi)
    out_f, _ = op(xi.astype(np.float64))
    assert out_i.dtype == np.float64
    np.testing.assert_array_equal(out_i, out_f)


def test_bool_and_list_inputs():
    np.testing.assert_array_equal(nm.relu([True, False])[0], [1.0, 0.0])
    assert nm.sigmoid([0, 0])[0].tolist() == [0.5, 0.5]


@pytest.mark.parametrize("op,back", [(nm.sigmoid, nm.sigmoid_backward), (nm.tanh, nm.tanh_backward),
                                     (nm.relu, nm.relu_backward), (nm.leaky_relu, nm.leaky_relu_backward),
                                     (nm.gelu, nm.gelu_backward), (nm.softmax, nm.softmax_backward),
                                     (nm.log_softmax, nm.log_softmax_backward)])
def test_dout_of_the_wrong_shape_is_an_error_naming_both_shapes(op, back):
    _, cache = op(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dout\.shape=\(3,\) and out\.shape=\(4, 3\)"):
        back(np.ones(3), cache)   # would broadcast silently without the check


def test_bad_arguments():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        nm.gelu(np.zeros(2), approximate="fast")
    with pytest.raises(TypeError, match="dtype=object"):
        nm.sigmoid(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match=r"axis 2 does not exist for x of shape \(2, 3\)"):
        nm.softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"axis -1 does not exist for x of shape \(\)"):
        nm.log_softmax(np.float64(1.0))


# --- modules ------------------------------------------------------------------------------------------------
MODULES = [
    (nm.Sigmoid(), nm.sigmoid, {}), (nm.Tanh(), nm.tanh, {}), (nm.ReLU(), nm.relu, {}),
    (nm.LeakyReLU(0.2), nm.leaky_relu, {"negative_slope": 0.2}), (nm.GELU(), nm.gelu, {}),
    (nm.GELU("tanh"), nm.gelu, {"approximate": "tanh"}), (nm.Softmax(dim=0), nm.softmax, {"axis": 0}),
    (nm.LogSoftmax(dim=1), nm.log_softmax, {"axis": 1}),
]


@pytest.mark.parametrize("module,op,kwargs", MODULES, ids=[type(m[0]).__name__ + repr(m[2]) for m in MODULES])
def test_modules_delegate_to_the_functional_pair(module, op, kwargs, rng):
    x = away_from_zero(rng.standard_normal((3, 4)))
    np.testing.assert_array_equal(module(x), op(x, **kwargs)[0])
    report = nm.gradcheck_module(module, x)
    assert report.passed and report.max_rel_error < 1e-7
    assert module.parameters() == [] and module.num_parameters() == 0


def test_module_backward_before_forward():
    with pytest.raises(RuntimeError, match="Tanh.backward called before forward"):
        nm.Tanh().backward(np.ones(2))


def test_module_reprs():
    assert repr(nm.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nm.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nm.Softmax(dim=0)) == "Softmax(dim=0)"
    assert repr(nm.Sigmoid()) == "Sigmoid()"


# --- NaN, as PyTorch ----------------------------------------------------------------------------------
@pytest.mark.parametrize("op,back,kw", [(nm.relu, nm.relu_backward, {}), (nm.leaky_relu, nm.leaky_relu_backward, {})])
def test_relu_family_propagates_nan_like_torch(op, back, kw, th):
    x = np.array([-1.0, np.nan, 0.0, 2.0])
    out, cache = op(x, **kw)
    xt = th.T(x, grad=True)
    yt = getattr(th.F, op.__name__)(xt)
    np.testing.assert_array_equal(out, yt.detach().numpy())          # NaN where torch has NaN
    assert np.isnan(out[1])
    yt.backward(th.T(np.ones(4)))
    np.testing.assert_array_equal(back(np.ones(4), cache), xt.grad.numpy())
    assert np.isnan(nm.autodiff.relu(nm.Tensor(x)).data[1])         # the engine propagates it too
