"""Shared reference models and the parameter/vector helpers."""

from __future__ import annotations

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
