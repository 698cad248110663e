r"""Optimizers: they read ``Parameter.grad`` and update ``Parameter.data`` in place.

Modules never own an optimizer; as in PyTorch, an optimizer is handed the parameters
(``opt = SGD(model.parameters(), lr=0.1)``) and the training loop calls
``opt.zero_grad(); loss = ...; model.backward(...); opt.step()``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .module import Parameter

__all__ = ["Optimizer", "SGD"]


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

    With :math:`g = \nabla L + \lambda\theta` (weight decay :math:`\lambda`), momentum
    :math:`\mu` and dampening 0:

    .. math::

        b_t = \mu b_{t-1} + g_t \;(b_1 = g_1), \qquad
        \theta_t = \theta_{t-1} - \eta\,(g_t + \mu b_t \text{ if Nesterov else } b_t).

    Without momentum this is plain :math:`\theta \leftarrow \theta - \eta g`.
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self._buf: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                buf = self._buf[i]
                buf = g.copy() if buf is None else self.momentum * buf + g
                self._buf[i] = buf
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g
