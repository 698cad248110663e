"""Tests for nnmath.residual: y = x + s F(x), its backward dx = dy + J_F^T (s dy), and the path expansion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import nnmath as nm


def _mlp_branch(d: int, rng: np.random.Generator, hidden: int = 5) -> nm.Sequential:
    return nm.Sequential(nm.Linear(d, hidden, rng=rng), nm.Tanh(), nm.Linear(hidden, d, rng=rng))


# --- forward -----------------------------------------------------------------------------------
def test_forward_is_x_plus_scaled_branch():
    rng = np.random.default_rng(0)
    lin = nm.Linear(4, 4, rng=rng)
    x = rng.standard_normal((3, 4))
    block = nm.Residual(lin, scale=0.3)
    np.testing.assert_allclose(block(x), x + 0.3 * (x @ lin.weight.data + lin.bias.data), rtol=0, atol=1e-15)


def test_zero_scale_is_the_identity():
    rng = np.random.default_rng(1)
    block = nm.Residual(_mlp_branch(4, rng), scale=0.0)
    x, dout = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    np.testing.assert_array_equal(block(x), x)
    np.testing.assert_array_equal(block.backward(dout), dout)
    assert all(not p.grad.any() for p in block.parameters())


# --- backward: gradient checks with a random upstream gradient ----------------------------------
@pytest.mark.parametrize("scale", [1.0, 0.5, -2.0])
@pytest.mark.parametrize("branch", ["linear", "linear_tanh_linear", "layernorm_tanh_linear"])
def test_gradcheck_branches(branch, scale):
    rng = np.random.default_rng(2)
    d = 4
    fn = {"linear": lambda: nm.Linear(d, d, rng=rng),
          "linear_tanh_linear": lambda: _mlp_branch(d, rng),
          "layernorm_tanh_linear": lambda: nm.Sequential(nm.LayerNorm(d), nm.Tanh(), nm.Linear(d, d, rng=rng)),
          }[branch]()
    block = nm.Residual(fn, scale=scale)
    report = nm.gradcheck_module(block, rng.standard_normal((5, d)))
    assert report.passed and report.max_rel_error < 1e-7, str(report)
    # every parameter of the branch was checked, plus the input
    assert [c.name for c in report.checks] == ["x"] + [n for n, _ in block.named_parameters()]


def test_gradcheck_learnable_scale():
    rng = np.random.default_rng(3)
    block = nm.Residual(_mlp_branch(3, rng), scale=0.7, learnable_scale=True)
    report = nm.gradcheck_module(block, rng.standard_normal((4, 3)))
    assert report.passed and report.max_rel_error < 1e-7, str(report)
    assert "scale" in [c.name for c in report.checks]


def test_gradcheck_skipinit_zero_scale_still_learns_the_scale():
    """With alpha = 0 the branch parameters get no gradient, but alpha does (SkipInit)."""
    rng = np.random.default_rng(4)
    block = nm.Residual(_mlp_branch(3, rng), scale=0.0, learnable_scale=True)
    x = rng.standard_normal((4, 3))
    report = nm.gradcheck_module(block, x)
    assert report.passed and report.max_rel_error < 1e-7
    dout = rng.standard_normal((4, 3))
    block.zero_grad()
    block(x)
    block.backward(dout)
    assert float(block.scale.grad) == pytest.approx(float(np.sum(dout * block.fn(x))), rel=1e-13)
    assert all(not p.grad.any() for p in block.fn.parameters())


def test_gradcheck_stack_and_nested_blocks_with_leading_axes():
    rng = np.random.default_rng(5)
    d = 3
    inner = nm.Residual(_mlp_branch(d, rng), scale=0.5)
    model = nm.Sequential(nm.Residual(nm.Sequential(inner, nm.Tanh(), nm.Linear(d, d, rng=rng))),
                          nm.Residual(nm.Linear(d, d, rng=rng), scale=1 / np.sqrt(2)))
    report = nm.gradcheck_module(model, rng.standard_normal((2, 3, d)))   # (batch, positions, features)
    assert report.passed and report.max_rel_error < 1e-7, str(report)


def test_backward_is_identity_plus_branch_vjp_for_a_parameter_free_branch():
    """Hand formula: y = x + s tanh(x)  =>  dx = dy (1 + s (1 - tanh(x)^2))."""
    rng = np.random.default_rng(6)
    x, dout, s = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), 0.4
    block = nm.Residual(nm.Tanh(), scale=s)
    np.testing.assert_allclose(block(x), x + s * np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(block.backward(dout), dout * (1 + s * (1 - np.tanh(x) ** 2)), rtol=1e-14)


def test_parameter_gradients_accumulate():
    rng = np.random.default_rng(7)
    block = nm.Residual(_mlp_branch(3, rng), learnable_scale=True)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    block(x)
    block.backward(dout)
    once = [p.grad.copy() for p in block.parameters()]
    block.backward(dout)
    for p, g in zip(block.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-14)


# --- parameters and training -------------------------------------------------------------------
def test_parameters_are_discovered_and_trained():
    rng = np.random.default_rng(8)
    model = nm.Sequential(nm.Linear(2, 4, rng=rng), nm.Residual(_mlp_branch(4, rng), learnable_scale=True),
                          nm.Linear(4, 2, rng=rng))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias",
                     "layers.1.fn.layers.0.weight", "layers.1.fn.layers.0.bias",
                     "layers.1.fn.layers.2.weight", "layers.1.fn.layers.2.bias", "layers.1.scale",
                     "layers.2.weight", "layers.2.bias"]
    assert model.num_parameters() == (2 * 4 + 4) + (4 * 5 + 5 + 5 * 4 + 4 + 1) + (4 * 2 + 2)
    before = [p.data.copy() for p in model.parameters()]
    X, y = nm.data.spirals(n_per_class=20, rng=0)
    loss_fn = nm.CrossEntropyLoss()
    opt = nm.SGD(model.parameters(), lr=0.1)
    first = float(loss_fn(model(X), y))
    nm.fit(model, loss_fn, opt, X, y, epochs=20)
    assert all(not np.array_equal(b, p.data) for b, p in zip(before, model.parameters()))
    assert float(loss_fn(model(X), y)) < first


def test_repr_mentions_scale_and_branch():
    block = nm.Residual(nm.Tanh(), scale=0.5, learnable_scale=True)
    assert "scale=0.5, learnable" in repr(block) and "Tanh()" in repr(block)


# --- bad input ---------------------------------------------------------------------------------
def test_branch_changing_the_shape_is_a_clear_error():
    rng = np.random.default_rng(9)
    block = nm.Residual(nm.Linear(4, 3, rng=rng))
    with pytest.raises(ValueError, match=r"x\.shape=\(5, 4\).*F\(x\)\.shape=\(5, 3\)"):
        block(rng.standard_normal((5, 4)))


def test_dout_of_the_wrong_shape_is_a_clear_error():
    rng = np.random.default_rng(10)
    block = nm.Residual(nm.Linear(4, 4, rng=rng))
    block(rng.standard_normal((5, 4)))
    with pytest.raises(ValueError, match=r"\(5, 4\).*dout\.shape=\(4, 5\)"):
        block.backward(rng.standard_normal((4, 5)))


def test_backward_before_forward_and_non_module_branch():
    with pytest.raises(RuntimeError, match="before forward"):
        nm.Residual(nm.Tanh()).backward(np.ones((2, 2)))
    with pytest.raises(TypeError, match="Module"):
        nm.Residual(np.tanh)  # type: ignore[arg-type]


def test_extreme_inputs_stay_finite_without_warnings():
    x = np.array([[-1e300, 1e300, 0.0]])
    block = nm.Residual(nm.Tanh(), scale=2.0)
    out = block(x)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, x + 2.0 * np.tanh(x))
    np.testing.assert_array_equal(block.backward(np.ones_like(x)), [[1.0, 1.0, 3.0]])


# --- the path expansion (Veit et al., 2016) ----------------------------------------------------
def test_sum_over_all_paths_is_the_backward_pass():
    """prod_l (I + s_l J_l)^T dout = sum over the 2^L subsets of branches."""
    rng = np.random.default_rng(11)
    d, L = 3, 5
    blocks = [nm.Residual(_mlp_branch(d, rng), scale=s) for s in rng.uniform(0.2, 1.5, size=L)]
    model = nm.Sequential(*blocks)
    x, dout = rng.standard_normal((4, d)), rng.standard_normal((4, d))
    model(x)
    full = model.backward(dout)
    paths = list(itertools.product([False, True], repeat=L))
    total = sum(nm.path_backward(blocks, dout, p) for p in paths)
    np.testing.assert_allclose(total, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(nm.path_backward(blocks, dout, [False] * L), dout)  # the all-skip path


def test_path_backward_errors():
    rng = np.random.default_rng(12)
    blocks = [nm.Residual(nm.Tanh()), nm.Residual(nm.Tanh())]
    with pytest.raises(ValueError, match="3 entries for 2 blocks"):
        nm.path_backward(blocks, np.ones((1, 2)), [True, False, True])
    with pytest.raises(RuntimeError, match="before forward"):
        nm.path_backward(blocks, np.ones((1, 2)), [True, True])
    with pytest.raises(TypeError, match="Residual"):
        nm.path_backward([nm.Tanh()], np.ones((1, 2)), [True])  # type: ignore[list-item]
    nm.Sequential(*blocks)(rng.standard_normal((1, 2)))
    assert nm.path_backward(blocks, np.ones((1, 2)), [True, True]).shape == (1, 2)


# --- PyTorch parity ----------------------------------------------------------------------------
@pytest.mark.parametrize("learnable", [False, True])
def test_matches_pytorch_x_plus_scaled_branch(learnable):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    d, h, s = 4, 6, 0.6
    block = nm.Residual(nm.Sequential(nm.Linear(d, h, rng=rng), nm.Tanh(), nm.Linear(h, d, rng=rng)),
                        scale=s, learnable_scale=learnable)
    x, dout = rng.standard_normal((5, d)), rng.standard_normal((5, d))
    out = block(x)
    dx = block.backward(dout)

    l1, l2 = block.fn[0], block.fn[2]
    tl1, tl2 = torch.nn.Linear(d, h, dtype=torch.float64), torch.nn.Linear(h, d, dtype=torch.float64)
    with torch.no_grad():   # nnmath stores W as (in, out): PyTorch's weight is the transpose
        tl1.weight.copy_(torch.from_numpy(l1.weight.data.T)); tl1.bias.copy_(torch.from_numpy(l1.bias.data))
        tl2.weight.copy_(torch.from_numpy(l2.weight.data.T)); tl2.bias.copy_(torch.from_numpy(l2.bias.data))
    ts = torch.tensor(s, dtype=torch.float64, requires_grad=learnable)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tout = tx + ts * tl2(torch.tanh(tl1(tx)))     # what a PyTorch model writes in its forward
    tout.backward(torch.from_numpy(dout))

    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(l1.weight.grad, tl1.weight.grad.numpy().T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(l2.bias.grad, tl2.bias.grad.numpy(), rtol=1e-12, atol=1e-14)
    if learnable:
        assert float(block.scale.grad) == pytest.approx(float(ts.grad), rel=1e-12)
