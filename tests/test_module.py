"""Tests for nnmath.module: Parameter, parameter discovery, gradient accumulation until zero_grad,
train/eval, Sequential's forward and chain-rule backward, and the module -> optimizer loop
(SGD with momentum, Nesterov and weight decay, checked against steps computed by hand from the
chapter's closed-form gradients)."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm



def two_layer(rng: np.random.Generator, d_in: int = 3, hidden: int = 4, d_out: int = 2) -> nm.Sequential:
    return nm.Sequential(nm.Linear(d_in, hidden, rng=rng), nm.Sigmoid(), nm.Linear(hidden, d_out, rng=rng))


# --- Parameter ---------------------------------------------------------------------------------------
def test_parameter_copies_and_converts():
    src = np.array([[1, 2], [3, 4]])
    p = nm.Parameter(src)
    assert p.data.dtype == np.float64 and p.shape == (2, 2) and p.size == 4
    src[0, 0] = 100
    assert p.data[0, 0] == 1.0                    # a copy, not a view of the caller's array
    assert p.grad.shape == (2, 2) and not p.grad.any()
    p.grad += 1.0
    p.zero_grad()
    assert not p.grad.any()
    assert repr(p) == "Parameter(shape=(2, 2), dtype=float64)"


# --- discovery --------------------------------------------------------------------------------------------
def test_named_parameters_follow_attribute_order_and_lists(rng):
    model = two_layer(rng)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "Linear", "Sigmoid", "Linear"]
    assert len(list(model.children())) == 3


def test_shared_parameter_appears_once(rng):
    a = nm.Linear(2, 2, rng=rng)
    b = nm.Linear(2, 2, rng=rng)
    b.weight = a.weight                           # tied weights
    model = nm.Sequential(a, b)
    assert len(model.parameters()) == 3
    x = rng.standard_normal((3, 2))
    r = nm.gradcheck_module(model, x)             # the tied weight's gradient has both uses
    assert r.passed and r.max_rel_error < 1e-7, str(r)


def test_train_eval_reach_every_module(rng):
    model = two_layer(rng)
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


# --- Sequential ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 5])
def test_sequential_gradcheck(batch, rng):
    model = nm.Sequential(nm.Linear(3, 5, rng=rng), nm.Tanh(), nm.Linear(5, 4, rng=rng), nm.GELU(),
                          nm.Linear(4, 2, rng=rng), nm.LogSoftmax(dim=1))
    r = nm.gradcheck_module(model, rng.standard_normal((batch, 3)))
    assert r.passed and r.max_rel_error < 1e-7, str(r)
    assert len(r.checks) == 1 + 6


def test_sequential_backward_is_the_chain_rule(rng):
    """Sequential.backward equals calling each layer's backward in reverse by hand."""
    model = two_layer(rng)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model(x)
    dx = model.backward(dout)
    l0, act, l2 = model
    h = act(l0(x))
    l2(h)
    grads_before = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    manual = l0.backward(act.backward(l2.backward(dout)))
    np.testing.assert_allclose(dx, manual, rtol=1e-15)
    for p, g in zip(model.parameters(), grads_before):
        np.testing.assert_allclose(p.grad, g, rtol=1e-15)


def test_gradients_accumulate_until_zero_grad(rng):
    """Two backward passes over half-batches add up to one pass over the whole batch (no batch norm)."""
    model = two_layer(rng)
    loss_fn = nm.MSELoss(reduction="sum")
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())
    for idx in (slice(0, 3), slice(3, 6)):
        loss_fn(model(x[idx]), y[idx])
        model.backward(loss_fn.backward())
    for p, g in zip(model.parameters(), full):
        np.testing.assert_allclose(p.grad, g, rtol=1e-13)


def test_sequential_errors_and_container_protocol(rng):
    with pytest.raises(TypeError, match="Sequential takes Modules, got ndarray at position 1"):
        nm.Sequential(nm.ReLU(), np.zeros(2))
    model = two_layer(rng)
    assert len(model) == 3 and isinstance(model[1], nm.Sigmoid) and list(model)[2] is model[2]
    assert repr(model).splitlines()[0] == "Sequential("
    assert "(layers.1): Sigmoid()" in repr(model)


def test_base_module_is_abstract():
    class Empty(nm.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty.forward is not implemented"):
        Empty()(1.0)


# --- the training step: module gradients feed the optimizer ----------------------------------------------
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_steps_on_a_linear_layer_match_hand_computation(nesterov, rng):
    """Two steps of SGD(momentum, weight decay, Nesterov) on MSE of a linear layer, against the same
    steps computed from the closed forms dW = x^T (2/n)(xW + b - y), db = sum of rows."""
    layer = nm.Linear(3, 2, rng=rng)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    lr, mu, wd = 0.1, 0.9, 0.01
    opt = nm.SGD(layer.parameters(), lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
    loss_fn = nm.MSELoss()
    W, b = layer.weight.data.copy(), layer.bias.data.copy()
    bufs: list[np.ndarray | None] = [None, None]
    for _ in range(2):
        opt.zero_grad()
        loss_fn(layer(x), y)
        layer.backward(loss_fn.backward())
        opt.step()
        r = 2.0 * (x @ W + b - y) / y.size
        new = []
        for k, (theta, g) in enumerate([(W, x.T @ r), (b, r.sum(axis=0))]):
            g = g + wd * theta
            bufs[k] = g.copy() if bufs[k] is None else mu * bufs[k] + g
            new.append(theta - lr * (g + mu * bufs[k] if nesterov else bufs[k]))
        W, b = new
        np.testing.assert_allclose(layer.weight.data, W, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-13, atol=1e-15)


def test_a_training_loop_drives_the_loss_down(rng):
    """The chapter's loop on XOR: zero_grad, forward, loss, backward, step."""
    X, y = nm.data.xor()
    model = nm.Sequential(nm.Linear(2, 4, rng=np.random.default_rng(0)), nm.Sigmoid(),
                          nm.Linear(4, 1, rng=np.random.default_rng(1)))
    loss_fn, opt = nm.MSELoss(), nm.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(1500):
        opt.zero_grad()
        losses.append(float(loss_fn(model(X), y)))
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[-1] < 1e-3 < losses[0]
    np.testing.assert_array_equal(np.round(model(X)), y)


def test_sgd_rejects_bad_arguments():
    p = [nm.Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match="empty parameter list"):
        nm.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate must be non-negative, got -1"):
        nm.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires momentum > 0"):
        nm.SGD(p, lr=0.1, nesterov=True)


# --- the wrapper base and traversal ------------------------------------------------------------
def test_modules_visits_a_shared_module_once():
    shared = nm.Linear(3, 3, rng=np.random.default_rng(0))
    model = nm.Sequential(shared, nm.ReLU(), shared)
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "Linear", "ReLU"]
    layer = nm.TransformerEncoderLayer(4, 2, 8, rng=np.random.default_rng(0))
    mods = list(layer.modules())
    assert len(mods) == len({id(m) for m in mods})
    names = [n for n, _ in layer.named_parameters()]
    assert names[:2] == ["self_attn.in_proj_weight", "self_attn.in_proj_bias"] and len(names) == len(set(names))


class _Scale(nm.FunctionalModule):
    """A toy wrapper: y = x * w (one input, one parameter), written as a functional pair."""

    _op = staticmethod(lambda x, w, power=1: (x * w**power, (x, w, power)))
    _op_backward = staticmethod(lambda d, c: (d * c[1] ** c[2], np.sum(d * c[0] * c[2] * c[1] ** (c[2] - 1))))
    _params = ("weight",)
    _options = ("power",)

    def __init__(self) -> None:
        self.weight, self.power = nm.Parameter(np.array(1.5)), 2


def test_functional_module_routes_gradients_and_accumulates():
    m = _Scale()
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(m(x), x * 2.25)
    dx = m.backward(np.ones(2))
    m(x)
    m.backward(np.ones(2))
    np.testing.assert_array_equal(dx, [2.25, 2.25])
    assert float(m.weight.grad) == 2 * (3.0 * 2 * 1.5)          # accumulated over two backward passes
    with pytest.raises(RuntimeError, match="_Scale.backward called before forward"):
        _Scale().backward(np.ones(2))
