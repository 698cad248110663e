"""The identities the regularization chapter derives, checked on nnmath's optimizers and losses:
an L2 penalty is weight decay for plain SGD (not with momentum), Adam with L2 has the L2-regularized
minimizer as its fixed point while AdamW does not, the label-smoothing optimum logit gap is
log(1 + C(1 - eps)/eps) in PyTorch's convention, and dropout's logit variance formula."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def quadratic_grad(A: np.ndarray, c: np.ndarray):
    """Gradient of 0.5 x^T A x - c^T x (A positive definite)."""
    return lambda x: A @ x - c


def run(opt_cls, grad, x0, steps, shrink=0.0, **kw):
    p = nm.Parameter(x0)
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        opt.zero_grad()
        p.grad += grad(p.data)
        if shrink:
            p.data *= 1 - shrink            # decoupled decay, after the gradient, before the step
        opt.step()
    return p.data


@pytest.fixture
def problem(rng):
    M = rng.standard_normal((6, 6))
    A = M @ M.T / 6 + 0.1 * np.eye(6)
    return A, rng.standard_normal(6), rng.standard_normal(6)


def test_sgd_l2_equals_decoupled_decay(problem):
    A, c, x0 = problem
    lr, omega = 0.1, 0.05
    coupled = run(nm.SGD, quadratic_grad(A, c), x0, 200, lr=lr, weight_decay=omega)
    decoupled = run(nm.SGD, quadratic_grad(A, c), x0, 200, shrink=lr * omega, lr=lr)
    np.testing.assert_allclose(coupled, decoupled, rtol=1e-13, atol=1e-15)
    plain = run(nm.SGD, quadratic_grad(A, c), x0, 200, lr=lr)
    assert np.max(np.abs(plain - coupled)) > 1e-3         # the decay does something


def test_sgd_momentum_l2_differs_from_decoupled(problem):
    A, c, x0 = problem
    lr, omega, mu = 0.05, 0.05, 0.9
    coupled = run(nm.SGD, quadratic_grad(A, c), x0, 30, lr=lr, momentum=mu, weight_decay=omega)
    decoupled = run(nm.SGD, quadratic_grad(A, c), x0, 30, shrink=lr * omega, lr=lr, momentum=mu)
    assert np.max(np.abs(coupled - decoupled)) > 1e-4


def test_adam_l2_fixed_point_is_the_l2_minimizer_adamw_is_not(problem):
    A, c, x0 = problem
    omega = 0.5
    x_star = np.linalg.solve(A + omega * np.eye(6), c)     # minimizer of f + omega/2 |x|^2
    grad = quadratic_grad(A, c)
    for cls, should_match in ((nm.Adam, True), (nm.AdamW, False)):
        p = nm.Parameter(x0)
        opt = cls([p], lr=0.05, weight_decay=omega)
        sched = nm.LinearWarmupCosine(opt, warmup_steps=0, total_steps=3000)
        for _ in range(3000):
            opt.zero_grad()
            p.grad += grad(p.data)
            opt.step()
            sched.step()
        err = np.linalg.norm(p.data - x_star) / np.linalg.norm(x_star)
        if should_match:
            assert err < 1e-6, err
        else:
            assert err > 1e-2, err


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("C", [3, 10])
def test_label_smoothing_optimum_gap(eps, C):
    gap = np.log(1 + C * (1 - eps) / eps)
    z = np.zeros((1, C))
    z[0, 0] = gap                                          # correct class 0 ahead by the gap
    loss, cache = nm.cross_entropy(z, np.array([0]), label_smoothing=eps)
    np.testing.assert_allclose(nm.cross_entropy_backward(1.0, cache), 0.0, atol=1e-15)
    # any other gap has a larger loss (the loss is convex in the gap)
    for d in (-0.1, 0.1):
        z2 = z.copy()
        z2[0, 0] += d
        assert float(nm.cross_entropy(z2, np.array([0]), label_smoothing=eps)[0]) > float(loss)
    # the other convention (eps spread over the C-1 wrong classes) is eps' = eps C/(C-1)
    eps_prime = eps * C / (C - 1)
    if eps_prime <= 1:
        z[0, 0] = np.log((1 - eps) * (C - 1) / eps)
        _, cache = nm.cross_entropy(z, np.array([0]), label_smoothing=eps_prime)
        np.testing.assert_allclose(nm.cross_entropy_backward(1.0, cache), 0.0, atol=1e-15)


def test_label_smoothing_torch_optimum(th):
    # PyTorch's gradient vanishes at the same logits
    eps, C = 0.1, 10
    z = np.zeros((1, C))
    z[0, 0] = np.log(1 + C * (1 - eps) / eps)
    zt = th.T(z, grad=True)
    th.torch.nn.functional.cross_entropy(zt, th.torch.tensor([0]), label_smoothing=eps).backward()
    th.close(np.zeros((1, C)), zt.grad, atol=1e-15)


def test_dropout_logit_variance_formula(rng):
    # Var_m[(m/(1-p) * h) W]_k = p/(1-p) sum_j h_j^2 W_jk^2 for independent masks
    p, n = 0.4, 100_000
    h, W = rng.standard_normal(8), rng.standard_normal((8, 3))
    out, _ = nm.dropout(np.tile(h, (n, 1)), p, rng=rng)
    z = out @ W
    np.testing.assert_allclose(z.mean(axis=0), h @ W, atol=5 * np.sqrt(z.var(axis=0) / n).max())
    np.testing.assert_allclose(z.var(axis=0), p / (1 - p) * (h**2 @ W**2), rtol=0.03)
