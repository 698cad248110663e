"""Gradient clipping by norm and by value, with PyTorch parity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmath as nm


def params_with_grads(rng: np.random.Generator, scale: float = 1.0) -> list[nm.Parameter]:
    shapes = [(3, 4), (4,), (2, 3, 2)]
    ps = [nm.Parameter(rng.standard_normal(s)) for s in shapes]
    for p in ps:
        p.grad[...] = scale * rng.standard_normal(p.shape)
    return ps


def flat(ps: list[nm.Parameter]) -> np.ndarray:
    return np.concatenate([p.grad.ravel() for p in ps])


# --- clip_grad_norm_ ---------------------------------------------------------------------------
def test_global_norm_return_value_and_direction():
    ps = params_with_grads(np.random.default_rng(0), scale=3.0)
    g = flat(ps)
    total = nm.clip_grad_norm_(ps, max_norm=1.0)
    assert isinstance(total, float)
    assert total == pytest.approx(np.linalg.norm(g), rel=1e-15)      # the norm *before* clipping
    g2 = flat(ps)
    # one factor for all parameters: c / (total + 1e-6)
    np.testing.assert_allclose(g2, g * (1.0 / (total + 1e-6)), rtol=1e-15)
    assert np.linalg.norm(g2) < 1.0 and np.linalg.norm(g2) == pytest.approx(1.0, abs=1e-6)
    cos = g @ g2 / (np.linalg.norm(g) * np.linalg.norm(g2))
    assert cos == pytest.approx(1.0, abs=1e-15)


def test_global_not_per_parameter():
    # each parameter alone is under the threshold, together they are not
    a, b = nm.Parameter(np.zeros(1)), nm.Parameter(np.zeros(1))
    a.grad[:] = 0.8
    b.grad[:] = 0.6
    total = nm.clip_grad_norm_([a, b], max_norm=0.5)
    assert total == pytest.approx(1.0)
    np.testing.assert_allclose([a.grad[0], b.grad[0]], np.array([0.8, 0.6]) * 0.5 / (1 + 1e-6), rtol=1e-15)


def test_no_op_under_threshold():
    ps = params_with_grads(np.random.default_rng(1), scale=0.01)
    before = [p.grad.copy() for p in ps]
    total = nm.clip_grad_norm_(ps, max_norm=10.0)
    assert total < 10.0
    for p, g in zip(ps, before):
        assert np.array_equal(p.grad, g)


def test_single_parameter_generator_and_empty():
    p = nm.Parameter(np.zeros(2))
    p.grad[:] = [3.0, 4.0]
    assert nm.clip_grad_norm_(p, 1.0) == 5.0
    assert nm.clip_grad_norm_((q for q in [p]), 100.0) == pytest.approx(1.0, abs=1e-6)
    assert nm.clip_grad_norm_([], 1.0) == 0.0


def test_zero_gradient_is_finite():
    p = nm.Parameter(np.zeros(3))
    assert nm.clip_grad_norm_([p], 1.0) == 0.0
    assert np.array_equal(p.grad, np.zeros(3))


def test_nonfinite_norm():
    p = nm.Parameter(np.zeros(2))
    p.grad[:] = [np.inf, 1.0]
    with pytest.raises(RuntimeError, match="non-finite"):
        nm.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    # without the flag: scaled by c / inf = 0, as PyTorch does (inf * 0 = nan, no warning)
    nm.clip_grad_norm_([p], 1.0)
    assert np.isnan(p.grad[0]) and p.grad[1] == 0.0


def test_huge_but_finite_gradients_give_finite_norm_without_warning():
    # PyTorch overflows to inf here and zeroes the gradient; nnmath rescales (documented difference)
    p = nm.Parameter(np.zeros(2))
    p.grad[:] = [1e200, 1e200]
    total = nm.clip_grad_norm_([p], 1.0)
    assert math.isfinite(total)
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_torch_parity(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ps = params_with_grads(np.random.default_rng(2), scale=2.0)
    tps = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in ps]
    for p, tp in zip(ps, tps):
        tp.grad = torch.tensor(p.grad)
    total = nm.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-14)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-14, atol=0)


def test_get_total_norm_torch_parity():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in [(5,), (2, 3)]]
    for q in (2.0, 1.0, float("inf")):
        expected = float(torch.nn.utils.get_total_norm([torch.tensor(a) for a in arrays], norm_type=q))
        assert nm.get_total_norm(arrays, q) == pytest.approx(expected, rel=1e-14)
    assert nm.get_total_norm(arrays[0]) == pytest.approx(np.linalg.norm(arrays[0]))
    with pytest.raises(ValueError, match="norm_type"):
        nm.get_total_norm(arrays, 0.0)


# --- clip_grad_value_ --------------------------------------------------------------------------
def test_clip_grad_value_and_torch_parity():
    torch = pytest.importorskip("torch")
    ps = params_with_grads(np.random.default_rng(4), scale=2.0)
    tps = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in ps]
    for p, tp in zip(ps, tps):
        tp.grad = torch.tensor(p.grad)
    assert nm.clip_grad_value_(ps, 0.7) is None
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp in zip(ps, tps):
        assert np.abs(p.grad).max() <= 0.7
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    with pytest.raises(ValueError, match="clip_value"):
        nm.clip_grad_value_(ps, -1.0)


def test_value_clipping_changes_direction_norm_clipping_does_not():
    g = np.array([10.0, 1.0])
    a, b = nm.Parameter(np.zeros(2)), nm.Parameter(np.zeros(2))
    a.grad[:] = g
    b.grad[:] = g
    nm.clip_grad_norm_([a], 1.0)
    nm.clip_grad_value_([b], 1.0)
    angle = lambda u, v: math.degrees(math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))  # noqa: E731
    assert angle(g, a.grad) < 1e-6
    assert angle(g, b.grad) == pytest.approx(45.0 - math.degrees(math.atan(0.1)), rel=1e-12)


# --- gradient accumulation -----------------------------------------------------------------------
