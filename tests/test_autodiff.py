"""Tests for nnmath.autodiff: every elementary operation against central differences (random
upstream), broadcasting, reuse of a node, a 10,000-deep chain, accumulation semantics, forward mode
against reverse mode, graph export/drawing, and the engine cross-checked against EVERY hand-derived
backward of nnmath's activations, linear map and losses."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest

import nnmath as nm

ad = nm.autodiff


def engine_check(f: Callable[..., nm.Tensor], *arrays: np.ndarray, **opts) -> nm.GradcheckReport:
    """Gradient-check the engine's backward for ``f`` (tensors in, tensor out) with nm.check_vjp."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    state: dict = {}

    def forward() -> np.ndarray:
        state["ins"] = [nm.Tensor(a, requires_grad=True) for a in arrays]
        state["out"] = f(*state["ins"])
        return state["out"].data

    def backward(dout: np.ndarray) -> list[np.ndarray]:
        state["out"].backward(dout)
        return [np.zeros_like(t.data) if t.grad is None else t.grad for t in state["ins"]]

    return nm.check_vjp(forward, backward, {f"x{i}": a for i, a in enumerate(arrays)}, **opts)



# --- elementary operations vs finite differences ----------------------------------------------
ELEMENTARY = {
    "add": (lambda a, b: a + b, [(3, 4), (3, 4)]),
    "sub": (lambda a, b: a - b, [(3, 4), (3, 4)]),
    "mul": (lambda a, b: a * b, [(3, 4), (3, 4)]),
    "div": (lambda a, b: a / (b.abs() + 1.0), [(3, 4), (3, 4)]),
    "neg": (lambda a: -a, [(2, 5)]),
    "pow3": (lambda a: a**3, [(2, 5)]),
    "pow_half": (lambda a: (a.abs() + 0.5) ** 0.5, [(2, 5)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matmul_batch1": (lambda a, b: a @ b, [(1, 4), (4, 2)]),
    "matmul_vec_mat": (lambda a, b: a @ b, [(4,), (4, 2)]),
    "matmul_mat_vec": (lambda a, b: a @ b, [(3, 4), (4,)]),
    "matmul_vec_vec": (lambda a, b: a @ b, [(4,), (4,)]),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul_batched_both": (lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    "exp": (lambda a: a.exp(), [(3, 4)]),
    "log": (lambda a: (a * a + 0.5).log(), [(3, 4)]),
    "tanh": (lambda a: a.tanh(), [(3, 4)]),
    "erf": (lambda a: a.erf(), [(3, 4)]),
    "sum_all": (lambda a: a.sum(), [(3, 4)]),
    "sum_axis0": (lambda a: a.sum(axis=0), [(3, 4)]),
    "sum_axis1_keep": (lambda a: a.sum(axis=1, keepdims=True), [(3, 4)]),
    "sum_axes": (lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)]),
    "mean_all": (lambda a: a.mean(), [(3, 4)]),
    "mean_axis": (lambda a: a.mean(axis=-1), [(3, 4)]),
    "mean_keep": (lambda a: a.mean(axis=0, keepdims=True), [(3, 4)]),
    "max_axis": (lambda a: a.max(axis=1), [(3, 4)]),
    "max_all_keep": (lambda a: a.max(keepdims=True), [(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3) * np.arange(12.0).reshape(4, 3), [(3, 4)]),
    "reshape_tuple": (lambda a: a.reshape((12,)), [(3, 4)]),
    "transpose": (lambda a: a.T @ np.ones((3, 2)), [(3, 4)]),
    "transpose_axes": (lambda a: a.transpose(2, 0, 1), [(2, 3, 4)]),
    "index_slice": (lambda a: a[1:, ::2], [(3, 4)]),
    "index_repeat": (lambda a: a[np.array([0, 2, 0]), np.array([1, 1, 1])], [(3, 4)]),
    "broadcast_row": (lambda a, b: a * b, [(3, 4), (4,)]),
    "broadcast_col": (lambda a, b: a - b, [(3, 4), (3, 1)]),
    "broadcast_scalar": (lambda a, b: a / (b * b + 1.0), [(3, 4), ()]),
    "broadcast_both": (lambda a, b: a + b, [(3, 1), (1, 4)]),
    "broadcast_lead": (lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    "constant_left": (lambda a: 2.0 - a / 3.0 + 1.0 * a, [(3,)]),
    "rtruediv": (lambda a: 1.0 / (a * a + 1.0), [(3,)]),
    "rmatmul": (lambda a: np.ones((2, 3)) @ a, [(3, 4)]),
}


@pytest.mark.parametrize("name", list(ELEMENTARY))
def test_elementary_ops_gradcheck(name, rng):
    f, shapes = ELEMENTARY[name]
    arrays = [rng.standard_normal(s) for s in shapes]
    report = engine_check(f, *arrays)
    assert report.passed and report.max_rel_error < 1e-7, str(report)


def test_kinked_ops_away_from_kinks(rng):
    """relu, abs and maximum are smooth away from 0 / ties: check them there."""
    x = rng.standard_normal((4, 5))
    x = np.where(np.abs(x) < 0.1, 0.5, x)
    y = x + np.where(rng.random((4, 5)) < 0.5, 0.7, -0.7)
    for f, args in [(lambda a: a.relu(), (x,)), (lambda a: a.abs(), (x,)),
                    (lambda a, b: a.maximum(b), (x, y)), (lambda a: a.maximum(0.0), (x,))]:
        report = engine_check(f, *args)
        assert report.passed and report.max_rel_error < 1e-7, str(report)


def test_kink_conventions_match_pytorch():
    """At the kink: relu'(0) = 0, |x|'(0) = 0, maximum splits ties 50/50 (torch.maximum), max shares
    the gradient among tied maxima (torch.amax)."""
    x = nm.Tensor([0.0, 0.0, 2.0], requires_grad=True)
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 2.0])
    a, b = nm.Tensor([1.0, 2.0], requires_grad=True), nm.Tensor([1.0, 3.0], requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0])
    m = nm.Tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    m.max(axis=1).sum().backward()
    np.testing.assert_array_equal(m.grad, [[0.0, 0.5, 0.5]])


# --- semantics of backward -------------------------------------------------------------------------
def test_node_used_twice_gets_both_contributions():
    a = nm.Tensor(3.0, requires_grad=True)
    b = a * a            # db/da = 2a, through two edges from the same node
    c = b + a            # a used a third time
    c.backward()
    assert a.grad == pytest.approx(2 * 3.0 + 1.0)
    x = nm.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    u = x.exp()
    y = (u * u + u).sum()    # an *intermediate* node reused: its gradient is complete before use
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * x.data) + np.exp(x.data), rtol=1e-14)
    np.testing.assert_allclose(u.grad, 2 * u.data + 1.0, rtol=1e-14)


def test_diamond_graph_visits_shared_node_once():
    """x -> a, b -> c: a shared ancestor must get a.grad-path + b.grad-path exactly once each."""
    x = nm.Tensor(0.3, requires_grad=True)
    h = x.tanh()
    a, b = h * 2.0, h * h
    (a + b).backward()
    t = np.tanh(0.3)
    assert x.grad == pytest.approx((2.0 + 2 * t) * (1 - t * t), rel=1e-14)


def test_chain_ten_thousand_deep_has_no_recursion_limit():
    limit = sys.getrecursionlimit()
    x = nm.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    assert sys.getrecursionlimit() == limit   # the engine did not raise it
    y.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-12)
    # jvp and export use the same iterative traversal
    assert nm.jvp(y, {x: 1.0}) == pytest.approx(1.0001**10_000, rel=1e-12)
    assert len(nm.export_graph(y)["nodes"]) == 2 * 10_000 + 1   # x, 10,000 constants, 10,000 muls


def test_grad_accumulates_across_calls_and_zero_grad():
    w = nm.Tensor([1.0, -2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    first = w.grad.copy()
    loss.backward()
    np.testing.assert_allclose(w.grad, 2 * first)   # += across calls, like PyTorch
    w.zero_grad()
    assert w.grad is None
    loss.backward()
    np.testing.assert_allclose(w.grad, first)


def test_backward_errors_and_requires_grad_propagation():
    c = nm.Tensor([1.0, 2.0])                # requires_grad defaults to False, as in PyTorch
    d = c * 3.0
    assert not d.requires_grad and d.parents == () and d.is_leaf
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        d.sum().backward()
    w = nm.Tensor([1.0, 2.0], requires_grad=True)
    out = w * c
    with pytest.raises(RuntimeError, match=r"only for one-element outputs, got shape \(2,\)"):
        out.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\) but the tensor has shape \(2,\)"):
        out.backward(np.ones(3))
    out.backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(w.grad, [1.0, 2.0])
    assert c.grad is None                    # constants get no gradient


def test_detach_cuts_the_graph():
    x = nm.Tensor(2.0, requires_grad=True)
    y = x * x.detach()       # d/dx of x * const = const
    y.backward()
    assert x.grad == pytest.approx(2.0)


def test_shape_errors_name_both_shapes():
    a, b = nm.Tensor(np.ones((3, 4))), nm.Tensor(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\(3, 4\) @ \(3, 2\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(\)"):
        a @ nm.Tensor(1.0)
    with pytest.raises(ValueError, match=r"operands could not be broadcast together with shapes \(3,4\) \(3,2\)"):
        a + b
    with pytest.raises(TypeError, match="scalar"):
        a ** nm.Tensor(2.0)
    with pytest.raises(ValueError, match=r"tangent has shape \(2,\) but its tensor has shape \(3, 4\)"):
        nm.jvp(a * 2.0, {a: np.ones(2)})


def test_integer_and_bool_inputs_become_float64():
    t = nm.Tensor(np.array([1, 2, 3]))
    assert t.data.dtype == np.float64
    assert nm.Tensor(True).data.dtype == np.float64
    assert (t / 2).data.tolist() == [0.5, 1.0, 1.5]     # true division, not integer division


def test_numpy_on_the_left_defers_to_tensor():
    x = nm.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.array([1.0, 1.0])
    assert isinstance(y, nm.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_item_repr_and_properties():
    t = nm.Tensor([[1.0, 2.0]], requires_grad=True, name="w")
    assert t.shape == (1, 2) and t.ndim == 2 and t.size == 2
    assert "name='w'" in repr(t) and "requires_grad=True" in repr(t)
    assert (t.sum()).item() == 3.0
    assert t.numpy() is t.data
    with pytest.raises(ValueError, match=r"one-element tensor, got shape \(1, 2\)"):
        t.item()


def test_extreme_inputs_are_finite_and_warning_free():
    """pytest turns NumPy warnings into errors: these must not warn."""
    x = nm.Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    s = ad.sigmoid(x)
    np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
    g = ad.gelu(x)
    np.testing.assert_array_equal(g.data, [0.0, 0.0, 1000.0])
    (s.sum() + g.sum() + ad.softmax(x.reshape(1, 3)).sum() + x.erf().sum()).backward()
    assert np.all(np.isfinite(x.grad))
    z = nm.Tensor([[1000.0, -1000.0]], requires_grad=True)
    ce = ad.cross_entropy(z, np.array([1]))
    assert ce.item() == 2000.0
    ce.backward()
    np.testing.assert_array_equal(z.grad, [[1.0, -1.0]])


# --- forward mode ------------------------------------------------------------------------------------
def test_jvp_is_the_transpose_of_vjp(rng):
    """<ybar, J u> == <J^T ybar, u> for random ybar, u: the JVP and VJP rules describe one Jacobian."""
    x = nm.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    W = nm.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = nm.Tensor(rng.standard_normal(4), requires_grad=True)
    h = ad.gelu(ad.linear(x, W, b))
    y = ad.softmax(h.tanh() * h - h.max(axis=1, keepdims=True), axis=1) / (h.abs() + 1.0) + h[::2].sum()
    ybar = rng.standard_normal(y.shape)
    u = {t: rng.standard_normal(t.shape) for t in (x, W, b)}
    y.backward(ybar)
    lhs = float(np.sum(ybar * nm.jvp(y, u)))
    rhs = sum(float(np.sum(t.grad * u[t])) for t in (x, W, b))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_forward_mode_full_gradient_equals_reverse_mode(rng):
    W = nm.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = rng.standard_normal((4, 3))
    loss = ad.mse_loss((x @ W).tanh(), np.zeros((4, 2)))
    loss.backward()
    fwd = np.zeros(W.shape)
    for idx in np.ndindex(W.shape):
        e = np.zeros(W.shape)
        e[idx] = 1.0
        fwd[idx] = nm.jvp(loss, {W: e})     # one forward-mode pass per parameter entry
    np.testing.assert_allclose(fwd, W.grad, rtol=1e-12, atol=1e-15)
    assert np.all(nm.jvp(loss, {}) == 0.0)  # no tangent: zero derivative


# --- graph export and drawing -------------------------------------------------------------------------
def test_export_graph_structure_and_edge_gradients():
    a = nm.Tensor(2.0, requires_grad=True, name="a")
    b = nm.Tensor(-3.0, requires_grad=True, name="b")
    L = a * b + a
    L.name = "L"
    L.backward()
    g = nm.export_graph(L)
    names = [n["name"] or n["op"] for n in g["nodes"]]
    assert names[-1] == "L" and set(names) == {"a", "b", "mul", "L"}
    by_id = {n["id"]: n for n in g["nodes"]}
    assert all(e["source"] < e["target"] for e in g["edges"])        # topological order
    a_edges = [e for e in g["edges"] if by_id[e["source"]]["name"] == "a"]
    assert len(a_edges) == 2                                         # a is used twice
    assert sorted(float(e["grad"]) for e in a_edges) == [-3.0, 1.0]  # b from the product, 1 from the sum
    assert sum(float(e["grad"]) for e in a_edges) == float(a.grad) == -2.0
    assert all(float(e["value"]) == float(by_id[e["source"]]["value"]) for e in g["edges"])


def test_export_before_backward_has_no_gradients():
    a = nm.Tensor(1.0, requires_grad=True)
    g = nm.export_graph(a.exp())
    assert all(n["grad"] is None for n in g["nodes"]) and all(e["grad"] is None for e in g["edges"])


def test_draw_graph_draws_every_node_and_edge():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = nm.Tensor(2.0, requires_grad=True, name="a")
    w = nm.Tensor(np.ones((2, 2)), requires_grad=True, name="W")
    L = ((a * 3.0).tanh() * a + (w @ w).sum())
    L.backward()
    ax = nm.draw_graph(L)
    g = nm.export_graph(L)
    texts = [t.get_text() for t in ax.texts]
    assert len(ax.patches) == len(g["nodes"]) + len(g["edges"])      # a box per node, an arrow per edge
    # per node: label + value, and its gradient; per edge: the value forwards, the gradient backwards
    n_grads = sum(n["grad"] is not None for n in g["nodes"]) + sum(e["grad"] is not None for e in g["edges"])
    assert len(texts) == len(g["nodes"]) + len(g["edges"]) + n_grads
    assert "W\n2×2" in texts                                 # arrays are shown by their shape
    assert "tanh(mul)\n1" in texts and "a × 3\n6" in texts   # unnamed nodes by their expression
    assert "const\n3" in texts
    assert f"∂ {float(a.grad):.3g}" in texts
    fig, ax2 = plt.subplots()
    assert nm.draw_graph(L, ax=ax2, rankdir="TB") is ax2
    plt.close("all")


# --- the engine against every hand-derived backward -----------------------------------------------
def _cross_check(engine_f, op, op_backward, arrays, rng, kwargs=None, engine_kwargs=None):
    kwargs = kwargs or {}
    out, cache = op(*arrays, **kwargs)
    dout = rng.standard_normal(np.shape(out))
    hand = op_backward(dout, cache)
    hand = [hand] if isinstance(hand, np.ndarray) else list(hand)
    tensors = [nm.Tensor(a, requires_grad=True) for a in arrays]
    y = engine_f(*tensors, **(engine_kwargs if engine_kwargs is not None else kwargs))
    np.testing.assert_allclose(y.data, out, rtol=1e-12, atol=1e-14)
    y.backward(dout)
    for t, h in zip(tensors, hand):
        np.testing.assert_allclose(t.grad, h, rtol=1e-10, atol=1e-13)


def _away_from_zero(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 0.05, 0.5, x)


ACTIVATIONS = [
    ("sigmoid", ad.sigmoid, nm.sigmoid, nm.sigmoid_backward, {}),
    ("tanh", ad.tanh, nm.tanh, nm.tanh_backward, {}),
    ("relu", ad.relu, nm.relu, nm.relu_backward, {}),
    ("leaky_relu", ad.leaky_relu, nm.leaky_relu, nm.leaky_relu_backward, {"negative_slope": 0.1}),
    ("gelu", ad.gelu, nm.gelu, nm.gelu_backward, {}),
    ("gelu_tanh", ad.gelu, nm.gelu, nm.gelu_backward, {"approximate": "tanh"}),
    ("softmax", ad.softmax, nm.softmax, nm.softmax_backward, {}),
    ("softmax_axis0", ad.softmax, nm.softmax, nm.softmax_backward, {"axis": 0}),
    ("log_softmax", ad.log_softmax, nm.log_softmax, nm.log_softmax_backward, {}),
    ("log_softmax_axis0", ad.log_softmax, nm.log_softmax, nm.log_softmax_backward, {"axis": 0}),
]


@pytest.mark.parametrize("shape", [(1, 4), (5, 3), (2, 3, 4)])
@pytest.mark.parametrize("name,engine_f,op,op_backward,kwargs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_engine_matches_hand_backward_activations(name, engine_f, op, op_backward, kwargs, shape, rng):
    x = _away_from_zero(3 * rng.standard_normal(shape))
    _cross_check(engine_f, op, op_backward, [x], rng, kwargs)


@pytest.mark.parametrize("batch", [1, 6])
def test_engine_matches_hand_backward_linear(batch, rng):
    x, W, b = rng.standard_normal((batch, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    _cross_check(ad.linear, nm.linear, nm.linear_backward, [x, W, b], rng)
    xs = rng.standard_normal((2, batch, 4))   # leading batch axes: W and b gradients sum over them
    _cross_check(ad.linear, nm.linear, nm.linear_backward, [xs, W, b], rng)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_engine_matches_hand_backward_losses(reduction, rng):
    yhat, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    _cross_check(lambda a, **k: ad.mse_loss(a, y, **k), lambda a, **k: nm.mse_loss(a, y, **k),
                 nm.mse_loss_backward, [yhat], rng, {"reduction": reduction})
    z, p = 4 * rng.standard_normal((5, 3)), rng.random((5, 3))
    _cross_check(lambda a, **k: ad.binary_cross_entropy_with_logits(a, p, **k),
                 lambda a, **k: nm.binary_cross_entropy_with_logits(a, p, **k),
                 nm.binary_cross_entropy_with_logits_backward, [z], rng, {"reduction": reduction})
    labels = rng.integers(0, 3, size=5)
    _cross_check(lambda a, **k: ad.cross_entropy(a, labels, **k), lambda a, **k: nm.cross_entropy(a, labels, **k),
                 nm.cross_entropy_backward, [z], rng, {"reduction": reduction})
    soft = rng.random((5, 3))
    soft /= soft.sum(axis=1, keepdims=True)
    _cross_check(lambda a, **k: ad.cross_entropy(a, soft, **k), lambda a, **k: nm.cross_entropy(a, soft, **k),
                 nm.cross_entropy_backward, [z], rng, {"reduction": reduction})
    for t in (labels, soft):   # label smoothing: the engine mixes in the uniform loss, nnmath smooths y
        _cross_check(lambda a, **k: ad.cross_entropy(a, t, **k), lambda a, **k: nm.cross_entropy(a, t, **k),
                     nm.cross_entropy_backward, [z], rng, {"reduction": reduction, "label_smoothing": 0.3})


def test_engine_matches_modules_on_a_two_layer_network(rng):
    """The chapter's network, h = sigmoid(x W1 + b1), yhat = h W2 + b2, with MSE and with
    cross-entropy: the engine's parameter gradients equal the hand-written modules'."""
    x = rng.standard_normal((6, 3))
    for loss_name, target in [("mse", rng.standard_normal((6, 2))), ("ce", rng.integers(0, 2, size=6))]:
        model = nm.Sequential(nm.Linear(3, 5, rng=rng), nm.Sigmoid(), nm.Linear(5, 2, rng=rng))
        loss_fn = nm.MSELoss() if loss_name == "mse" else nm.CrossEntropyLoss()
        loss = loss_fn(model(x), target)
        model.backward(loss_fn.backward())
        P = {n: nm.Tensor(p.data, requires_grad=True) for n, p in model.named_parameters()}
        out = ad.linear(ad.sigmoid(ad.linear(x, P["layers.0.weight"], P["layers.0.bias"])),
                        P["layers.2.weight"], P["layers.2.bias"])
        L = ad.mse_loss(out, target) if loss_name == "mse" else ad.cross_entropy(out, target)
        assert L.item() == pytest.approx(float(loss), rel=1e-13)
        L.backward()
        for n, p in model.named_parameters():
            np.testing.assert_allclose(P[n].grad, p.grad, rtol=1e-10, atol=1e-14)


def test_engine_composite_errors():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        ad.gelu(nm.Tensor(1.0), approximate="erf")
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'max'"):
        ad.mse_loss(nm.Tensor([1.0]), [0.0], reduction="max")


# --- Tensor.apply: a derived pair as one node ------------------------------------------------------
def test_apply_linear_equals_the_elementary_graph(rng):
    xs, Ws, bs = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    for with_bias in (False, True):
        x, W = nm.Tensor(xs, requires_grad=True), nm.Tensor(Ws, requires_grad=True)
        b = nm.Tensor(bs, requires_grad=True) if with_bias else None
        y = nm.Tensor.apply(nm.linear, nm.linear_backward, x, W, b)
        assert y.op == "linear" and y.parents == ((x, W, b) if with_bias else (x, W))
        y.backward(dout)
        x2, W2 = nm.Tensor(xs, requires_grad=True), nm.Tensor(Ws, requires_grad=True)
        b2 = nm.Tensor(bs, requires_grad=True) if with_bias else None
        ad.linear(x2, W2, b2).backward(dout)
        for a, e in [(x, x2), (W, W2)] + ([(b, b2)] if with_bias else []):
            np.testing.assert_allclose(a.grad, e.grad, rtol=1e-13, atol=1e-14)


def test_apply_checks_a_whole_models_hand_written_backward(rng):
    """conv -> batch norm -> relu -> max-pool -> flatten -> linear -> cross-entropy, once as modules
    with their hand-written backward passes, once as a graph of Tensor.apply nodes."""
    model = nm.Sequential(nm.Conv2d(1, 3, 3, padding=1, rng=rng), nm.BatchNorm2d(3), nm.ReLU(),
                          nm.MaxPool2d(2), nm.Flatten(), nm.Linear(12, 4, rng=rng))
    for p in model.parameters():
        p.data += 0.1 * rng.standard_normal(p.shape)
    x, labels = rng.standard_normal((5, 1, 4, 4)), rng.integers(0, 4, size=5)
    loss_fn = nm.CrossEntropyLoss()
    loss_fn(model(x), labels)
    model.zero_grad()
    dx = model.backward(loss_fn.backward())

    conv, bn, _, _, _, lin = model
    P = {id(p): nm.Tensor(p.data, requires_grad=True) for p in model.parameters()}
    t = xt = nm.Tensor(x, requires_grad=True)
    t = nm.Tensor.apply(nm.conv2d, nm.conv2d_backward, t, P[id(conv.weight)], P[id(conv.bias)], padding=1)
    t = nm.Tensor.apply(nm.batch_norm, nm.batch_norm_backward, t, P[id(bn.weight)], P[id(bn.bias)])
    t = nm.Tensor.apply(nm.relu, nm.relu_backward, t)
    t = nm.Tensor.apply(nm.max_pool2d, nm.max_pool2d_backward, t, 2).reshape(5, 12)
    t = nm.Tensor.apply(nm.linear, nm.linear_backward, t, P[id(lin.weight)], P[id(lin.bias)])
    nm.Tensor.apply(nm.cross_entropy, nm.cross_entropy_backward, t, labels).backward()
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-12, atol=1e-15)
    for p in model.parameters():
        np.testing.assert_allclose(P[id(p)].grad, p.grad, rtol=1e-12, atol=1e-15)


def test_jvp_through_an_apply_node_is_a_clear_error(rng):
    x = nm.Tensor(rng.standard_normal(4), requires_grad=True)
    y = nm.Tensor.apply(nm.tanh, nm.tanh_backward, x * 2.0)
    with pytest.raises(NotImplementedError, match="'tanh' was recorded by Tensor.apply .* no forward-mode rule"):
        nm.jvp(y.sum(), {x: np.ones(4)})
    c = nm.Tensor(rng.standard_normal(4), requires_grad=True)    # no tangent reaches the node: fine
    assert nm.jvp(y.sum() + c.sum(), {c: np.ones(4)}) == pytest.approx(4.0)


def test_apply_reports_a_missing_gradient(rng):
    z, t = nm.Tensor(rng.standard_normal((2, 3)), requires_grad=True), nm.Tensor(rng.random((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="no gradient for input 1 of mse_loss, which requires a gradient"):
        nm.Tensor.apply(nm.mse_loss, nm.mse_loss_backward, z, t).backward()
