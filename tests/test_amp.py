"""GradScaler follows torch.amp.GradScaler: skip and back off on inf/NaN, grow after an interval."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def _run(grads_per_step, scaler_kwargs):
    """Plain SGD on one parameter, with the given (already scaled) gradient per step."""
    p = nm.Parameter(np.array([1.0, -2.0]))
    opt = nm.SGD([p], lr=0.1)
    scaler = nm.GradScaler(**scaler_kwargs)
    scales, taken, values = [], [], []
    for g in grads_per_step:
        opt.zero_grad()
        p.grad += scaler.scale(np.asarray(g, dtype=float))
        taken.append(scaler.step(opt))
        scaler.update()
        scales.append(scaler.get_scale())
        values.append(p.data.copy())
    return scales, taken, values


STEPS = [[0.5, 1.0], [np.inf, 0.0], [0.25, 0.5], [0.1, 0.2], [np.nan, 1.0], [1.0, 1.0],
         [2.0, 0.5], [0.3, 0.3], [0.1, 0.1], [0.2, 0.2]]


def test_defaults_are_pytorchs() -> None:
    s = nm.GradScaler()
    assert s.get_scale() == 65536.0 and s.growth_factor == 2.0 and s.backoff_factor == 0.5
    assert s.growth_interval == 2000


def test_sequence_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    kwargs = dict(init_scale=1024.0, growth_interval=3)
    scales, taken, values = _run(STEPS, kwargs)
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", **kwargs)
    for i, g in enumerate(STEPS):
        opt.zero_grad()
        p.grad = scaler.scale(torch.tensor(g, dtype=torch.float64))
        scaler.step(opt)
        scaler.update()
        assert scales[i] == scaler.get_scale(), f"step {i}"
        np.testing.assert_allclose(values[i], p.detach().numpy(), rtol=0, atol=1e-15)
    assert taken == [True, False, True, True, False, True, True, True, True, True]


def test_growth_after_interval_and_reset_on_overflow() -> None:
    scales, _, _ = _run([[1.0, 1.0]] * 4 + [[np.inf, 1.0]] + [[1.0, 1.0]] * 2,
                        dict(init_scale=8.0, growth_interval=2))
    assert scales == [8.0, 16.0, 16.0, 32.0, 16.0, 16.0, 32.0]


def test_skipped_step_leaves_parameters_unchanged() -> None:
    _, taken, values = _run([[np.inf, 1.0]], dict(init_scale=4.0))
    assert taken == [False] and np.array_equal(values[0], [1.0, -2.0])


def test_unscale_twice_raises_and_disabled_is_identity() -> None:
    p = nm.Parameter(np.ones(2))
    opt = nm.SGD([p], lr=0.1)
    s = nm.GradScaler()
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    off = nm.GradScaler(enabled=False)
    assert off.scale(3.0) == 3.0 and off.get_scale() == 1.0


@pytest.mark.parametrize("kw, msg", [(dict(init_scale=0.0), "init_scale"), (dict(growth_factor=1.0), "growth_factor"),
                                     (dict(backoff_factor=1.5), "backoff_factor"),
                                     (dict(growth_interval=0), "growth_interval")])
def test_bad_arguments(kw, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        nm.GradScaler(**kw)
