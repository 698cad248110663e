"""Check a derived backward pass against central finite differences.

The check is a *vector-Jacobian product* test, the contract every ``backward`` in nnmath fulfils:
for a random upstream gradient :math:`\\bar y` (never ``ones``: with a ``.sum()`` loss the true
input gradient of softmax and of batch norm is zero, so a backward returning zeros would pass),

.. math::

    \\begin{aligned}
    &\\frac{\\partial}{\\partial x_i}\\bigl(\\bar y \\cdot f(x)\\bigr)\\\\
    &\\quad \\approx \\frac{\\bar y \\cdot f(x + h e_i) - \\bar y \\cdot f(x - h e_i)}{2h},
    \\end{aligned}

with :math:`h = 10^{-6}` in float64 (error :math:`O(h^2)` from truncation plus
:math:`O(\\epsilon_{mach}/h)` from rounding). Pass/fail follows ``torch.autograd.gradcheck``:
every entry must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|`` with
``atol=1e-5, rtol=1e-3``. The report also gives a norm-wise relative error
``max|a - n| / max(|a|_max + |n|_max, 1e-12)``, which is what the book's tables quote (an
element-wise ratio blows up on entries that are both nearly zero).

``fast=True`` replaces the loop over entries by one random direction ``u`` per input and
compares the scalar :math:`\\bar y^\\top J u` both ways, like PyTorch's fast mode; use it for large
tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .module import Module

__all__ = ["GradcheckError", "GradcheckReport", "InputCheck", "check_vjp", "gradcheck", "gradcheck_module"]


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the finite-difference one."""


@dataclass
class InputCheck:
    """The comparison for one input (or parameter)."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool
    analytic: np.ndarray = field(repr=False)
    numeric: np.ndarray = field(repr=False)


@dataclass
class GradcheckReport:
    """Per-input errors of one gradient check; ``str(report)`` is a readable table."""

    checks: list[InputCheck]
    eps: float
    atol: float
    rtol: float
    fast: bool

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks), default=0.0)

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.checks), default=0.0)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per input: name, shape, max abs error, max relative error, passed."""
        return [dict(name=c.name, shape=c.shape, max_abs_error=c.max_abs_error,
                     max_rel_error=c.max_rel_error, passed=c.passed) for c in self.checks]

    def __str__(self) -> str:
        mode = "fast (random projection)" if self.fast else "full"
        head = f"gradcheck [{mode}, eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}]"
        lines = [head, f"{'input':<16}{'shape':<18}{'max abs err':>13}{'max rel err':>13}  ok"]
        for c in self.checks:
            lines.append(f"{c.name:<16}{str(c.shape):<18}{c.max_abs_error:>13.2e}{c.max_rel_error:>13.2e}  "
                         f"{'yes' if c.passed else 'NO'}")
        return "\n".join(lines)


def _check_finite(name: str, a: np.ndarray) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"gradcheck: {name} contains {a[idx]!r} at index {idx}; "
                         "finite differences need finite inputs and outputs")


def check_vjp(forward: Callable[[], np.ndarray],
              backward: Callable[[np.ndarray], Sequence[np.ndarray]],
              inputs: Mapping[str, np.ndarray], *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, fast: bool = False,
              raise_on_failure: bool = True) -> GradcheckReport:
    """Compare ``backward`` with central differences of ``forward`` for a random upstream gradient.

    Parameters
    ----------
    forward : callable
        ``forward()`` computes the output from the arrays in ``inputs``, reading them *in place*
        (the checker perturbs them entry by entry and restores them).
    backward : callable
        ``backward(dout)`` returns the analytic gradients, one per entry of ``inputs``, in order.
        It is called once, right after a ``forward()``.
    inputs : mapping of str to ndarray
        The arrays to differentiate with respect to (float64 recommended), by name.
    eps, atol, rtol : float
        Finite-difference step and tolerances (``torch.autograd.gradcheck``'s defaults).
    seed : int
        Seeds the random upstream gradient (and the directions in fast mode).
    fast : bool
        Compare one random projection per input instead of every entry.
    raise_on_failure : bool
        Raise :class:`GradcheckError` with the report when a check fails.

    Returns
    -------
    GradcheckReport
    """
    for name, a in inputs.items():
        if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"gradcheck: input {name!r} must be a floating-point ndarray")
        _check_finite(f"input {name!r}", a)
    # A stream of its own: with default_rng(seed) a test that draws its inputs from the same seed
    # would get dout == x, which for batch norm lies in the backward's null space (true gradient
    # ~0, so the check would prove nothing).
    rng = np.random.default_rng([seed, 0x67726164])
    out = np.array(forward(), dtype=np.float64, copy=True)
    _check_finite("the output", out)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout)
    if isinstance(grads, (np.ndarray, np.generic)):
        grads = (grads,)
    grads = list(grads)
    if len(grads) != len(inputs):
        raise ValueError(f"gradcheck: backward returned {len(grads)} gradients for {len(inputs)} inputs")

    def objective() -> float:
        return float(np.sum(dout * forward()))

    checks = []
    for (name, x), g in zip(inputs.items(), grads):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(f"gradcheck: gradient for {name!r} has shape {g.shape}, input has {x.shape}")
        _check_finite(f"the analytic gradient of {name!r}", g)
        if fast:
            u = rng.standard_normal(x.shape)
            u /= np.linalg.norm(u) or 1.0
            saved = x.copy()
            x += eps * u
            plus = objective()
            x[...] = saved - eps * u
            minus = objective()
            x[...] = saved
            analytic = np.array([np.sum(g * u)])
            numeric = np.array([(plus - minus) / (2 * eps)])
        else:
            numeric = np.zeros_like(g)
            for idx in np.ndindex(x.shape):
                old = x[idx]
                x[idx] = old + eps
                plus = objective()
                x[idx] = old - eps
                minus = objective()
                x[idx] = old
                numeric[idx] = (plus - minus) / (2 * eps)
            analytic = g
        diff = np.abs(analytic - numeric)
        max_abs = float(diff.max(initial=0.0))
        scale = float(np.abs(analytic).max(initial=0.0) + np.abs(numeric).max(initial=0.0))
        max_rel = max_abs / max(scale, 1e-12)
        passed = bool(np.all(diff <= atol + rtol * np.abs(numeric)))
        checks.append(InputCheck(name, tuple(x.shape), max_abs, max_rel, passed, analytic, numeric))
    report = GradcheckReport(checks, eps, atol, rtol, fast)
    if raise_on_failure and not report.passed:
        raise GradcheckError(str(report))
    return report


def gradcheck(op: Callable[..., tuple[np.ndarray, Any]], op_backward: Callable[..., Any],
              *args: np.ndarray | None, names: Sequence[str] | None = None, **kwargs: Any) -> GradcheckReport:
    """Gradient-check a functional pair ``out, cache = op(*args, **kwargs)`` /
    ``grads = op_backward(dout, cache)``.

    The positional ``args`` are the differentiable inputs (copied to float64); keyword arguments
    are passed through unchanged (masks, strides, ``eps`` …). Options of :func:`check_vjp`
    (``eps`` is the op's own keyword, so the step is ``fd_eps``; also ``atol``, ``rtol``,
    ``seed``, ``fast``, ``raise_on_failure``) are taken out of ``kwargs`` first.

    The backward must follow the package's convention — one gradient per differentiable
    positional input of the forward, in order, ``None`` for an optional input that was omitted —
    and this is checked, not patched up: an argument given as ``None`` (``nm.gradcheck(nm.linear,
    nm.linear_backward, x, W, None)``) is passed to ``op`` as ``None`` and must get a ``None``
    gradient, and every gradient past the given arguments (the optional inputs left at their
    defaults) must be ``None``.

    Examples
    --------
    >>> import numpy as np, nnmath as nm
    >>> x = np.random.default_rng(0).standard_normal((3, 4))
    >>> nm.gradcheck(nm.tanh, nm.tanh_backward, x).passed
    True
    """
    opts = {k: kwargs.pop(k) for k in ("atol", "rtol", "seed", "fast", "raise_on_failure") if k in kwargs}
    if "fd_eps" in kwargs:
        opts["eps"] = kwargs.pop("fd_eps")
    arrays = [None if a is None else np.array(a, dtype=np.float64, copy=True) for a in args]
    names = list(names) if names is not None else [f"arg{i}" for i in range(len(arrays))]
    if len(names) != len(arrays):
        raise ValueError(f"gradcheck: {len(names)} names for {len(arrays)} inputs")
    given = [i for i, a in enumerate(arrays) if a is not None]
    state: dict[str, Any] = {}

    def forward() -> np.ndarray:
        out, state["cache"] = op(*arrays, **kwargs)
        return out

    def backward(dout: np.ndarray) -> Sequence[np.ndarray]:
        grads = op_backward(dout, state["cache"])
        grads = [grads] if isinstance(grads, (np.ndarray, np.generic)) else list(grads)
        if len(grads) < len(arrays):
            raise ValueError(f"gradcheck: backward returned {len(grads)} gradients for {len(arrays)} inputs")
        for i, g in enumerate(grads):
            if (i >= len(arrays) or arrays[i] is None) and g is not None:
                raise ValueError(f"gradcheck: backward returned a gradient at position {i} for an input "
                                 "that was not given (it must be None)")
        return [grads[i] for i in given]

    return check_vjp(forward, backward, {names[i]: arrays[i] for i in given}, **opts)


def gradcheck_module(module: Module, *inputs: np.ndarray, names: Sequence[str] | None = None,
                     **opts: Any) -> GradcheckReport:
    """Gradient-check a :class:`~nnmath.module.Module`: its input gradient(s) and every parameter.

    The module's parameters are perturbed in place and restored; their ``grad`` is zeroed first
    (and holds the analytic gradient afterwards).
    """
    arrays = [np.array(a, dtype=np.float64, copy=True) for a in inputs]
    names = list(names) if names is not None else (["x"] if len(arrays) == 1 else [f"x{i}" for i in range(len(arrays))])
    params = list(module.named_parameters())

    def forward() -> np.ndarray:
        return module.forward(*arrays)

    def backward(dout: np.ndarray) -> Sequence[np.ndarray]:
        module.zero_grad()
        dx = module.backward(dout)
        dxs = [dx] if isinstance(dx, (np.ndarray, np.generic)) else list(dx)
        return dxs + [p.grad.copy() for _, p in params]

    all_inputs = dict(zip(names, arrays))
    all_inputs.update({n: p.data for n, p in params})
    return check_vjp(forward, backward, all_inputs, **opts)
