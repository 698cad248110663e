"""Tests for nnmath.losses: values against hand computations, gradient checks for every reduction
(random upstream, batch size 1), class-index and soft targets, stability at +-1000, integer inputs,
bad input by message, and the loss modules."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm

REDUCTIONS = ["mean", "sum", "none"]



def soft_targets(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    t = rng.random((n, c))
    return t / t.sum(axis=1, keepdims=True)


# --- values ----------------------------------------------------------------------------------------
def test_mse_values():
    yhat, y = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    sq = np.array([[1.0, 0.0], [4.0, 16.0]])
    assert float(nm.mse_loss(yhat, y)[0]) == sq.mean()          # no factor 1/2, as in PyTorch
    assert float(nm.mse_loss(yhat, y, reduction="sum")[0]) == sq.sum()
    np.testing.assert_array_equal(nm.mse_loss(yhat, y, reduction="none")[0], sq)
    loss, cache = nm.mse_loss(yhat, y)
    np.testing.assert_allclose(nm.mse_loss_backward(1.0, cache), 2 * (yhat - y) / 4, rtol=1e-15)


def test_bce_with_logits_values():
    z, y = np.array([-2.0, 0.0, 3.0]), np.array([0.0, 1.0, 0.3])
    p = 1 / (1 + np.exp(-z))
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(nm.binary_cross_entropy_with_logits(z, y, reduction="none")[0], ref, rtol=1e-14)
    np.testing.assert_allclose(float(nm.binary_cross_entropy_with_logits(z, y)[0]), ref.mean(), rtol=1e-14)
    _, cache = nm.binary_cross_entropy_with_logits(z, y, reduction="sum")
    np.testing.assert_allclose(nm.binary_cross_entropy_with_logits_backward(1.0, cache), p - y, rtol=1e-14)


def test_cross_entropy_values_indices_and_soft():
    z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    t = np.array([0, 2])
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ref = -logp[np.arange(2), t]
    np.testing.assert_allclose(nm.cross_entropy(z, t, reduction="none")[0], ref, rtol=1e-14)
    np.testing.assert_allclose(float(nm.cross_entropy(z, t)[0]), ref.mean(), rtol=1e-14)
    # one-hot probabilities give the same loss and gradient as class indices
    onehot = np.eye(3)[t]
    np.testing.assert_allclose(float(nm.cross_entropy(z, onehot)[0]), ref.mean(), rtol=1e-14)
    _, c1 = nm.cross_entropy(z, t)
    _, c2 = nm.cross_entropy(z, onehot)
    np.testing.assert_allclose(nm.cross_entropy_backward(1.0, c1), nm.cross_entropy_backward(1.0, c2), rtol=1e-15)
    # the fused gradient (p - onehot) / N
    p = np.exp(logp)
    np.testing.assert_allclose(nm.cross_entropy_backward(1.0, c1), (p - onehot) / 2, rtol=1e-14)
    # soft targets: -sum_c y_c log p_c
    soft = np.array([[0.2, 0.5, 0.3], [0.0, 0.9, 0.1]])
    np.testing.assert_allclose(nm.cross_entropy(z, soft, reduction="none")[0], -(soft * logp).sum(axis=1), rtol=1e-14)


# --- gradient checks --------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_mse(reduction, n, rng):
    yhat, y = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    r = nm.gradcheck(nm.mse_loss, nm.mse_loss_backward, yhat, target=y, reduction=reduction)
    assert r.passed and r.max_rel_error < 1e-7, str(r)
    r = nm.gradcheck(nm.mse_loss, nm.mse_loss_backward, rng.standard_normal(4), target=np.zeros(4),
                     reduction=reduction)   # any shape, not only matrices
    assert r.passed and r.max_rel_error < 1e-7, str(r)


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_bce_with_logits(reduction, n, rng):
    z, y = 3 * rng.standard_normal((n, 4)), rng.random((n, 4))   # targets anywhere in [0, 1]
    r = nm.gradcheck(nm.binary_cross_entropy_with_logits, nm.binary_cross_entropy_with_logits_backward,
                     z, target=y, reduction=reduction)
    assert r.passed and r.max_rel_error < 1e-7, str(r)


@pytest.mark.parametrize("n", [1, 6])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "soft"])
def test_gradcheck_cross_entropy(kind, reduction, n, rng):
    z = 2 * rng.standard_normal((n, 4))
    t = rng.integers(0, 4, size=n) if kind == "indices" else soft_targets(rng, n, 4)
    r = nm.gradcheck(nm.cross_entropy, nm.cross_entropy_backward, z, target=t, reduction=reduction)
    assert r.passed and r.max_rel_error < 1e-7, str(r)


def test_cross_entropy_soft_targets_not_summing_to_one(rng):
    """The general gradient p * sum(y) - y is right even when rows of y do not sum to 1."""
    z, t = rng.standard_normal((3, 4)), rng.random((3, 4))
    r = nm.gradcheck(nm.cross_entropy, nm.cross_entropy_backward, z, target=t, reduction="sum")
    assert r.passed and r.max_rel_error < 1e-7, str(r)


# --- stability -----------------------------------------------------------------------------------------
def test_extreme_logits_are_exact_and_warning_free():
    z = np.array([-1000.0, 1000.0, -1000.0, 1000.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    losses = nm.binary_cross_entropy_with_logits(z, y, reduction="none")[0]
    np.testing.assert_array_equal(losses, [0.0, 0.0, 1000.0, 1000.0])
    _, cache = nm.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_array_equal(nm.binary_cross_entropy_with_logits_backward(np.ones(4), cache), [0, 0, -1, 1])
    logits = np.array([[1000.0, -1000.0], [1000.0, -1000.0]])
    ce = nm.cross_entropy(logits, np.array([0, 1]), reduction="none")[0]
    np.testing.assert_array_equal(ce, [0.0, 2000.0])
    _, cache = nm.cross_entropy(logits, np.array([0, 1]), reduction="sum")
    np.testing.assert_array_equal(nm.cross_entropy_backward(1.0, cache), [[0.0, 0.0], [1.0, -1.0]])


# --- integers and bad input -------------------------------------------------------------------------------
def test_integer_inputs_are_float64():
    loss, _ = nm.mse_loss(np.array([1, 2]), np.array([0, 0]))
    assert loss.dtype == np.float64 and float(loss) == 2.5
    loss, _ = nm.cross_entropy(np.array([[1, 2], [0, 0]]), np.array([1, 0]))
    assert loss.dtype == np.float64
    loss, _ = nm.binary_cross_entropy_with_logits(np.array([0, 0]), np.array([1, 0]))
    assert float(loss) == pytest.approx(np.log(2), rel=1e-15)


def test_shape_mismatch_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"input\.shape=\(4, 1\) and target\.shape=\(4,\)"):
        nm.mse_loss(np.zeros((4, 1)), np.zeros(4))   # would broadcast to (4, 4) silently
    with pytest.raises(ValueError, match=r"input\.shape=\(2, 3\) and target\.shape=\(3, 2\)"):
        nm.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"3 labels for 2 rows of logits: input\.shape=\(2, 4\), target\.shape=\(3,\)"):
        nm.cross_entropy(np.zeros((2, 4)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"input\.shape=\(2, 4\), target\.shape=\(2, 3\)"):
        nm.cross_entropy(np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"input must be 2-D \(N, C\) logits, got shape \(4,\)"):
        nm.cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 4\), got min 0 and max 4"):
        nm.cross_entropy(np.zeros((2, 4)), np.array([0, 4]))
    with pytest.raises(ValueError, match=r"got min -1"):
        nm.cross_entropy(np.zeros((2, 4)), np.array([-1, 0]))


def test_bad_reduction_and_dout():
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        nm.mse_loss(np.zeros(2), np.zeros(2), reduction="avg")
    _, cache = nm.mse_loss(np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"dout of a reduced loss must be a scalar, got dout\.shape=\(2,\)"):
        nm.mse_loss_backward(np.ones(2), cache)
    _, cache = nm.mse_loss(np.zeros((2, 2)), np.ones((2, 2)), reduction="none")
    with pytest.raises(ValueError, match=r"dout must have the loss's shape \(2, 2\), got dout\.shape=\(2,\)"):
        nm.mse_loss_backward(np.ones(2), cache)


# --- modules --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_modules_match_functions(reduction, rng):
    z, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, size=4)
    for module, fn, back, target in [(nm.MSELoss(reduction), nm.mse_loss, nm.mse_loss_backward, y),
                                     (nm.BCEWithLogitsLoss(reduction), nm.binary_cross_entropy_with_logits,
                                      nm.binary_cross_entropy_with_logits_backward, rng.random((4, 3))),
                                     (nm.CrossEntropyLoss(reduction), nm.cross_entropy, nm.cross_entropy_backward,
                                      labels)]:
        loss = module(z, target)
        ref, cache = fn(z, target, reduction=reduction)
        np.testing.assert_array_equal(loss, ref)
        dout = 1.0 if reduction != "none" else rng.standard_normal(np.shape(ref))
        np.testing.assert_array_equal(module.backward(dout), back(dout, cache))
    assert repr(nm.MSELoss(reduction)) == f"MSELoss(reduction={reduction!r})"


def test_loss_module_backward_defaults_to_one():
    loss_fn = nm.CrossEntropyLoss()
    loss_fn(np.zeros((2, 3)), np.array([0, 1]))
    _, cache = nm.cross_entropy(np.zeros((2, 3)), np.array([0, 1]))
    np.testing.assert_array_equal(loss_fn.backward(), nm.cross_entropy_backward(1.0, cache))
    with pytest.raises(RuntimeError, match="MSELoss.backward called before forward"):
        nm.MSELoss().backward()


# --- label smoothing -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["indices", "soft"])
def test_label_smoothing_is_the_smoothed_target(kind, eps, rng):
    """(1 - eps) * y + eps / C, for class indices (y one-hot) and probabilities alike."""
    z = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, size=5) if kind == "indices" else soft_targets(rng, 5, 4)
    y = np.eye(4)[t] if kind == "indices" else t
    loss, _ = nm.cross_entropy(z, t, reduction="none", label_smoothing=eps)
    ref, _ = nm.cross_entropy(z, (1 - eps) * y + eps / 4, reduction="none")
    np.testing.assert_allclose(loss, ref, rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "soft"])
def test_gradcheck_label_smoothing(kind, reduction, rng):
    z = 2 * rng.standard_normal((6, 5))
    t = rng.integers(0, 5, size=6) if kind == "indices" else soft_targets(rng, 6, 5)
    r = nm.gradcheck(nm.cross_entropy, nm.cross_entropy_backward, z, target=t, reduction=reduction,
                     label_smoothing=0.2)
    assert r.passed and r.max_rel_error < 1e-7, str(r)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "soft"])
def test_label_smoothing_torch_parity(kind, reduction, rng, th):
    z = 3 * rng.standard_normal((6, 5))
    t = rng.integers(0, 5, size=6) if kind == "indices" else soft_targets(rng, 6, 5)
    module = nm.CrossEntropyLoss(reduction, label_smoothing=0.15)
    loss = module(z, t)
    zt = th.T(z, grad=True)
    tt = th.torch.tensor(t) if kind == "indices" else th.T(t)
    lt = th.torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.15)(zt, tt)
    th.close(loss, lt)
    dout = 1.0 if reduction != "none" else rng.standard_normal(6)
    lt.backward(th.T(dout) if reduction == "none" else None)
    th.close(module.backward(dout), zt.grad)
    assert repr(module) == f"CrossEntropyLoss(reduction={reduction!r}, label_smoothing=0.15)"


def test_label_smoothing_bad_value():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        nm.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5)


# --- empty batches -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch_backward_is_empty(reduction):
    """Mean over no samples: the forward gives 0 and the backward a (0, C) gradient, not 1/0."""
    z = np.zeros((0, 3))
    for fn, back, target in [(nm.cross_entropy, nm.cross_entropy_backward, np.zeros(0, dtype=np.int64)),
                             (nm.mse_loss, nm.mse_loss_backward, np.zeros((0, 3))),
                             (nm.binary_cross_entropy_with_logits, nm.binary_cross_entropy_with_logits_backward,
                              np.zeros((0, 3)))]:
        loss, cache = fn(z, target, reduction=reduction)
        if reduction != "none":
            assert float(loss) == 0.0
        dout = 1.0 if reduction != "none" else np.zeros(np.shape(loss))
        g = back(dout, cache)
        assert g.shape == (0, 3)
