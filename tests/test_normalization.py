"""Batch and layer normalization: derived backward vs finite differences, staged vs compact form,
the invariants of the gradient, PyTorch parity (float64) and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm

# gradcheck draws its upstream gradient from a stream of its own (default_rng([seed, 0x67726164])):
# were it drawn from the inputs' stream, it would be an affine function of x, i.e. lie in the null
# space of the batch-norm Jacobian, and the true input gradient would be ~0.
SEED = 1234
LAYOUTS = [(6, 3), (4, 3, 5), (3, 3, 4, 2)]
TOL = 1e-7


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _affine_args(rng, shape, which):
    C = shape[1]
    x = rng.standard_normal(shape) * 2.0 + 0.5
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    return {"none": (x,), "gamma": (x, gamma), "both": (x, gamma, beta)}[which]


# --- gradient checks --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", LAYOUTS)
@pytest.mark.parametrize("which", ["none", "gamma", "both"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, which, training):
    rng = _rng()
    args = _affine_args(rng, shape, which)
    kw = {}
    if not training:
        kw = dict(training=False, running_mean=rng.standard_normal(shape[1]),
                  running_var=rng.uniform(0.5, 2.0, shape[1]))
    for backward in (nm.batch_norm_backward, nm.batch_norm_backward_staged):
        report = nm.gradcheck(nm.batch_norm, backward, *args, **kw)
        assert report.passed and report.max_rel_error < TOL, str(report)


@pytest.mark.parametrize("shape,normalized_shape", [((5, 4), (4,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("which", ["none", "gamma", "both"])
def test_layer_norm_gradcheck(shape, normalized_shape, which):
    rng = _rng()
    x = rng.standard_normal(shape) * 3.0 - 1.0
    g, b = rng.standard_normal(normalized_shape), rng.standard_normal(normalized_shape)
    args = {"none": (x,), "gamma": (x, g), "both": (x, g, b)}[which]
    report = nm.gradcheck(nm.layer_norm, nm.layer_norm_backward, *args, normalized_shape=normalized_shape)
    assert report.passed and report.max_rel_error < TOL, str(report)


@pytest.mark.parametrize("cls,shape", [(nm.BatchNorm1d, (6, 3)), (nm.BatchNorm1d, (4, 3, 5)),
                                       (nm.BatchNorm2d, (3, 3, 4, 2))])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_module_gradcheck(cls, shape, affine, training):
    rng = _rng()
    bn = cls(shape[1], affine=affine)
    if affine:
        bn.weight.data[:] = rng.standard_normal(shape[1])
        bn.bias.data[:] = rng.standard_normal(shape[1])
    bn.running_mean[:] = rng.standard_normal(shape[1])
    bn.running_var[:] = rng.uniform(0.5, 2.0, shape[1])
    bn.train(training)
    report = nm.gradcheck_module(bn, rng.standard_normal(shape) + 1.0)
    assert report.passed and report.max_rel_error < TOL, str(report)


@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, True)])
def test_layernorm_module_gradcheck(affine, bias):
    rng = _rng()
    ln = nm.LayerNorm((3, 4), elementwise_affine=affine, bias=bias)
    for p in ln.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    report = nm.gradcheck_module(ln, rng.standard_normal((2, 5, 3, 4)))
    assert report.passed and report.max_rel_error < TOL, str(report)


def test_gradcheck_catches_a_dropped_mean_term():
    """The check must be able to fail: dropping the path through the mean is caught."""
    rng = _rng()
    x = rng.standard_normal((6, 3))

    def no_mean_path(dout, cache):
        xhat, rstd = cache.xhat, cache.rstd
        return rstd * (dout - xhat * np.mean(dout * xhat, axis=0, keepdims=True))

    report = nm.gradcheck(nm.batch_norm, no_mean_path, x, raise_on_failure=False)
    assert not report.passed


# --- staged vs compact, invariants -------------------------------------------------------------
@pytest.mark.parametrize("shape", LAYOUTS)
@pytest.mark.parametrize("which", ["none", "gamma", "both"])
def test_staged_equals_compact(shape, which):
    rng = _rng()
    out, cache = nm.batch_norm(*_affine_args(rng, shape, which))
    dout = rng.standard_normal(shape)
    compact, staged = nm.batch_norm_backward(dout, cache), nm.batch_norm_backward_staged(dout, cache)
    assert len(compact) == len(staged) == 3          # (dx, dgamma, dbeta), None where not given
    omitted = {"none": (1, 2), "gamma": (2,), "both": ()}[which]
    for i, (a, b) in enumerate(zip(compact, staged)):
        if i in omitted:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", LAYOUTS)
def test_batch_norm_gradient_invariants(shape):
    """Per feature: sum over the batch of dx is 0 (BN ignores a shift of x), and dx is orthogonal
    to xhat (BN ignores a rescaling of x) — exactly when eps = 0, and up to the factor
    eps / (var + eps) otherwise, since eps breaks the scale invariance."""
    rng = _rng()
    x, gamma, beta = _affine_args(rng, shape, "both")
    axes = (0,) + tuple(range(2, x.ndim))
    m = x.size // shape[1]
    dout = rng.standard_normal(shape)
    for eps in (0.0, 1e-5, 1.0):
        _, cache = nm.batch_norm(x, gamma, beta, eps=eps)
        dx, _, _ = nm.batch_norm_backward(dout, cache)
        atol = 1e-13 * np.abs(dx).max() * m
        np.testing.assert_allclose(dx.sum(axis=axes), 0.0, atol=atol)
        dxhat = (dout * gamma.reshape(cache.param_view))
        var = x.var(axis=axes, keepdims=True)
        expected = cache.rstd * m * np.mean(dxhat * cache.xhat, axis=axes, keepdims=True) * eps / (var + eps)
        np.testing.assert_allclose((dx * cache.xhat).sum(axis=axes), expected.reshape(-1), atol=atol)
        if eps == 0.0:
            np.testing.assert_allclose((dx * cache.xhat).sum(axis=axes), 0.0, atol=atol)


def test_layer_norm_gradient_invariants():
    rng = _rng()
    x = rng.standard_normal((4, 6, 5))
    _, cache = nm.layer_norm(x, rng.standard_normal(5), rng.standard_normal(5), eps=0.0)
    dx, _, _ = nm.layer_norm_backward(rng.standard_normal(x.shape), cache)
    np.testing.assert_allclose(dx.sum(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose((dx * cache.xhat).sum(axis=-1), 0.0, atol=1e-12)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_scaling_the_preceding_weights(norm):
    """Scaling W by a leaves norm(xW) unchanged and divides dL/dW by a."""
    rng = _rng()
    x, W, dout = rng.standard_normal((16, 5)), rng.standard_normal((5, 4)), rng.standard_normal((16, 4))
    op, op_backward = (nm.batch_norm, nm.batch_norm_backward) if norm == "batch" else (nm.layer_norm,
                                                                                       nm.layer_norm_backward)
    results = []
    for a in (1.0, 7.5):
        h, lcache = nm.linear(x, a * W)
        y, cache = op(h, eps=0.0)
        dW = nm.linear_backward(op_backward(dout, cache)[0], lcache)[1]
        results.append((y, dW))
    (y1, dW1), (y2, dW2) = results
    np.testing.assert_allclose(y2, y1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW2 * 7.5, dW1, rtol=1e-10, atol=1e-12)


def test_eval_mode_backward_is_a_per_feature_affine_map():
    rng = _rng()
    x, g, b = _affine_args(rng, (5, 3), "both")
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    out, cache = nm.batch_norm(x, g, b, training=False, running_mean=rm, running_var=rv)
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + 1e-5) * g + b, rtol=1e-13)
    dout = rng.standard_normal(x.shape)
    dx, dg, db = nm.batch_norm_backward(dout, cache)
    np.testing.assert_allclose(dx, dout * g / np.sqrt(rv + 1e-5), rtol=1e-13)
    np.testing.assert_allclose(db, dout.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(dg, (dout * (x - rm) / np.sqrt(rv + 1e-5)).sum(axis=0), rtol=1e-12)


# --- forward values and running statistics ---------------------------------------------------
def test_batch_norm_forward_by_hand():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    out, _ = nm.batch_norm(x, eps=0.0 + 1e-5)
    var = 8.0 / 3.0
    np.testing.assert_allclose(out[:, 0], np.array([-2.0, 0.0, 2.0]) / np.sqrt(var + 1e-5), rtol=1e-14)
    np.testing.assert_array_equal(out[:, 1], 0.0)  # a constant feature maps to 0, not NaN


def test_running_statistics_by_hand():
    bn = nm.BatchNorm1d(2, momentum=0.1)
    x = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    bn(x)
    # mean (2, 1); unbiased variance (4, 0)
    np.testing.assert_allclose(bn.running_mean, [0.9 * 0 + 0.1 * 2, 0.1 * 1], rtol=1e-14)
    np.testing.assert_allclose(bn.running_var, [0.9 * 1 + 0.1 * 4, 0.9 * 1 + 0.0], rtol=1e-14)
    assert bn.num_batches_tracked == 1
    bn.eval()
    bn(x)  # evaluation does not update
    assert bn.num_batches_tracked == 1
    np.testing.assert_allclose(bn.running_mean, [0.2, 0.1], rtol=1e-14)


def test_momentum_none_is_the_cumulative_average():
    rng = _rng()
    bn = nm.BatchNorm1d(3, momentum=None)
    batches = [rng.standard_normal((8, 3)) * (i + 1) + i for i in range(4)]
    for b in batches:
        bn(b)
    np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=1e-12)


def test_layer_norm_ignores_the_batch_and_the_mode():
    rng = _rng()
    x = rng.standard_normal((7, 5))
    ln = nm.LayerNorm(5)
    full = ln(x)
    np.testing.assert_allclose(ln(x[2:3]), full[2:3], rtol=1e-14)
    ln.eval()
    np.testing.assert_allclose(ln(x), full, rtol=1e-14)


def test_module_gradients_accumulate():
    rng = _rng()
    bn = nm.BatchNorm1d(3)
    x, dout = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    bn(x)
    bn.backward(dout)
    g1 = bn.weight.grad.copy()
    bn(x)
    bn.backward(dout)
    np.testing.assert_allclose(bn.weight.grad, 2 * g1, rtol=1e-14)


# --- stability ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0.0, 0.1, -3.7, 1e8])
def test_zero_variance_features_are_finite(value):
    x = np.full((4, 3, 2, 2), value)
    out, cache = nm.batch_norm(x, np.ones(3), np.full(3, 0.5))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 0.5, atol=1e-6)
    dx, dg, db = nm.batch_norm_backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dg))
    out, cache = nm.layer_norm(x, normalized_shape=(2, 2))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(nm.layer_norm_backward(np.ones_like(x), cache)[0]))


@pytest.mark.parametrize("scale", [1e-100, 1e-3, 1e100])
def test_extreme_scales(scale):
    rng = _rng()
    z = rng.standard_normal((8, 3))
    out, _ = nm.batch_norm(z * scale)
    assert np.all(np.isfinite(out))
    if scale > 1.0:  # eps is negligible: the output is that of z itself
        np.testing.assert_allclose(out, nm.batch_norm(z, eps=0.0)[0], rtol=1e-10)
    else:  # eps dominates a tiny variance: the output shrinks towards 0
        assert np.abs(out).max() < 1.0


def test_float32_stays_float32():
    rng = _rng()
    x = rng.standard_normal((6, 3)).astype(np.float32)
    bn = nm.BatchNorm1d(3, affine=False)
    assert bn(x).dtype == np.float32
    bn.eval()
    assert bn(x).dtype == np.float32
    assert nm.layer_norm(x)[0].dtype == np.float32


# --- bad input ---------------------------------------------------------------------------------
def test_bad_input_messages():
    rng = _rng()
    with pytest.raises(ValueError, match=r"at least 2-D.*\(5,\)"):
        nm.batch_norm(rng.standard_normal(5))
    with pytest.raises(ValueError, match=r"gamma.*\(3,\).*\(4, 3\).*\(5,\)"):
        nm.batch_norm(rng.standard_normal((4, 3)), np.ones(5))
    with pytest.raises(ValueError, match=r"beta.*\(3,\).*\(2,\)"):
        nm.batch_norm(rng.standard_normal((4, 3)), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"2-D or 3-D.*\(2, 3, 4, 4\)"):
        nm.BatchNorm1d(3)(rng.standard_normal((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"4-D.*\(2, 3\)"):
        nm.BatchNorm2d(3)(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"\(4, 5\).*num_features=3"):
        nm.BatchNorm1d(3)(rng.standard_normal((4, 5)))
    with pytest.raises(ValueError, match=r"x.shape=\(4, 5\).*normalized_shape=\(3,\)"):
        nm.LayerNorm(3)(rng.standard_normal((4, 5)))
    with pytest.raises(ValueError, match=r"gamma.*\(5,\).*\(4,\)"):
        nm.layer_norm(rng.standard_normal((2, 5)), np.ones(4), normalized_shape=5)
    with pytest.raises(ValueError, match=r"normalized_shape=\(0,\) has no entries.*\(2, 0\)"):
        nm.layer_norm(np.ones((2, 0)))              # np.mean would warn and give NaN
    _, cache = nm.batch_norm(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match=r"dout.*\(4, 2\).*\(4, 3\)"):
        nm.batch_norm_backward(np.ones((4, 2)), cache)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        nm.batch_norm(rng.standard_normal((4, 3)), training=False)
    with pytest.raises(RuntimeError, match="before forward"):
        nm.BatchNorm1d(3).backward(np.ones((2, 3)))


def test_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nm.BatchNorm1d(3)(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nm.BatchNorm2d(3)(np.ones((1, 3, 1, 1)))
    nm.BatchNorm2d(3)(np.arange(12.0).reshape(1, 3, 2, 2))  # one image, four positions: fine
    bn = nm.BatchNorm1d(3).eval()
    assert np.all(np.isfinite(bn(np.ones((1, 3)))))  # evaluation uses running statistics: fine


# --- PyTorch parity (float64) ------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 3, 2))])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_matches_torch(cls, shape, momentum):
    torch = pytest.importorskip("torch")
    rng = _rng()
    ours = getattr(nm, cls)(shape[1], momentum=momentum)
    theirs = getattr(torch.nn, cls)(shape[1], momentum=momentum).double()
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    ours.weight.data[:], ours.bias.data[:] = w, b
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    for step in range(3):
        x, dout = rng.standard_normal(shape) * (step + 1) + step, rng.standard_normal(shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        ty.backward(torch.tensor(dout))
        ours.zero_grad()
        y = ours(x)
        dx = ours.backward(dout)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
        theirs.weight.grad = theirs.bias.grad = None
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12, atol=1e-14)
        assert ours.num_batches_tracked == int(theirs.num_batches_tracked)
    ours.eval()
    theirs.eval()
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.backward(dout), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_batchnorm_without_running_stats_matches_torch_in_eval():
    torch = pytest.importorskip("torch")
    rng = _rng()
    x = rng.standard_normal((6, 3))
    ours = nm.BatchNorm1d(3, affine=False, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False).double().eval()
    assert ours.running_mean is None and theirs.running_mean is None
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalized_shape", [(5,), (4, 5)])
def test_layernorm_matches_torch(normalized_shape):
    torch = pytest.importorskip("torch")
    rng = _rng()
    shape = (3, 4, 5)
    ours = nm.LayerNorm(normalized_shape)
    theirs = torch.nn.LayerNorm(normalized_shape).double()
    w, b = rng.standard_normal(normalized_shape), rng.standard_normal(normalized_shape)
    ours.weight.data[...], ours.bias.data[...] = w, b
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    x, dout = rng.standard_normal(shape) * 3 + 2, rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.backward(dout), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_functional_forms_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = _rng()
    x, g, b = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out, _ = nm.batch_norm(x, g, b, running_mean=rm, running_var=rv, momentum=0.2)
    ref = F.batch_norm(torch.tensor(x), trm, trv, torch.tensor(g), torch.tensor(b), training=True, momentum=0.2)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12)
    out, _ = nm.layer_norm(x, normalized_shape=(2, 2))
    np.testing.assert_allclose(out, F.layer_norm(torch.tensor(x), (2, 2)).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("which", ["running_mean", "running_var"])
def test_integer_running_stats_are_rejected_by_name(which, training):
    x = _rng().standard_normal((4, 3))
    stats = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    stats[which] = stats[which].astype(np.int64)
    with pytest.raises(TypeError, match=rf"{which} must be a floating-point ndarray .* dtype=int64"):
        nm.batch_norm(x, training=training, **stats)
