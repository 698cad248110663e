"""Tests for nnmath.dropout: inverted scaling, the identity cases (evaluation, p = 0), p = 1 without
NaN, bad p by message, the mask kept in the cache and drawn from the seeded stream, mask statistics,
gradient checks with a random upstream gradient, the module's train()/eval(), and PyTorch parity of
the semantics (the random streams differ, so the masks cannot be compared entry by entry)."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def fixed_mask_dropout(p: float, seed: int = 5):
    """dropout with the same mask at every call (a fresh generator of one seed): what gradcheck needs."""
    def op(x):
        return nm.dropout(x, p, rng=np.random.default_rng(seed))
    return op


# --- forward values ------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_entries_scaled_and_dropped_entries_zero(rng, p):
    x = rng.standard_normal((40, 30)) + 3.0          # no exact zeros in x
    out, cache = nm.dropout(x, p, rng=np.random.default_rng(1))
    keep = cache.mask
    assert keep.dtype == bool and keep.shape == x.shape
    np.testing.assert_array_equal(out[~keep], 0.0)
    np.testing.assert_allclose(out[keep], x[keep] / (1 - p), rtol=1e-15)
    assert cache.scale == pytest.approx(1 / (1 - p), rel=1e-15)


def test_mask_is_uniform_draw_compared_with_p(rng):
    # the documented rule: keep where U >= p, U ~ U[0, 1) from the given generator
    x = rng.standard_normal((7, 9))
    _, cache = nm.dropout(x, 0.3, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(cache.mask, np.random.default_rng(11).random((7, 9)) >= 0.3)


def test_seeded_stream_reproducible_and_advancing(rng):
    x = rng.standard_normal((20, 20))
    a, _ = nm.dropout(x, 0.5, rng=np.random.default_rng(3))
    b, _ = nm.dropout(x, 0.5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(3)
    c, _ = nm.dropout(x, 0.5, rng=g)
    d, _ = nm.dropout(x, 0.5, rng=g)
    assert not np.array_equal(c, d)                  # the stream advances: a new mask per call
    nm.manual_seed(4)
    e, _ = nm.dropout(x, 0.5)
    nm.manual_seed(4)
    f, _ = nm.dropout(x, 0.5)
    np.testing.assert_array_equal(e, f)              # the package-wide generator when rng is omitted


def test_identity_cases_draw_nothing(rng):
    x = rng.standard_normal((5, 6))
    for out, cache in (nm.dropout(x, 0.0), nm.dropout(x, 0.7, training=False)):
        np.testing.assert_array_equal(out, x)
        assert out is not x and cache.mask is None
        np.testing.assert_array_equal(nm.dropout_backward(x * 2, cache), x * 2)
    g = np.random.default_rng(0)
    state = g.bit_generator.state
    nm.dropout(x, 0.0, rng=g)
    nm.dropout(x, 0.5, training=False, rng=g)
    nm.dropout(x, 1.0, rng=g)
    assert g.bit_generator.state == state


def test_p_one_gives_zeros_without_warnings():
    x = np.array([[1.0, -np.inf, np.inf, 1e308], [0.0, -1e308, 3.0, 5.0]])
    out, cache = nm.dropout(x, 1.0)
    np.testing.assert_array_equal(out, 0.0)
    g = nm.dropout_backward(np.full_like(x, 7.0), cache)
    np.testing.assert_array_equal(g, 0.0)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(g))


def test_extreme_values_finite(rng):
    x = rng.standard_normal((10, 10)) * 1e300
    out, cache = nm.dropout(x, 0.2, rng=rng)        # 1.25 * 1e300 does not overflow
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(nm.dropout_backward(x, cache)))
    tiny, _ = nm.dropout(np.full((4, 4), 5e-324), 0.5, rng=rng)
    assert np.all(np.isfinite(tiny))


def test_dtype_preserved(rng):
    x = rng.standard_normal((8, 8)).astype(np.float32)
    out, cache = nm.dropout(x, 0.25, rng=rng)
    assert out.dtype == np.float32
    assert nm.dropout_backward(np.ones_like(x), cache).dtype == np.float32
    out_int, _ = nm.dropout(np.arange(6).reshape(2, 3), 0.5, rng=rng)
    assert out_int.dtype == np.float64


# --- statistics of the mask ----------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_mask_statistics(p):
    n = 200_000
    x = np.ones(n)
    out, cache = nm.dropout(x, p, rng=np.random.default_rng(0))
    kept = cache.mask.mean()
    sd = np.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sd                        # Bernoulli(1 - p)
    assert abs(out.mean() - 1.0) < 5 * sd / (1 - p)            # E[h] = x
    # Var[h] = x^2 p / (1 - p), the chapter's variance formula
    assert out.var() == pytest.approx(p / (1 - p), rel=10 * np.sqrt(2 / n) / min(p, 1 - p))
    # independent entries: neighbouring mask entries are uncorrelated
    m = cache.mask.astype(float)
    assert abs(np.corrcoef(m[:-1], m[1:])[0, 1]) < 5 / np.sqrt(n)


# --- backward ------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.0, 0.3, 0.9, 1.0])
def test_gradcheck_random_upstream(rng, p):
    x = rng.standard_normal((6, 5))
    report = nm.gradcheck(fixed_mask_dropout(p), nm.dropout_backward, x)
    assert report.passed and report.max_rel_error < 1e-9, report


def test_backward_is_mask_over_keep_probability(rng):
    x, dout = rng.standard_normal((9, 4)), rng.standard_normal((9, 4))
    _, cache = nm.dropout(x, 0.4, rng=rng)
    np.testing.assert_allclose(nm.dropout_backward(dout, cache), cache.mask * dout / 0.6, rtol=1e-15)


def test_gradcheck_on_a_3d_ensemble_shape(rng):
    x = rng.standard_normal((3, 4, 5))
    report = nm.gradcheck(fixed_mask_dropout(0.5), nm.dropout_backward, x)
    assert report.passed and report.max_rel_error < 1e-9


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
def test_bad_p_raises(p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        nm.dropout(np.ones(3), p)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        nm.Dropout(p)


@pytest.mark.parametrize("p", ["0.5", None, True, np.array([0.5])])
def test_non_number_p_raises(p):
    with pytest.raises(TypeError, match="p must be a real number"):
        nm.dropout(np.ones(3), p)


def test_numpy_scalar_p_accepted():
    out, cache = nm.dropout(np.ones(4), np.float64(0.5), rng=np.random.default_rng(0))
    assert cache.scale == 2.0


def test_backward_shape_mismatch():
    _, cache = nm.dropout(np.ones((3, 4)), 0.5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(3, 4\)"):
        nm.dropout_backward(np.ones((4, 3)), cache)


# --- module --------------------------------------------------------------------------------------
def test_module_train_eval(rng):
    x = rng.standard_normal((16, 8)) + 5
    layer = nm.Dropout(0.5, rng=np.random.default_rng(2))
    assert layer.training and repr(layer) == "Dropout(p=0.5)"
    out = layer(x)
    assert np.any(out == 0) and np.all((out == 0) | np.isclose(out, 2 * x))
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dout), (out != 0) * dout * 2, rtol=1e-15)
    model = nm.Sequential(nm.Linear(8, 8, rng=rng), layer)
    model.eval()                                     # switches the Dropout inside too
    assert not layer.training
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(dout), dout)
    model.train()
    assert layer.training


def test_module_backward_before_forward():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nm.Dropout(0.2).backward(np.ones(3))


def test_module_uses_global_stream_at_call_time(rng):
    x = rng.standard_normal((10, 10))
    layer = nm.Dropout(0.5)                          # built before the seed is set
    nm.manual_seed(8)
    a = layer(x)
    nm.manual_seed(8)
    np.testing.assert_array_equal(layer(x), a)


def test_module_gradcheck_in_a_network(rng):
    # a fixed mask for the check: the layer gets a generator that is re-seeded before every forward
    class FixedDropout(nm.Dropout):
        def forward(self, x):
            self.rng = np.random.default_rng(9)
            return super().forward(x)

    model = nm.Sequential(nm.Linear(5, 7, rng=rng), nm.Tanh(), FixedDropout(0.4), nm.Linear(7, 3, rng=rng))
    report = nm.gradcheck_module(model, rng.standard_normal((6, 5)))
    assert report.passed and report.max_rel_error < 1e-7, report


# --- PyTorch parity of the semantics -------------------------------------------------------------
@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_torch_parity_scaling_and_backward(rng, th, p):
    torch = th.torch
    x = rng.standard_normal((50, 40)) + 4.0
    xt = th.T(x, grad=True)
    torch.manual_seed(0)
    out_t = th.F.dropout(xt, p=p, training=True)
    dout = rng.standard_normal(x.shape)
    out_t.backward(th.T(dout))
    keep_t = out_t.detach().numpy() != 0
    # the kept entries: scaled by 1/(1-p) in both
    ours, cache = nm.dropout(x, p, rng=rng)
    np.testing.assert_allclose(ours[cache.mask] / x[cache.mask], 1 / (1 - p), rtol=1e-15)
    th.close(out_t.detach().numpy()[keep_t] / x[keep_t], np.full(keep_t.sum(), 1 / (1 - p)))
    # backward: with torch's mask in our cache, our gradient equals torch's to rounding
    ours_grad = nm.dropout_backward(dout, nm.DropoutCache(keep_t, 1 / (1 - p), x.shape))
    th.close(ours_grad, xt.grad)
    # both keep a fraction 1 - p (binomial bounds)
    sd = np.sqrt(p * (1 - p) / x.size)
    assert abs(keep_t.mean() - (1 - p)) < 5 * sd and abs(cache.mask.mean() - (1 - p)) < 5 * sd


def test_torch_parity_limits_and_eval(rng, th):
    x = rng.standard_normal((6, 7))
    for p in (0.0, 0.3, 1.0):
        out_t = th.F.dropout(th.T(x), p=p, training=False)
        th.close(nm.dropout(x, p, training=False)[0], out_t)
    th.close(nm.dropout(x, 0.0)[0], th.F.dropout(th.T(x), p=0.0, training=True))
    th.close(nm.dropout(x, 1.0)[0], th.F.dropout(th.T(x), p=1.0, training=True))
    layer_t = th.torch.nn.Dropout(0.3).eval()
    th.close(nm.Dropout(0.3).eval()(x), layer_t(th.T(x)))
    with pytest.raises(ValueError):
        th.F.dropout(th.T(x), p=1.5)                 # PyTorch rejects it too
