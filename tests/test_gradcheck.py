"""The gradient checker proves itself: it passes correct backward passes and FAILS on injected bugs,
including bugs that an all-ones upstream gradient (a ``.sum()`` loss) would hide; it reports NaN/inf
inputs; its fast mode (random projection) agrees with the full check; its report is readable."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm



def ones_upstream_check(op, op_backward, x: np.ndarray, eps: float = 1e-6) -> float:
    """What a checker with dout = ones would see: max |analytic - numeric| for the loss sum(op(x))."""
    _, cache = op(x)
    analytic = op_backward(np.ones_like(op(x)[0]), cache)
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        numeric[idx] = (op(xp)[0].sum() - op(xm)[0].sum()) / (2 * eps)
    return float(np.abs(analytic - numeric).max())


# --- injected bugs -----------------------------------------------------------------------------------
def softmax_backward_missing_subtraction(dout, cache):
    p, axis = cache
    return p * dout                                       # forgot  - sum(dout * p)


def softmax_backward_zeros(dout, cache):
    return np.zeros_like(cache[0])                        # "the gradient of softmax is zero"


def tanh_backward_ignores_upstream(dout, cache):
    return 1.0 - cache**2                                 # local derivative only, dout dropped


def sigmoid_backward_from_output_as_input(dout, cache):
    s = nm.sigmoid(cache)[0]                              # treats the cached OUTPUT as the input
    return dout * s * (1 - s)


def linear_backward_square_W_not_transposed(dout, cache):
    x, W, _ = cache
    _, dW, db = nm.linear_backward(dout, cache)
    return dout @ W, dW, db                               # W instead of W.T (shapes fit when square)


def linear_backward_bias_mean(dout, cache):
    dx, dW, _ = nm.linear_backward(dout, cache)
    return dx, dW, dout.mean(axis=0)                      # mean instead of sum over the batch


def mse_backward_missing_factor_two(dout, cache):
    diff, _ = cache
    return diff * float(dout) / diff.size                 # the seed notebook's bug: d/dyhat of mean((yhat-y)^2) is 2(yhat-y)/n


def gelu_backward_cdf_only(dout, cache):
    x, _ = cache
    return dout * nm.gelu(x)[0] / np.where(x == 0, 1.0, x)   # Phi(x): forgot the x phi(x) term


BUGS = [
    ("softmax p*dout", nm.softmax, softmax_backward_missing_subtraction, (4, 5)),
    ("softmax zeros", nm.softmax, softmax_backward_zeros, (4, 5)),
    ("tanh ignores dout", nm.tanh, tanh_backward_ignores_upstream, (3, 4)),
    ("sigmoid recomputed from cache", nm.sigmoid, sigmoid_backward_from_output_as_input, (3, 4)),
    ("gelu cdf only", nm.gelu, gelu_backward_cdf_only, (3, 4)),
]


@pytest.mark.parametrize("name,op,bad_backward,shape", BUGS, ids=[b[0] for b in BUGS])
def test_injected_bugs_are_caught(name, op, bad_backward, shape, rng):
    x = rng.standard_normal(shape)
    assert nm.gradcheck(op, getattr(nm, op.__name__ + "_backward"), x).passed   # the real one passes
    report = nm.gradcheck(op, bad_backward, x, raise_on_failure=False)
    assert not report.passed
    assert report.max_rel_error > 1e-2                        # far from the 1e-7 of a correct gradient
    with pytest.raises(nm.GradcheckError, match="NO"):
        nm.gradcheck(op, bad_backward, x)


@pytest.mark.parametrize("bad_backward", [softmax_backward_zeros, tanh_backward_ignores_upstream],
                         ids=["softmax zeros", "tanh ignores dout"])
def test_bugs_that_an_all_ones_upstream_would_hide(bad_backward, rng):
    """With dout = ones these bugs agree with finite differences of sum(op(x)); the random upstream
    gradient of nm.gradcheck exposes them."""
    op = nm.softmax if bad_backward is softmax_backward_zeros else nm.tanh
    x = rng.standard_normal((4, 5))
    assert ones_upstream_check(op, bad_backward, x) < 1e-8       # invisible to a .sum() loss
    assert not nm.gradcheck(op, bad_backward, x, raise_on_failure=False).passed


def test_softmax_missing_subtraction_is_visible_even_with_ones(rng):
    """The true gradient of sum(softmax) is zero, p*dout is p: this one any check finds."""
    x = rng.standard_normal((4, 5))
    assert ones_upstream_check(nm.softmax, softmax_backward_missing_subtraction, x) > 1e-2


@pytest.mark.parametrize("bad,names,failing", [
    (linear_backward_square_W_not_transposed, ["x", "W", "b"], {"x"}),
    (linear_backward_bias_mean, ["x", "W", "b"], {"b"}),
], ids=["W instead of W.T", "bias mean instead of sum"])
def test_linear_bugs_are_caught_on_the_right_input(bad, names, failing, rng):
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    report = nm.gradcheck(nm.linear, bad, x, W, b, names=names, raise_on_failure=False)
    assert {c.name for c in report.checks if not c.passed} == failing


def test_mse_missing_factor_two_is_caught(rng):
    """Half the true gradient: |a - n| / (|a| + |n|) = (n/2) / (3n/2) = 1/3 exactly."""
    yhat, y = rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
    report = nm.gradcheck(nm.mse_loss, mse_backward_missing_factor_two, yhat, target=y, raise_on_failure=False)
    assert not report.passed
    assert report.max_rel_error == pytest.approx(1 / 3, rel=1e-6)


def test_module_with_a_broken_backward_is_caught(rng):
    class BrokenTanh(nm.Tanh):
        def backward(self, dout):
            return dout * (1.0 - self._cache)              # 1 - tanh instead of 1 - tanh^2

    model = nm.Sequential(nm.Linear(3, 4, rng=rng), BrokenTanh(), nm.Linear(4, 2, rng=rng))
    report = nm.gradcheck_module(model, rng.standard_normal((5, 3)), raise_on_failure=False)
    failing = {c.name for c in report.checks if not c.passed}
    # every gradient upstream of the broken layer is wrong; the last layer's are not
    assert failing == {"x", "layers.0.weight", "layers.0.bias"}


# --- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_reported(bad):
    x = np.zeros((2, 3))
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"input 'arg0' contains .* at index \(1, 2\)"):
        nm.gradcheck(nm.tanh, nm.tanh_backward, x)


def test_non_finite_output_and_gradient_are_reported():
    with pytest.raises(ValueError, match="the output contains"):
        nm.gradcheck(lambda x: (np.where(x > 0, x, np.inf), x), lambda d, c: d, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="the analytic gradient of 'arg0' contains"):
        nm.gradcheck(lambda x: (x, x), lambda d, c: np.full_like(c, np.nan),
                     np.array([1.0]))


def test_wrong_number_or_shape_of_gradients():
    with pytest.raises(ValueError, match="a gradient at position 1 for an input that was not given"):
        nm.gradcheck(nm.tanh, lambda d, c: (d, d), np.ones(3))
    with pytest.raises(ValueError, match="backward returned 1 gradients for 2 inputs"):
        nm.gradcheck(nm.linear, lambda d, c: nm.linear_backward(d, c)[:1], np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"gradient for 'arg0' has shape \(2,\), input has \(3,\)"):
        nm.gradcheck(nm.tanh, lambda d, c: d[:2], np.ones(3))
    with pytest.raises(ValueError, match="2 names for 1 inputs"):
        nm.gradcheck(nm.tanh, nm.tanh_backward, np.ones(3), names=["a", "b"])
    with pytest.raises(TypeError, match="must be a floating-point ndarray"):
        nm.check_vjp(lambda: np.ones(1), lambda d: (d,), {"x": np.array([1, 2])})


def test_integer_inputs_to_gradcheck_are_converted(rng):
    r = nm.gradcheck(nm.tanh, nm.tanh_backward, np.array([[1, -2, 0]]))
    assert r.passed and r.checks[0].analytic.dtype == np.float64


# --- fast mode, options, report ------------------------------------------------------------------------
def test_fast_mode_agrees_with_full_mode(rng):
    x = rng.standard_normal((20, 30))
    full = nm.gradcheck(nm.softmax, nm.softmax_backward, x)
    fast = nm.gradcheck(nm.softmax, nm.softmax_backward, x, fast=True)
    assert full.passed and fast.passed and fast.fast and not full.fast
    assert fast.max_rel_error < 1e-7
    assert fast.checks[0].analytic.shape == (1,)       # one projected number per input
    for bug in (softmax_backward_missing_subtraction, softmax_backward_zeros):
        assert not nm.gradcheck(nm.softmax, bug, x, fast=True, raise_on_failure=False).passed


def test_fast_mode_module(rng):
    model = nm.Sequential(nm.Linear(30, 20, rng=rng), nm.GELU(), nm.Linear(20, 10, rng=rng))
    r = nm.gradcheck_module(model, rng.standard_normal((16, 30)), fast=True)
    assert r.passed and r.max_rel_error < 1e-7
    assert len(r.checks) == 5


def test_inputs_and_parameters_are_restored(rng):
    x = rng.standard_normal((3, 2))
    layer = nm.Linear(2, 2, rng=rng)
    before = layer.weight.data.copy()
    nm.gradcheck_module(layer, x)
    np.testing.assert_array_equal(layer.weight.data, before)
    xs = {"x": x.copy()}
    nm.check_vjp(lambda: np.tanh(xs["x"]), lambda d: (d * (1 - np.tanh(xs["x"]) ** 2),), xs)
    np.testing.assert_array_equal(xs["x"], x)


def test_seed_fd_step_and_tolerances_are_passed_through(rng):
    x = rng.standard_normal((2, 3))
    r = nm.gradcheck(nm.tanh, nm.tanh_backward, x, fd_eps=1e-5, atol=1e-6, rtol=1e-4, seed=3)
    assert (r.eps, r.atol, r.rtol) == (1e-5, 1e-6, 1e-4)
    # different seeds: different random upstream gradients, both pass
    assert nm.gradcheck(nm.tanh, nm.tanh_backward, x, seed=4).passed


def test_op_keyword_eps_is_not_the_step(rng):
    """An op's own ``eps`` keyword (batch norm's) is passed to the op, never used as the FD step."""
    seen = {}

    def op(x, eps=0.0):
        seen["eps"] = eps
        return x * 2, None

    nm.gradcheck(op, lambda d, c: 2 * d, rng.standard_normal(3), eps=1e-5)
    assert seen["eps"] == 1e-5


def test_report_is_readable(rng):
    r = nm.gradcheck(nm.linear, nm.linear_backward, rng.standard_normal((2, 3)), rng.standard_normal((3, 2)),
                     names=["x", "W"])
    text = str(r)
    assert text.startswith("gradcheck [full, eps=1e-06, atol=1e-05, rtol=0.001]")
    assert "x" in text and "(3, 2)" in text and text.rstrip().endswith("yes")
    rows = r.rows()
    assert [row["name"] for row in rows] == ["x", "W"] and all(row["passed"] for row in rows)
    assert r.max_abs_error <= 1e-8 and r.max_rel_error <= 1e-7


def test_omitted_optional_inputs_are_checked_not_dropped(rng):
    """The convention: one gradient per positional input, None for an omitted optional one."""
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    for args in [(x, W), (x, W, None), (x, W, b)]:
        report = nm.gradcheck(nm.linear, nm.linear_backward, *args)
        assert report.passed and len(report.checks) == sum(a is not None for a in args)
    gamma = rng.standard_normal(3)
    report = nm.gradcheck(nm.batch_norm, nm.batch_norm_backward, x, None, gamma, names=["x", "gamma", "beta"])
    assert [c.name for c in report.checks] == ["x", "beta"]
    with pytest.raises(ValueError, match="a gradient at position 2 for an input that was not given"):
        nm.gradcheck(nm.linear, lambda d, c: (*nm.linear_backward(d, c)[:2], np.zeros(2)), x, W)
