r"""Optimizers and learning-rate schedules: they read ``Parameter.grad`` and update ``Parameter.data``.

Modules never own an optimizer; as in PyTorch, an optimizer is handed the parameters
(``opt = SGD(model.parameters(), lr=0.1)``) and the training loop calls
``opt.zero_grad(); loss = ...; model.backward(...); opt.step()``. A scheduler changes
``opt.lr`` between steps: ``sched = LinearWarmupCosine(opt, warmup_steps=50, total_steps=500)``,
then ``opt.step(); sched.step()`` every iteration.

The update rules, with :math:`g_t` the gradient at step :math:`t` (derived in the chapter
"Training in practice"):

* :class:`SGD` — :math:`\theta \leftarrow \theta - \eta\,g`, optionally with (Nesterov) momentum
  (Polyak, 1964; Sutskever et al., 2013);
* :class:`Adam` — bias-corrected first and second moments of :math:`g` (Kingma & Ba, 2015);
* :class:`AdamW` — Adam with *decoupled* weight decay (Loshchilov & Hutter, 2019).

Every optimizer follows ``torch.optim`` exactly — the same defaults, the same order of
operations, so the same inputs give the same numbers (the tests compare them in float64). Two
differences, both because nnmath has no parameter groups and no ``None`` gradients:

* one learning rate per optimizer, the attribute ``lr`` (PyTorch: ``param_groups[i]["lr"]``);
* every parameter is updated at every ``step``. PyTorch skips a parameter whose ``.grad`` is
  ``None``; in nnmath ``grad`` is always an array (zero after ``zero_grad``), which behaves like
  PyTorch's ``zero_grad(set_to_none=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from .module import Parameter

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "LambdaLR", "LinearWarmupCosine"]


class Optimizer:
    """Base class: holds the parameter list and a learning rate; ``zero_grad`` clears grads."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"learning rate must be non-negative, got {lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent with PyTorch's semantics (``torch.optim.SGD``).

    With :math:`g = \nabla L + \omega\theta` (weight decay :math:`\omega`, an L2 penalty
    :math:`\tfrac\omega2\|\theta\|^2` added to the loss), momentum :math:`\mu` and dampening
    :math:`\tau` (default 0):

    .. math::

        \begin{aligned}
        b_t &= \mu b_{t-1} + (1-\tau)\,g_t \;(b_1 = g_1),\\
        \theta_t &= \theta_{t-1} - \eta\,(g_t + \mu b_t\\
        &\qquad \text{ if Nesterov else } b_t).
        \end{aligned}

    Without momentum this is plain :math:`\theta \leftarrow \theta - \eta g`. The momentum buffer
    :math:`b` is a running *sum* of gradients (not an average): with constant gradient the step
    approaches :math:`\eta g/(1-\mu)`, ten times the plain step for :math:`\mu = 0.9`. The
    Nesterov form is Sutskever et al.'s (2013) rewriting of the look-ahead gradient in terms of
    the current parameters, as in PyTorch.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Learning rate :math:`\eta` (PyTorch's default 1e-3).
    momentum : float
        :math:`\mu`, default 0.
    weight_decay : float
        :math:`\omega`, default 0 (coupled: added to the gradient before momentum).
    nesterov : bool
        Use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``, as in PyTorch).
    dampening : float
        :math:`\tau`, default 0; keyword-only here (PyTorch takes it positionally after
        ``momentum``).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, dampening: float = 0.0) -> None:
        super().__init__(params, lr)
        if momentum < 0:
            raise ValueError(f"momentum must be non-negative, got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and zero dampening")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self.dampening = dampening
        self._buf: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                buf = self._buf[i]
                # the first step stores g itself (no dampening), exactly like
                # torch.optim.SGD
                buf = (g.copy() if buf is None
                       else self.momentum * buf + (1.0 - self.dampening) * g)
                self._buf[i] = buf
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015) with PyTorch's semantics and defaults (``torch.optim.Adam``).

    With :math:`g_t = \nabla L(\theta_{t-1}) + \omega\theta_{t-1}` (``weight_decay`` is an L2
    penalty added to the gradient, as in ``torch.optim.Adam``; see :class:`AdamW` for decoupled
    decay):

    .. math::

        \begin{aligned}
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\,g_t,\\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2)\,g_t \odot g_t, \\
        \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\\
        &\qquad \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon},
        \end{aligned}

    with :math:`m_0 = v_0 = 0`. The factors :math:`1/(1-\beta^t)` undo the bias towards the zero
    initialisation: if :math:`g` has a stationary distribution,
    :math:`\mathbb E[m_t] = (1-\beta_1^t)\,\mathbb E[g]`. Note where :math:`\epsilon` sits — added
    to the bias-corrected :math:`\sqrt{\hat v_t}`, as in the paper and in PyTorch.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        :math:`\eta`, default 1e-3.
    betas : tuple of float
        :math:`(\beta_1, \beta_2)`, default (0.9, 0.999).
    eps : float
        Default 1e-8.
    weight_decay : float
        L2 coefficient :math:`\omega`, default 0.
    amsgrad : bool
        Use :math:`\max_{s \le t} v_s` in the denominator (Reddi et al., 2018), as PyTorch does.

    Attributes
    ----------
    step_count : int
        :math:`t`, the number of steps taken (PyTorch keeps it per parameter in ``state``).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if eps < 0:
            raise ValueError(f"eps must be non-negative, got {eps}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay}")
        self.betas, self.eps, self.weight_decay, self.amsgrad = (b1, b2), eps, weight_decay, amsgrad
        self.step_count = 0
        # first and second moments, one per parameter, allocated like PyTorch's lazy state
        self.exp_avg = [np.zeros_like(p.data) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p.data) for p in self.params]
        self.max_exp_avg_sq = [np.zeros_like(p.data) for p in self.params] if amsgrad else []

    def _gradient(self, p: Parameter) -> np.ndarray:
        """The gradient the moments see: coupled L2 decay is part of it (AdamW overrides this)."""
        return p.grad + self.weight_decay * p.data if self.weight_decay else p.grad

    def step(self) -> None:
        self.step_count += 1
        t = self.step_count
        b1, b2 = self.betas
        bias_correction1 = 1.0 - b1**t
        bias_correction2_sqrt = math.sqrt(1.0 - b2**t)
        step_size = self.lr / bias_correction1
        for i, p in enumerate(self.params):
            g = self._gradient(p)
            m, v = self.exp_avg[i], self.exp_avg_sq[i]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            if self.amsgrad:
                np.maximum(self.max_exp_avg_sq[i], v, out=self.max_exp_avg_sq[i])
                v = self.max_exp_avg_sq[i]
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
            p.data -= step_size * m / denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    The decay shrinks the parameters directly, *before* and *outside* the adaptive step:

    .. math:: \theta \leftarrow (1 - \eta\omega)\,\theta,

    then the :class:`Adam` step with :math:`g_t = \nabla L` (no decay term in the gradient).

    With L2 regularisation inside Adam the decay term :math:`\omega\theta` is divided by
    :math:`\sqrt{\hat v}` like the rest of the gradient, so parameters with large gradients are
    barely decayed; decoupling makes every parameter decay at the same rate :math:`\eta\omega`.
    PyTorch's default ``weight_decay`` is 1e-2 (Adam's is 0).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def _gradient(self, p: Parameter) -> np.ndarray:
        return p.grad

    def step(self) -> None:
        if self.weight_decay:
            for p in self.params:
                p.data *= 1.0 - self.lr * self.weight_decay
        super().step()


class LRScheduler:
    """Base class of learning-rate schedules (``torch.optim.lr_scheduler.LRScheduler``).

    The schedule is a function of the step count ``last_epoch``: construction applies step 0,
    and every ``step()`` (called *after* ``optimizer.step()``) advances the count and writes the new
    rate into ``optimizer.lr``. ``base_lr`` is the optimizer's learning rate at construction.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = -1
        self.step()

    def get_lr(self) -> float:  # pragma: no cover - abstract
        """The learning rate for step ``last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step and set ``optimizer.lr``."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr()

    def get_last_lr(self) -> list[float]:
        """The current rate as a one-element list (PyTorch returns one entry per parameter group)."""
        return [self.optimizer.lr]


class LambdaLR(LRScheduler):
    r"""``torch.optim.lr_scheduler.LambdaLR``: :math:`\eta_t = \eta_0 \cdot f(t)` for a given ``lr_lambda``."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.base_lr * self.lr_lambda(self.last_epoch)


class LinearWarmupCosine(LRScheduler):
    r"""Linear warm-up followed by cosine decay (Goyal et al., 2017; Loshchilov & Hutter, 2017).

    For step :math:`t`, with :math:`w` warm-up steps, :math:`T` total steps, start factor
    :math:`s` and floor :math:`\eta_{min}`:

    .. math::

        \begin{aligned}
        &t < w:\quad \eta_t = \eta_0\,\bigl(s + (1-s)\,t/w\bigr),\\
        &t \ge w:\quad \eta_t = \eta_{min} + \tfrac12(\eta_0-\eta_{min})\\
        &\qquad \bigl(1 + \cos\bigl(\pi\,\tfrac{\min(t-w,\,T-w)}{T-w}\bigr)\bigr).
        \end{aligned}

    This is the closed form of PyTorch's
    ``SequentialLR(opt, [LinearLR(opt, s, total_iters=w), CosineAnnealingLR(opt, T - w, eta_min)],
    milestones=[w])`` (which computes the cosine recursively), held at :math:`\eta_{min}` after
    :math:`T` steps instead of rising again.

    Parameters
    ----------
    optimizer : Optimizer
    warmup_steps : int
        :math:`w \ge 0`; 0 means no warm-up.
    total_steps : int
        :math:`T > w`.
    start_factor : float
        :math:`s \in (0, 1]`, the first step's fraction of :math:`\eta_0` (default :math:`1/w`);
        the rate then rises linearly and reaches :math:`\eta_0` at step :math:`w`.
    eta_min : float
        Floor of the cosine, default 0.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int,
                 start_factor: float | None = None, eta_min: float = 0.0) -> None:
        if warmup_steps < 0 or total_steps <= warmup_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got warmup_steps={warmup_steps}, "
                             f"total_steps={total_steps}")
        s = 1.0 / warmup_steps if start_factor is None and warmup_steps else (start_factor or 1.0)
        if not 0.0 < s <= 1.0:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
        self.warmup_steps, self.total_steps, self.start_factor, self.eta_min = warmup_steps, total_steps, s, eta_min
        super().__init__(optimizer)

    def get_lr(self) -> float:
        t, w, T = self.last_epoch, self.warmup_steps, self.total_steps
        if t < w:
            return self.base_lr * (self.start_factor + (1.0 - self.start_factor) * t / w)
        progress = min(t - w, T - w) / (T - w)
        return self.eta_min + 0.5 * (self.base_lr - self.eta_min) * (1.0 + math.cos(math.pi * progress))
