"""Tests for nnmath.diagnostics: per-layer statistics from a real forward and
backward pass (checked against a hand computation and against finite differences), and the exact
input-output Jacobian (fast path vs naive loop vs central differences vs the product of weights)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmath as nm


def _set(layer: nm.Linear, W, b) -> None:
    layer.weight.data[...] = W
    layer.bias.data[...] = b


# --- deep_mlp ---------------------------------------------------------------------------------------
def _tiny():
    """Linear(2,3) -> Tanh -> Linear(3,2) -> ReLU with fixed numbers: one tanh unit saturates on some
    samples, one ReLU unit is negative for every sample (dead)."""
    model = nm.Sequential(nm.Linear(2, 3), nm.Tanh(), nm.Linear(3, 2), nm.ReLU())
    W1 = np.array([[0.5, -1.0, 3.0], [0.25, 0.5, 2.0]])
    b1 = np.array([0.1, 0.0, -0.2])
    W2 = np.array([[1.0, 0.3], [-0.5, 0.2], [0.7, -0.4]])
    b2 = np.array([0.05, -3.0])
    _set(model[0], W1, b1)
    _set(model[2], W2, b2)
    x = np.array([[1.0, -0.5], [0.2, 0.4], [-1.5, 1.0], [2.0, 1.0]])
    dout = np.array([[0.3, -1.2], [1.1, 0.4], [-0.7, 0.9], [0.5, 0.5]])
    return model, x, dout, (W1, b1, W2, b2)


def test_layer_statistics_matches_hand_computation():
    model, x, dout, (W1, b1, W2, b2) = _tiny()
    s = nm.layer_statistics(model, x, dout, keep=True)
    # forward, by hand
    z1 = x @ W1 + b1
    h1 = np.tanh(z1)
    z2 = h1 @ W2 + b2
    h2 = np.maximum(z2, 0)
    # backward, by hand (chain rule through each op)
    gz2 = dout * (z2 > 0)
    gh1 = gz2 @ W2.T
    gz1 = gh1 * (1 - h1**2)
    gx = gz1 @ W1.T
    gW1, gW2 = x.T @ gz1, h1.T @ gz2

    np.testing.assert_allclose(s.pre_mean, [z1.mean(), z2.mean()], rtol=1e-14)
    np.testing.assert_allclose(s.pre_std, [z1.std(), z2.std()], rtol=1e-14)
    np.testing.assert_allclose(s.act_mean, [h1.mean(), h2.mean()], rtol=1e-14)
    np.testing.assert_allclose(s.act_std, [h1.std(), h2.std()], rtol=1e-14)
    np.testing.assert_allclose(s.grad_act_norm, [np.linalg.norm(gh1), np.linalg.norm(dout)], rtol=1e-14)
    np.testing.assert_allclose(s.grad_act_std, [gh1.std(), dout.std()], rtol=1e-14)
    np.testing.assert_allclose(s.grad_pre_norm, [np.linalg.norm(gz1), np.linalg.norm(gz2)], rtol=1e-14)
    np.testing.assert_allclose(s.grad_pre_std, [gz1.std(), gz2.std()], rtol=1e-14)
    np.testing.assert_allclose(s.weight_std, [W1.std(), W2.std()], rtol=1e-14)
    np.testing.assert_allclose(s.weight_grad_norm, [np.linalg.norm(gW1), np.linalg.norm(gW2)], rtol=1e-14)
    np.testing.assert_allclose(s.weight_grad_std, [gW1.std(), gW2.std()], rtol=1e-14)
    assert s.input_grad_norm == pytest.approx(np.linalg.norm(gx), rel=1e-14)
    assert s.input_grad_std == pytest.approx(gx.std(), rel=1e-14)
    np.testing.assert_allclose(s.input_grad, gx, rtol=1e-14)
    np.testing.assert_allclose(model[0].weight.grad, gW1, rtol=1e-14)
    # saturation: tanh'(z) = 1 - tanh^2 < 0.01 exactly where |z1| > atanh(sqrt(0.99)) = 2.993
    assert s.frac_saturated[0] == pytest.approx(np.mean(np.abs(z1) > np.arctanh(np.sqrt(0.99))))
    assert 0 < s.frac_saturated[0] < 1
    assert math.isnan(s.frac_saturated[1]) and math.isnan(s.frac_zero[0]) and math.isnan(s.frac_dead[0])
    assert s.frac_zero[1] == pytest.approx(np.mean(z2 <= 0))
    assert s.frac_dead[1] == 0.5          # unit 2 has bias -3 and is negative for every sample
    assert s.depth == 2 and s.loss is None
    for a, b in zip(s.activations + s.pre_activations, [h1, h2, z1, z2]):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert len(str(s).splitlines()) == 3 and s.rows()[0]["layer"] == 1


def test_layer_statistics_sigmoid_saturation():
    """sigma'(z) = 1/(4 cosh^2(z/2)) < 0.01 * 1/4 exactly where |z| > 2 acosh(10) = 5.99: here -8 and 6."""
    model = nm.Sequential(nm.Linear(1, 1), nm.Sigmoid())
    _set(model[0], [[1.0]], [0.0])
    z = np.array([[-8.0], [-5.0], [-1.0], [0.0], [3.0], [6.0]])
    s = nm.layer_statistics(model, z, np.ones_like(z))
    sig = 1 / (1 + np.exp(-z))
    assert s.frac_saturated[0] == pytest.approx(np.mean(sig * (1 - sig) < 0.0025)) == pytest.approx(2 / 6)


def test_layer_statistics_gradients_pass_finite_differences():
    """The input and weight gradients it reports are the true gradients, for a random upstream gradient."""
    model = nm.deep_mlp(3, 4, "tanh", in_features=3, out_features=2, rng=np.random.default_rng(3))
    x = np.random.default_rng(4).standard_normal((5, 3))
    weights = [lay.weight for lay in model if isinstance(lay, nm.Linear)]

    def backward(dout):
        s = nm.layer_statistics(model, x, dout, keep=True)
        return [s.input_grad] + [w.grad.copy() for w in weights]

    inputs = {"x": x, **{f"W{i}": w.data for i, w in enumerate(weights)}}
    report = nm.check_vjp(lambda: model.forward(x), backward, inputs)
    assert report.passed and report.max_rel_error < 1e-7


def test_layer_statistics_with_a_loss():
    model = nm.deep_mlp(2, 6, "relu", in_features=4, out_features=3, rng=np.random.default_rng(5))
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    s = nm.layer_statistics(model, x, loss=nm.CrossEntropyLoss(), target=y)
    loss, cache = nm.cross_entropy(model.forward(x), y)
    ref = nm.layer_statistics(model, x, nm.cross_entropy_backward(1.0, cache))
    assert s.loss == pytest.approx(float(loss), rel=1e-14)
    np.testing.assert_allclose(s.weight_grad_norm, ref.weight_grad_norm, rtol=1e-14)
    with pytest.raises(ValueError, match="a loss needs a target"):
        nm.layer_statistics(model, x, loss=nm.CrossEntropyLoss())


def test_layer_statistics_probe_is_seeded_and_nested_sequential_is_flattened():
    model = nm.deep_mlp(3, 5, "tanh", rng=np.random.default_rng(7))
    x = np.random.default_rng(8).standard_normal((4, 5))
    a = nm.layer_statistics(model, x, rng=np.random.default_rng(9))
    b = nm.layer_statistics(nm.Sequential(nm.Sequential(*model.layers[:2]), *model.layers[2:]), x,
                            rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a.grad_act_norm, b.grad_act_norm)
    assert a.depth == 3


def test_layer_statistics_errors():
    model = nm.deep_mlp(2, 3, "tanh", rng=np.random.default_rng(0))
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"dout.shape=\(4, 2\) and the output.shape=\(4, 3\)"):
        nm.layer_statistics(model, x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"x.shape=\(4, 2\).*W.shape=\(3, 3\)"):
        nm.layer_statistics(model, np.zeros((4, 2)))
    with pytest.raises(TypeError, match="needs a Sequential, got Linear"):
        nm.layer_statistics(nm.Linear(3, 3), x)
    with pytest.raises(ValueError, match=r"first module must be a Linear \(a block starts at each Linear\), got Tanh"):
        nm.layer_statistics(nm.Sequential(nm.Tanh(), nm.Linear(3, 3)), x)


def test_extreme_but_valid_weights_give_finite_statistics():
    """50 ReLU layers with tiny (std 0.01) and large (std 2/sqrt(n)) weights: values near 1e-50 and
    1e+7, all finite, no NumPy warnings (the test suite turns warnings into errors)."""
    x = np.random.default_rng(0).standard_normal((16, 32))
    for std in (0.01, 2 / math.sqrt(32)):
        model = nm.deep_mlp(50, 32, "relu", init="normal_", init_kwargs={"std": std}, rng=np.random.default_rng(1))
        s = nm.layer_statistics(model, x, rng=np.random.default_rng(2))
        for name, v in vars(s).items():
            if isinstance(v, np.ndarray):
                assert np.all(np.isfinite(v) | np.isnan(v)), name
        assert np.all(np.isfinite(s.act_std)) and s.act_std[-1] > 0


# --- Jacobian ------------------------------------------------------------------------------------
def _fd_jacobian(model, x, h=1e-6):
    """Central differences, one input coordinate at a time (test reference)."""
    J = np.empty((model.forward(x[None]).shape[1], x.size))
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        J[:, i] = (model.forward((x + e)[None])[0] - model.forward((x - e)[None])[0]) / (2 * h)
    return J


def test_jacobian_fast_equals_naive_equals_finite_differences():
    model = nm.deep_mlp(4, 6, "tanh", in_features=5, out_features=3, rng=np.random.default_rng(10))
    X = np.random.default_rng(11).standard_normal((4, 5))
    J = nm.input_output_jacobian(model, X)
    assert J.shape == (4, 3, 5)
    np.testing.assert_allclose(J, nm.input_output_jacobian_naive(model, X), rtol=1e-13, atol=1e-15)
    for n in range(4):
        fd = _fd_jacobian(model, X[n])
        assert np.max(np.abs(J[n] - fd)) / np.max(np.abs(fd)) < 1e-7
        np.testing.assert_allclose(nm.input_output_jacobian(model, X[n]), J[n], rtol=1e-13)
        np.testing.assert_allclose(nm.jacobian_singular_values(model, X[n]),
                                   np.linalg.svd(fd, compute_uv=False), rtol=1e-6)


def test_jacobian_of_a_linear_network_is_the_product_of_weights():
    """y = x W1 W2 W3 + c, so J = (W1 W2 W3)^T, whatever x."""
    model = nm.deep_mlp(3, 4, "linear", in_features=5, out_features=2, rng=np.random.default_rng(12))
    Ws = [lay.weight.data for lay in model]
    expected = (Ws[0] @ Ws[1] @ Ws[2] @ Ws[3]).T
    J = nm.input_output_jacobian(model, np.random.default_rng(13).standard_normal((3, 5)))
    for n in range(3):
        np.testing.assert_allclose(J[n], expected, rtol=1e-13)


def test_jacobian_of_an_orthogonal_linear_network_is_an_isometry():
    model = nm.deep_mlp(20, 8, "linear", init="orthogonal_", rng=np.random.default_rng(14))
    sv = nm.jacobian_singular_values(model, np.ones(8))
    np.testing.assert_allclose(sv, 1.0, rtol=1e-12)


def test_jacobian_leaves_parameter_gradients_alone():
    model = nm.deep_mlp(2, 3, "tanh", rng=np.random.default_rng(15))
    for p in model.parameters():
        p.grad[...] = 7.0
    nm.input_output_jacobian(model, np.ones(3))
    nm.input_output_jacobian_naive(model, np.ones(3))
    assert all(np.all(p.grad == 7.0) for p in model.parameters())


def test_jacobian_errors():
    model = nm.deep_mlp(2, 3, "tanh", rng=np.random.default_rng(16))
    with pytest.raises(ValueError, match=r"x must be 1-D or 2-D \(D_in,\) or \(N, D_in\), got shape \(1, 1, 3\)"):
        nm.input_output_jacobian(model, np.ones((1, 1, 3)))
    with pytest.raises(ValueError, match=r"x.shape=\(1, 4\).*W.shape=\(3, 3\)"):
        nm.input_output_jacobian(model, np.ones(4))
