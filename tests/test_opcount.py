"""Tests for nnmath.opcount: multiply-adds and evaluations counted on real runs, against shape
formulas; counted views behave like the arrays they view."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath import opcount as oc


@pytest.mark.parametrize("a_shape,b_shape,macs", [
    ((4, 3), (3, 5), 4 * 3 * 5), ((3,), (3, 5), 15), ((4, 3), (3,), 12), ((3,), (3,), 3),
    ((2, 4, 3), (3, 5), 2 * 60), ((2, 4, 3), (2, 3, 5), 2 * 60), ((6, 1, 4, 3), (2, 3, 5), 12 * 60),
])
def test_matmul_macs(rng, a_shape, b_shape, macs):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    with oc.count_ops() as ops:
        out = oc.counted(a) @ b
    assert ops.macs == macs and ops.matmuls == 1
    np.testing.assert_array_equal(np.asarray(out), a @ b)


def test_results_stay_counted_and_values_unchanged(rng):
    x = rng.standard_normal((5, 4))
    with oc.count_ops() as ops:
        y = np.exp(oc.counted(x)) * 2.0
        s = y.sum()
    assert isinstance(y, oc.CountingArray)
    assert ops.evals["exp"] == 20 and ops.evals["multiply"] == 20 and ops.calls["add.reduce"] == 1
    assert float(s) == pytest.approx(float((np.exp(x) * 2).sum()), rel=1e-15)


def test_nothing_counted_outside_the_block(rng):
    x = oc.counted(rng.standard_normal(3))
    with oc.count_ops() as ops:
        pass
    np.exp(x)
    assert ops.macs == 0 and not ops.evals


def test_two_layer_network_counts_match_the_shapes(rng):
    N, D, H, C = 8, 3, 5, 2
    net = nm.Sequential(nm.Linear(D, H, rng=rng), nm.Sigmoid(), nm.Linear(H, C, rng=rng))
    x, y = rng.standard_normal((N, D)), rng.standard_normal((N, C))
    loss = nm.MSELoss()
    with oc.count_module(net) as fwd:
        loss(net(oc.counted(x)), y)
    with oc.count_module(net) as bwd:
        net.backward(loss.backward())
    assert fwd.macs == N * D * H + N * H * C
    assert bwd.macs == 2 * fwd.macs                 # dW and dx for each layer
    assert fwd.evals["expit"] == N * H and bwd.evals["expit"] == 0
    for p in net.parameters():                      # restored to plain arrays
        assert type(p.data) is np.ndarray and type(p.grad) is np.ndarray


def test_counted_converts_integers():
    assert oc.counted([1, 2]).dtype == np.float64
