"""Shared reference models (deep_mlp, digits_cnn, the one-unit RNN) and the parameter/vector helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmath as nm


def test_digits_cnn_shapes_parameter_count_and_gradients() -> None:
    model = nm.digits_cnn(channels=(8, 16), rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((5, 1, 8, 8))
    assert model(x).shape == (5, 10)
    # conv 1*8*9+8, BN 2*8, conv 8*16*9+16, BN 2*16, linear 64*10+10
    assert model.num_parameters() == (72 + 8) + 16 + (1152 + 16) + 32 + (640 + 10) == 1946
    small = nm.digits_cnn(channels=(2, 3), num_classes=4, rng=np.random.default_rng(2))
    report = nm.gradcheck_module(small, np.random.default_rng(3).standard_normal((3, 1, 8, 8)))
    assert report.passed
    for check in report.checks:
        if check.name.endswith(("layers.0.bias", "layers.4.bias")):
            # a conv bias right before batch norm is subtracted out again: its gradient is exactly 0
            assert np.abs(check.analytic).max() < 1e-12 and np.abs(check.numeric).max() < 1e-8
        else:
            assert check.max_rel_error < 1e-7, check


def test_parameters_to_vector_round_trip_and_grads() -> None:
    model = nm.Sequential(nm.Linear(3, 4, rng=np.random.default_rng(0)), nm.Tanh(),
                          nm.Linear(4, 2, rng=np.random.default_rng(1)))
    params = model.parameters()
    vec = nm.parameters_to_vector(params)
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    np.testing.assert_array_equal(vec[:12], params[0].data.ravel())
    nm.vector_to_parameters(2 * vec, params)
    np.testing.assert_array_equal(nm.parameters_to_vector(params), 2 * vec)
    model(np.ones((2, 3)))
    model.backward(np.random.default_rng(2).standard_normal((2, 2)))
    g = nm.parameters_to_vector(params, grad=True)
    np.testing.assert_array_equal(g[-2:], params[-1].grad)
    with pytest.raises(ValueError, match=r"vec must have shape \(26,\).*got vec.shape=\(3,\)"):
        nm.vector_to_parameters(np.zeros(3), params)


def test_parameters_to_vector_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    lin = nm.Linear(3, 2, rng=np.random.default_rng(0))
    t = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(lin.weight.data.T.copy()))
        t.bias.copy_(torch.from_numpy(lin.bias.data))
    # same values; torch's weight is the transpose, so compare per tensor after transposing back
    tv = torch.nn.utils.parameters_to_vector(t.parameters()).detach().numpy()
    np.testing.assert_array_equal(tv[:6], lin.weight.data.T.ravel())
    np.testing.assert_array_equal(tv[6:], nm.parameters_to_vector([lin.bias]))


# --- deep_mlp ----------------------------------------------------------------------------------
def test_deep_mlp_structure():
    m = nm.deep_mlp(3, 4, "tanh", in_features=5, out_features=2, rng=np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [lay.weight.shape for lay in m if isinstance(lay, nm.Linear)] == [(5, 4), (4, 4), (4, 4), (4, 2)]
    lin = nm.deep_mlp(4, 3, "linear", rng=np.random.default_rng(0))
    assert all(isinstance(lay, nm.Linear) for lay in lin) and len(lin) == 4
    leaky = nm.deep_mlp(2, 3, lambda: nm.LeakyReLU(0.2), rng=np.random.default_rng(0))
    assert isinstance(leaky[1], nm.LeakyReLU) and leaky[1].negative_slope == 0.2 and leaky[1] is not leaky[3]


def test_deep_mlp_initialization():
    """Named initializers reach every weight (variance within 5 standard errors, SE = s^2 sqrt(2/n)
    for normal weights) and zero the biases; 'default' keeps Linear's U(+-1/sqrt(in)) for both."""
    m = nm.deep_mlp(2, 300, "relu", init="kaiming_normal_", init_kwargs={"nonlinearity": "relu"},
                    rng=np.random.default_rng(1))
    for lay in (m[0], m[2]):
        w = lay.weight.data
        var = 2 / 300
        assert abs(np.mean(w**2) - var) <= 5 * var * math.sqrt(2 / w.size)
        assert np.all(lay.bias.data == 0)
    d = nm.deep_mlp(1, 300, "relu", rng=np.random.default_rng(1))
    assert np.abs(d[0].bias.data).max() > 0 and np.abs(d[0].weight.data).max() <= 1 / math.sqrt(300)
    seen = []
    nm.deep_mlp(3, 4, "tanh", init=lambda w, rng: seen.append(w.shape) or nm.init.ones_(w), rng=np.random.default_rng(0))
    assert seen == [(4, 4)] * 3


def test_deep_mlp_is_seeded():
    a = nm.deep_mlp(3, 5, "tanh", init="xavier_uniform_", rng=np.random.default_rng(2))
    b = nm.deep_mlp(3, 5, "tanh", init="xavier_uniform_", rng=np.random.default_rng(2))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_deep_mlp_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nm.deep_mlp(2, 3, "swish")
    with pytest.raises(ValueError, match="unknown init 'he'"):
        nm.deep_mlp(2, 3, init="he")
    with pytest.raises(ValueError, match="init_kwargs only apply"):
        nm.deep_mlp(2, 3, init_kwargs={"std": 0.1})
    with pytest.raises(ValueError, match="depth and width must be positive"):
        nm.deep_mlp(0, 3)


# --- layer_statistics: hand computation -----------------------------------------------------------


# --- the one-unit RNN of Pascanu et al. ------------------------------------------------------------
def test_one_unit_rnn_gradcheck():
    rng = np.random.default_rng(8)
    w = rng.uniform(-2, 10, size=(3, 4))
    b = rng.uniform(-6, 1, size=(3, 4))
    report = nm.gradcheck(nm.one_unit_rnn, nm.one_unit_rnn_backward, w, b, steps=50)
    assert report.passed and report.max_rel_error < 1e-7


def test_one_unit_rnn_matches_scalar_loop():
    w, b = np.array([8.0, 1.0, -3.0]), np.array([-4.5, 0.2, 1.0])
    out, _ = nm.one_unit_rnn(w, b, x0=0.3, steps=20)
    for wi, bi, oi in zip(w, b, out):
        x = 0.3
        for _ in range(20):
            x = wi / (1.0 + math.exp(-x)) + bi
        assert oi == pytest.approx(x, rel=1e-14, abs=1e-14)


def test_one_unit_rnn_cliff_and_errors():
    # across b = -4.5 at w = 8, x_50 jumps between the two attractors: a cliff in any loss of it
    bs = np.linspace(-4.6, -4.4, 2001)
    x, _ = nm.one_unit_rnn(np.full_like(bs, 8.0), bs)
    assert np.max(np.abs(np.diff(x))) > 1.0
    with pytest.raises(ValueError, match=r"w.shape=\(2,\) and b.shape=\(3,\)"):
        nm.one_unit_rnn(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="steps"):
        nm.one_unit_rnn(np.ones(2), np.ones(2), steps=0)
