"""Optimizers and schedules: hand-computed updates, PyTorch parity (float64), and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import nnmath as nm

# A fixed ill-conditioned quadratic L(p) = 0.5 p^T A p - c^T p, gradient A p - c: a gradient that
# depends on the parameters, so that an optimizer error compounds over steps.
A = np.diag([1.0, 10.0, 0.1]) + 0.05
C = np.array([1.0, -2.0, 0.5])
P0 = np.array([0.3, -0.7, 1.2])


def quad_grad(p: np.ndarray) -> np.ndarray:
    return A @ p - C


def run_nm(opt_cls, steps: int = 5, p0: np.ndarray = P0, **kw) -> list[np.ndarray]:
    p = nm.Parameter(p0)
    opt = opt_cls([p], **kw)
    traj = [p.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        p.grad += quad_grad(p.data)
        opt.step()
        traj.append(p.data.copy())
    return traj


# --- SGD -------------------------------------------------------------------------------------------
def test_sgd_plain_by_hand():
    traj = run_nm(nm.SGD, steps=3, lr=0.1)
    p = P0.copy()
    for k in range(3):
        p = p - 0.1 * quad_grad(p)
        np.testing.assert_allclose(traj[k + 1], p, rtol=0, atol=1e-15)


def test_sgd_momentum_nesterov_weight_decay_by_hand():
    lr, mu, wd = 0.05, 0.9, 0.01
    for nesterov in (False, True):
        traj = run_nm(nm.SGD, steps=4, lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
        p, buf = P0.copy(), None
        for k in range(4):
            g = quad_grad(p) + wd * p
            buf = g.copy() if buf is None else mu * buf + g      # first step: b_1 = g_1
            p = p - lr * (g + mu * buf if nesterov else buf)
            np.testing.assert_allclose(traj[k + 1], p, rtol=0, atol=1e-15)


def test_sgd_positional_api_unchanged():
    # (params, lr, momentum, weight_decay, nesterov) — other chapters rely on this order
    p = nm.Parameter(np.ones(2))
    opt = nm.SGD([p], 0.1, 0.9, 0.01, True)
    assert (opt.lr, opt.momentum, opt.weight_decay, opt.nesterov) == (0.1, 0.9, 0.01, True)


def test_sgd_momentum_constant_gradient_limit():
    # the buffer is a running sum: the step tends to lr * g / (1 - mu)
    p = nm.Parameter(np.zeros(1))
    opt = nm.SGD([p], lr=1.0, momentum=0.9)
    before = 0.0
    for _ in range(400):
        opt.zero_grad()
        p.grad += 1.0
        before = float(p.data[0])
        opt.step()
    assert abs((before - p.data[0]) - 10.0) < 1e-9


# --- Adam / AdamW ----------------------------------------------------------------------------------
def test_adam_first_step_is_lr_times_sign():
    # bias correction makes m_hat = g and v_hat = g^2 at t = 1, so the first step is lr*g/(|g|+eps)
    g0 = quad_grad(P0)
    traj = run_nm(nm.Adam, steps=1, lr=0.01)
    np.testing.assert_allclose(traj[1], P0 - 0.01 * g0 / (np.abs(g0) + 1e-8), rtol=0, atol=1e-15)
    # without the correction it would have been lr * 0.1 g / (sqrt(0.001) |g|) ~ 3.16 lr
    assert np.allclose(np.abs(traj[1] - P0), 0.01, rtol=1e-6)


def test_adam_three_steps_by_hand():
    lr, (b1, b2), eps, wd = 0.02, (0.8, 0.99), 1e-6, 0.1
    traj = run_nm(nm.Adam, steps=3, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    p, m, v = P0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 4):
        g = quad_grad(p) + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(traj[t], p, rtol=1e-14, atol=1e-15)


def test_adamw_decay_is_decoupled():
    # zero gradient: AdamW shrinks by exactly (1 - lr*wd) per step; Adam's L2 term is normalised
    # by sqrt(v_hat), so Adam moves every coordinate by ~lr regardless of its size
    lr, wd, steps = 0.01, 0.1, 5
    for cls in (nm.AdamW, nm.Adam):
        p = nm.Parameter(np.array([10.0, 1.0]))
        opt = cls([p], lr=lr, weight_decay=wd)
        for _ in range(steps):
            opt.zero_grad()
            opt.step()
        if cls is nm.AdamW:
            np.testing.assert_allclose(p.data, np.array([10.0, 1.0]) * (1 - lr * wd) ** steps, rtol=1e-14)
        else:
            np.testing.assert_allclose(np.array([10.0, 1.0]) - p.data, steps * lr, rtol=1e-2)


def test_defaults_match_pytorch():
    p = [nm.Parameter(np.ones(2))]
    assert nm.SGD(p).lr == 1e-3
    a = nm.Adam(p)
    assert (a.lr, a.betas, a.eps, a.weight_decay, a.amsgrad) == (1e-3, (0.9, 0.999), 1e-8, 0.0, False)
    w = nm.AdamW(p)
    assert (w.lr, w.betas, w.eps, w.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)


def test_amsgrad_denominator_never_decreases():
    p = nm.Parameter(np.array([1.0]))
    opt = nm.Adam([p], lr=0.1, amsgrad=True)
    seen = []
    for g in (5.0, 0.1, 0.1, 0.1):
        opt.zero_grad()
        p.grad += g
        opt.step()
        seen.append(opt.max_exp_avg_sq[0][0])
    assert seen == sorted(seen) and seen[-1] >= opt.exp_avg_sq[0][0]


@pytest.mark.parametrize("kw, msg", [
    (dict(lr=-1.0), "learning rate"),
    (dict(betas=(1.0, 0.999)), "betas"),
    (dict(eps=-1.0), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"),
])
def test_adam_bad_hyperparameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        nm.Adam([nm.Parameter(np.ones(1))], **kw)


def test_sgd_bad_hyperparameters():
    with pytest.raises(ValueError, match="Nesterov"):
        nm.SGD([nm.Parameter(np.ones(1))], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        nm.SGD([nm.Parameter(np.ones(1))], lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)
    with pytest.raises(ValueError, match="empty"):
        nm.SGD([], lr=0.1)


# --- schedules -------------------------------------------------------------------------------------
def test_linear_warmup_cosine_values():
    p = nm.Parameter(np.ones(1))
    opt = nm.SGD([p], lr=0.5)
    sched = nm.LinearWarmupCosine(opt, warmup_steps=4, total_steps=10)
    lrs = [opt.lr]
    for _ in range(12):
        opt.step()
        sched.step()
        lrs.append(opt.lr)
    # PyTorch's LinearLR ramp from start_factor 1/w = 0.25 to 1 over w = 4 steps
    np.testing.assert_allclose(lrs[:5], 0.5 * (0.25 + 0.75 * np.minimum(np.arange(5), 4) / 4), rtol=1e-15)
    np.testing.assert_allclose(lrs[7], 0.25, rtol=1e-15)          # half-way through the cosine
    assert lrs[10] == 0.0 and lrs[12] == 0.0                      # held at eta_min after T
    assert sched.get_last_lr() == [opt.lr]


def test_lambda_lr():
    opt = nm.SGD([nm.Parameter(np.ones(1))], lr=2.0)
    sched = nm.LambdaLR(opt, lambda t: 0.5**t)
    assert opt.lr == 2.0
    sched.step()
    sched.step()
    assert opt.lr == 0.5


def test_warmup_bad_arguments():
    opt = nm.SGD([nm.Parameter(np.ones(1))], lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        nm.LinearWarmupCosine(opt, warmup_steps=10, total_steps=10)
    with pytest.raises(ValueError, match="start_factor"):
        nm.LinearWarmupCosine(opt, warmup_steps=2, total_steps=10, start_factor=1.5)


# --- PyTorch parity --------------------------------------------------------------------------------
CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, weight_decay=0.2)),                 # L2 added to the gradient, no momentum
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, weight_decay=0.2)),                # coupled L2: divided by sqrt(v) too
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.2)),               # the same decay as Adam's above, decoupled
]


@pytest.mark.parametrize("name, kw", CONFIGS)
def test_torch_parity(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(8)]

    params = [nm.Parameter(a) for a in init]
    opt = getattr(nm, name)(params, **kw)
    tparams = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step_grads in grads:
        opt.zero_grad()
        topt.zero_grad()
        for p, tp, g in zip(params, tparams, step_grads):
            # the gradient depends on the current parameters so that differences would compound
            p.grad += g + 0.5 * p.data
            tp.grad = torch.tensor(g, dtype=torch.float64) + 0.5 * tp.detach()
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_torch_parity_warmup_cosine():
    torch = pytest.importorskip("torch")
    w, T, base, eta_min = 5, 30, 0.3, 0.01
    opt = nm.SGD([nm.Parameter(np.ones(1))], lr=base)
    sched = nm.LinearWarmupCosine(opt, warmup_steps=w, total_steps=T, start_factor=0.1, eta_min=eta_min)
    tp = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=base)
    with warnings.catch_warnings():
        # SequentialLR calls step(0) on the second schedule, which PyTorch itself flags as deprecated
        warnings.simplefilter("ignore")
        tsched = torch.optim.lr_scheduler.SequentialLR(topt, [
            torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.1, total_iters=w),
            torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=T - w, eta_min=eta_min)], milestones=[w])
        for _ in range(T):
            assert math.isclose(opt.lr, topt.param_groups[0]["lr"], rel_tol=1e-10, abs_tol=1e-14)
            opt.step()
            topt.step()
            sched.step()
            tsched.step()


def test_torch_parity_lambda_lr():
    torch = pytest.importorskip("torch")
    f = lambda t: 1.0 / (1.0 + 0.3 * t)  # noqa: E731
    opt = nm.SGD([nm.Parameter(np.ones(1))], lr=0.7)
    sched = nm.LambdaLR(opt, f)
    tp = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.7)
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, f)
    for _ in range(10):
        assert opt.lr == topt.param_groups[0]["lr"]
        opt.step(), topt.step(), sched.step(), tsched.step()
