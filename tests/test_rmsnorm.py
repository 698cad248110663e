"""RMSNorm: forward and derived backward, against finite differences and torch.nn.RMSNorm."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnmath as nm


def test_forward_is_x_over_rms(rng) -> None:
    x = rng.standard_normal((4, 6))
    w = rng.standard_normal(6)
    out, _ = nm.rms_norm(x, w, eps=1e-6)
    ref = x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-6) * w
    np.testing.assert_allclose(out, ref, rtol=1e-14)


@pytest.mark.parametrize("with_weight", [True, False])
@pytest.mark.parametrize("shape,normalized", [((5, 4), 4), ((2, 3, 4), (3, 4))])
def test_gradcheck_random_upstream(rng, with_weight, shape, normalized) -> None:
    x = rng.standard_normal(shape)
    nshape = (normalized,) if isinstance(normalized, int) else normalized
    w = rng.standard_normal(nshape) if with_weight else None
    report = nm.gradcheck(lambda a, b=None: nm.rms_norm(a, b, eps=1e-5, normalized_shape=normalized),
                          nm.rms_norm_backward, x, w)
    assert report.max_rel_error < 1e-7


def test_gradient_is_orthogonal_to_x_without_weight(rng) -> None:
    """y = x r is invariant to scaling x, so its VJP is orthogonal to x (eps = 0)."""
    x = rng.standard_normal((3, 8))
    _, cache = nm.rms_norm(x, eps=0.0)
    dx, dw = nm.rms_norm_backward(rng.standard_normal(x.shape), cache)
    assert dw is None
    np.testing.assert_allclose(np.sum(dx * x, axis=-1), 0.0, atol=1e-13)


def test_module_accumulates_and_matches_torch(rng) -> None:
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 5, 8))
    m = nm.RMSNorm(8)
    m.weight.data[:] = rng.standard_normal(8)
    t = torch.nn.RMSNorm(8, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.data))
    xt = torch.from_numpy(x).requires_grad_()
    out_t = t(xt)
    dout = rng.standard_normal(x.shape)
    out_t.backward(torch.from_numpy(dout))
    out = m(x)
    dx = m.backward(dout)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=0, atol=1e-12)
    m(x)
    m.backward(dout)                                   # gradients accumulate
    np.testing.assert_allclose(m.weight.grad, 2 * t.weight.grad.numpy(), atol=1e-12)


def test_default_eps_is_machine_epsilon(rng) -> None:
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 4))
    x[0, 0] = 1e-9
    out, _ = nm.rms_norm(x)
    ref = torch.nn.functional.rms_norm(torch.from_numpy(x), (4,)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_extreme_inputs_are_finite_without_warnings(rng, scale) -> None:
    x = rng.standard_normal((3, 5)) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = nm.rms_norm(x, eps=1e-12)
        dx, _ = nm.rms_norm_backward(rng.standard_normal(x.shape), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    if scale >= 1e150:         # eps negligible next to mean(x^2): unit root mean square
        np.testing.assert_allclose(np.sqrt(np.mean(out**2, axis=-1)), 1.0, rtol=1e-12)


def test_zero_rows_give_zero(rng) -> None:
    out, cache = nm.rms_norm(np.zeros((2, 3)))
    assert not out.any()


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"does not end with normalized_shape=\(5,\)"):
        nm.rms_norm(np.ones((2, 4)), normalized_shape=5)
    with pytest.raises(ValueError, match="weight.shape"):
        nm.rms_norm(np.ones((2, 4)), np.ones(3), normalized_shape=4)
    with pytest.raises(ValueError, match="eps must be"):
        nm.rms_norm(np.ones((2, 4)), eps=-1.0)
    with pytest.raises(ValueError, match=r"normalized_shape=\(0,\) has no entries.*\(2, 0\)"):
        nm.rms_norm(np.ones((2, 0)))                # np.mean would warn and give NaN
    _, cache = nm.rms_norm(np.ones((2, 4)))
    with pytest.raises(ValueError, match="dout.shape"):
        nm.rms_norm_backward(np.ones((2, 3)), cache)
