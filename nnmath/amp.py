r"""Dynamic loss scaling for low-precision gradients, as ``torch.amp.GradScaler``.

In float16 a gradient entry of magnitude at most :math:`2^{-25} \approx 3\times10^{-8}` (half the
smallest subnormal number, :math:`2^{-24}`) rounds to zero.
Multiplying the loss by a scale :math:`s` multiplies every gradient by :math:`s` (the backward pass
is linear in its upstream gradient), lifting small gradients into range; dividing by :math:`s`
before the optimizer step restores their value (Micikevicius et al., 2018). Too large an
:math:`s` overflows to ``inf``. *Dynamic* scaling searches for the largest safe scale:

* a step whose gradients contain ``inf`` or ``NaN`` is **skipped** and :math:`s \leftarrow
  s\cdot` ``backoff_factor``;
* after ``growth_interval`` consecutive finite steps, :math:`s \leftarrow s\cdot` ``growth_factor``.

Usage mirrors PyTorch::

    scaler = nm.GradScaler()
    model.backward(scaler.scale(dloss))     # the seed gradient, scaled
    scaler.step(opt)                        # unscale; skip the step on inf/NaN
    scaler.update()                         # back off or grow the scale

Differences from PyTorch: there is no autocast (nnmath computes in the dtype of its arrays), and
``scale`` multiplies whatever it is given — the loss value or, as nnmath's modules need, the
upstream gradient that starts the backward pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .optim import Optimizer

__all__ = ["GradScaler"]


class GradScaler:
    """``torch.amp.GradScaler(init_scale=2**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``.

    Attributes
    ----------
    found_inf : bool
        Whether the gradients unscaled for the current step contained ``inf`` or ``NaN``.
    """

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        if not (math.isfinite(init_scale) and init_scale > 0):
            raise ValueError(f"init_scale must be a positive finite number, got {init_scale}")
        if not growth_factor > 1.0:
            raise ValueError(f"growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"backoff_factor must be in (0, 1), got {backoff_factor}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) or growth_interval < 1:
            raise ValueError(f"growth_interval must be a positive integer, got {growth_interval!r}")
        self._scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval, self.enabled = growth_interval, bool(enabled)
        self._growth_tracker = 0
        self._unscaled: Optimizer | None = None
        self.found_inf = False

    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        return self._scale if self.enabled else 1.0

    def scale(self, value: Any) -> Any:
        """``value * scale``: the loss, or the upstream gradient that starts the backward pass."""
        return value * self._scale if self.enabled else value

    def unscale_(self, optimizer: Optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale, in place, and record
        whether any is ``inf``/``NaN``. At most once per step, as in PyTorch."""
        if not self.enabled:
            return
        if self._unscaled is optimizer:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update()")
        inv = 1.0 / self._scale
        found = False
        for p in optimizer.params:
            p.grad *= inv
            found = found or not bool(np.all(np.isfinite(p.grad)))
        self.found_inf = found
        self._unscaled = optimizer

    def step(self, optimizer: Optimizer) -> bool:
        """Unscale (if not done yet) and call ``optimizer.step()`` unless a gradient is inf/NaN.

        Returns whether the step was taken.
        """
        if not self.enabled:
            optimizer.step()
            return True
        if self._unscaled is not optimizer:
            self.unscale_(optimizer)
        if self.found_inf:
            return False
        optimizer.step()
        return True

    def update(self, new_scale: float | None = None) -> None:
        """Back off after a skipped step, grow after ``growth_interval`` good ones."""
        if not self.enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif self.found_inf:
            self._scale *= self.backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self.growth_interval:
                self._scale *= self.growth_factor
                self._growth_tracker = 0
        self._unscaled = None
        self.found_inf = False

    def state_dict(self) -> dict[str, float | int]:
        return {"scale": self._scale, "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "_growth_tracker": self._growth_tracker}
