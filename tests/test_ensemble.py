"""Ensembles on a member axis: gradients, equality with the members built one by one, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_ensemble_linear_gradcheck(rng, shared, bias):
    x = rng.standard_normal((5, 3) if shared else (4, 5, 3))
    W, b = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 2)) if bias else None
    report = nm.gradcheck(nm.ensemble_linear, nm.ensemble_linear_backward, x, W, b)
    assert report.passed and report.max_rel_error < 1e-7, str(report)


def test_modules_gradcheck(rng):
    # no bias before the batch norm: its true gradient is 0 and a relative error meaningless
    layer = nm.Sequential(nm.EnsembleLinear(3, 4, 5, bias=False, rng=rng), nm.EnsembleBatchNorm1d(3, 5),
                          nm.Tanh(), nm.EnsembleLinear(3, 5, 2, rng=rng))
    layer[1].weight.data[...] = rng.standard_normal((3, 5))
    layer[1].bias.data[...] = rng.standard_normal((3, 5))
    report = nm.gradcheck_module(layer, rng.standard_normal((3, 6, 4)))
    assert report.passed and report.max_rel_error < 1e-7, str(report)


def _members(ens_lin: nm.EnsembleLinear, ens_bn: nm.EnsembleBatchNorm1d, e: int) -> nm.Sequential:
    lin = nm.Linear(ens_lin.in_features, ens_lin.out_features)
    lin.weight.data[...] = ens_lin.weight.data[e]
    lin.bias.data[...] = ens_lin.bias.data[e]
    bn = nm.BatchNorm1d(ens_bn.num_features)
    bn.weight.data[...] = ens_bn.weight.data[e]
    bn.bias.data[...] = ens_bn.bias.data[e]
    return nm.Sequential(lin, bn, nm.ReLU())


@pytest.mark.parametrize("training", [True, False])
def test_equals_members_one_by_one(rng, training):
    E, N, D_in, D = 3, 7, 4, 5
    lin, bn = nm.EnsembleLinear(E, D_in, D, rng=rng), nm.EnsembleBatchNorm1d(E, D)
    bn.weight.data[...] = rng.uniform(0.5, 2, (E, D))
    bn.bias.data[...] = rng.standard_normal((E, D))
    ens = nm.Sequential(lin, bn, nm.ReLU())
    refs = [_members(lin, bn, e) for e in range(E)]
    x, dout = rng.standard_normal((N, D_in)), rng.standard_normal((E, N, D))
    bn.running_mean[:] = rng.standard_normal((E, D))
    bn.running_var[:] = rng.uniform(0.5, 2.0, (E, D))
    for e, r in enumerate(refs):
        r[1].running_mean[:] = bn.running_mean[e]
        r[1].running_var[:] = bn.running_var[e]
    ens.train(training)
    for r in refs:
        r.train(training)
    ens.zero_grad()
    out = ens(x)
    dx = ens.backward(dout)
    dx_ref = np.zeros_like(x)
    for e, r in enumerate(refs):
        np.testing.assert_allclose(out[e], r(x), rtol=1e-13, atol=1e-13)
        dx_ref += r.backward(dout[e])
        np.testing.assert_allclose(lin.weight.grad[e], r[0].weight.grad, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(lin.bias.grad[e], r[0].bias.grad, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(bn.weight.grad[e], r[1].weight.grad, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-13)


def test_running_statistics_per_member(rng):
    E, D = 2, 3
    bn = nm.EnsembleBatchNorm1d(E, D)
    x = rng.standard_normal((E, 10, D)) * np.array([1.0, 3.0])[:, None, None]
    bn(x)
    ref = [nm.BatchNorm1d(D) for _ in range(E)]
    for e in range(E):
        ref[e](x[e])
        np.testing.assert_allclose(bn.running_var[e], ref[e].running_var, rtol=1e-13)
        np.testing.assert_allclose(bn.running_mean[e], ref[e].running_mean, atol=1e-15)


def test_bad_input(rng):
    with pytest.raises(ValueError, match="W.shape"):
        nm.ensemble_linear(rng.standard_normal((2, 5, 3)), rng.standard_normal((3, 3, 2)))
    with pytest.raises(ValueError, match="x.shape"):
        nm.ensemble_linear(rng.standard_normal((5, 4)), rng.standard_normal((3, 3, 2)))
    with pytest.raises(ValueError, match="b must have shape"):
        nm.ensemble_linear(rng.standard_normal((5, 3)), rng.standard_normal((3, 3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="num_features"):
        nm.EnsembleBatchNorm1d(2, 3)(rng.standard_normal((2, 5, 4)))
    with pytest.raises(ValueError, match="dout"):
        layer = nm.EnsembleLinear(2, 3, 4, rng=rng)
        layer(rng.standard_normal((5, 3)))
        layer.backward(np.zeros((2, 5, 3)))


def test_ensemble_member_equals_member(rng):
    E = 3
    net = nm.Sequential(nm.EnsembleLinear(E, 4, 5, rng=rng), nm.EnsembleBatchNorm1d(E, 5), nm.ReLU(),
                        nm.Residual(nm.Sequential(nm.EnsembleBatchNorm1d(E, 5), nm.Tanh(),
                                                  nm.EnsembleLinear(E, 5, 5, rng=rng))),
                        nm.EnsembleLinear(E, 5, 2, rng=rng))
    x = rng.standard_normal((8, 4))
    net(x + 1.0)                              # move the running statistics away from 0 and 1
    for training in (True, False):
        net.train(training)
        out = net(x)
        for e in range(E):
            member = nm.ensemble_member(net, e)
            assert member.training == training
            np.testing.assert_allclose(member(x), out[e], rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="learnable"):
        nm.ensemble_member(nm.Residual(nm.ReLU(), scale=0.0, learnable_scale=True), 0)
