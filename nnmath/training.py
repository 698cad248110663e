"""The training loop, written once: mini-batches, one optimizer step per batch, a history, and
optional early stopping on the validation loss; and gradient accumulation over micro-batches.

``Module.backward`` *adds* into ``Parameter.grad`` until ``zero_grad``, so several backward passes
over micro-batches sum their gradients; :func:`accumulate_gradients` scales each micro-batch so
that the sum is exactly the gradient of the big-batch *mean* loss.

Chapters that train several models (deep vs shallow, with vs without normalization, CNN vs MLP)
call :func:`fit` instead of repeating the loop; the backpropagation chapter writes the loop out by
hand first, so the reader sees that this is all it does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .module import Module
from .optim import Optimizer

__all__ = ["minibatches", "fit", "accuracy", "predict", "accumulate_gradients"]


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None = None,
                shuffle: bool = True) -> Iterator[np.ndarray]:
    """Yield index arrays that cover ``range(n)`` once, in batches of ``batch_size`` (last may be smaller)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = (rng if rng is not None else np.random.default_rng(0)).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def fit(model: Module, loss_fn: Module, optimizer: Optimizer, X: np.ndarray, y: np.ndarray, *,
        epochs: int, batch_size: int | None = None, rng: np.random.Generator | None = None,
        X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
        before_step: Callable[[int], Any] | None = None,
        after_step: Callable[[int], Any] | None = None,
        patience: int | None = None, min_delta: float = 0.0,
        restore_best: bool = True) -> dict[str, Any]:
    """Train ``model`` with ``optimizer`` on ``(X, y)`` and return the history.

    Each step: ``optimizer.zero_grad()``, forward, ``loss_fn`` forward, ``loss_fn.backward()``,
    ``model.backward(dlogits)``, ``optimizer.step()`` — the loop of the backpropagation chapter.

    Parameters
    ----------
    model, loss_fn : Module
        ``loss_fn(model(X_batch), y_batch)`` must return a scalar loss.
    optimizer : Optimizer
        Built on ``model.parameters()``.
    X, y : ndarray
        Training inputs and targets, samples along axis 0.
    epochs : int
    batch_size : int, optional
        Full batch when omitted.
    rng : numpy.random.Generator, optional
        Shuffles the mini-batches (seeded default when omitted: runs are reproducible).
    X_val, y_val : ndarray, optional
        When given, the validation loss (and accuracy for integer targets) is recorded per epoch
        with the model in evaluation mode.
    before_step : callable, optional
        Called with the global step index after ``backward`` and before ``optimizer.step()``: the
        gradients are complete here, so this is where clipping goes
        (``before_step=lambda s: nm.clip_grad_norm_(model.parameters(), 1.0)``).
    after_step : callable, optional
        Called with the global step index after each optimizer step (for diagnostics).
    patience : int, optional
        **Early stopping** (needs validation data): stop when the validation loss has not improved
        on its best value by more than ``min_delta`` for ``patience`` consecutive epochs. Without
        it every epoch runs.
    min_delta : float
        The smallest decrease of the validation loss that counts as an improvement.
    restore_best : bool
        With early stopping, copy back the parameters (and batch-norm running statistics) of the
        epoch with the lowest validation loss before returning — the model that was monitored as
        best, not the last one trained.

    Returns
    -------
    dict
        ``"loss"``: training loss per step; ``"epoch_loss"``: mean training loss per epoch; and,
        with validation data, ``"val_loss"`` and ``"val_accuracy"`` per epoch. With ``patience``,
        also ``"best_epoch"`` (0-based index into ``"val_loss"``) and ``"stopped_epoch"`` (the last
        epoch that ran; ``epochs - 1`` if it never stopped early).
    """
    has_val = X_val is not None and y_val is not None
    if patience is not None and (not has_val or patience < 1):
        raise ValueError(f"early stopping needs X_val, y_val and patience >= 1, got patience={patience} "
                         f"and {'no ' if not has_val else ''}validation data")
    rng = rng if rng is not None else np.random.default_rng(0)
    n = len(X)
    bs = n if batch_size is None else batch_size
    history: dict[str, Any] = {"loss": [], "epoch_loss": []}
    best, best_state, bad_epochs = math.inf, None, 0
    step = 0
    for epoch in range(epochs):
        model.train()
        losses = []
        for idx in minibatches(n, bs, rng):
            optimizer.zero_grad()
            loss = float(loss_fn(model(X[idx]), y[idx]))
            model.backward(loss_fn.backward())
            if before_step is not None:
                before_step(step)
            optimizer.step()
            losses.append(loss)
            if after_step is not None:
                after_step(step)
            step += 1
        history["loss"] += losses
        history["epoch_loss"].append(float(np.mean(losses)))
        if has_val:
            model.eval()
            out = model(X_val)
            val_loss = float(loss_fn(out, y_val))
            history.setdefault("val_loss", []).append(val_loss)
            if np.issubdtype(np.asarray(y_val).dtype, np.integer):
                history.setdefault("val_accuracy", []).append(float(np.mean(out.argmax(axis=1) == y_val)))
            model.train()
            if patience is not None:
                history["stopped_epoch"] = epoch
                if val_loss < best - min_delta:
                    best, bad_epochs, history["best_epoch"] = val_loss, 0, epoch
                    best_state = _state(model) if restore_best else None
                else:
                    bad_epochs += 1
                    if bad_epochs >= patience:
                        break
    if best_state is not None:
        _load_state(model, best_state)
    return history


def _state(model: Module) -> list[tuple[Any, str, Any]]:
    """Copies of everything that defines the trained function: every parameter's value and every
    module's running statistics (PyTorch's ``state_dict``: parameters and buffers)."""
    state: list[tuple[Any, str, Any]] = [(p, "data", p.data.copy()) for p in model.parameters()]
    for m in model.modules():
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            value = getattr(m, name, None)
            if value is not None:
                state.append((m, name, np.copy(value) if isinstance(value, np.ndarray) else value))
    return state


def _load_state(model: Module, state: list[tuple[Any, str, Any]]) -> None:
    for owner, name, value in state:
        if isinstance(value, np.ndarray):
            getattr(owner, name)[...] = value
        else:
            setattr(owner, name, value)


def predict(model: Module, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Evaluation-mode forward pass in batches (restores the previous mode afterwards)."""
    was_training = model.training
    model.eval()
    out = np.concatenate([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose arg-max output equals the integer label."""
    return float(np.mean(predict(model, X).argmax(axis=1) == y))


def accumulate_gradients(model: Module, loss_fn: Module, X: np.ndarray, y: np.ndarray,
                         micro_batch_size: int) -> float:
    r"""Add the gradient of the mean loss over ``(X, y)`` into ``Parameter.grad``, one
    micro-batch at a time.

    For a loss that *averages* over samples, :math:`L = \frac1N\sum_n \ell_n`, split
    into micro-batches :math:`B_k` of sizes :math:`n_k` with means :math:`L_k`,

    .. math:: \nabla L = \sum_k \frac{n_k}{N}\,\nabla L_k ,

    so each micro-batch's backward starts from the upstream gradient :math:`n_k/N`
    instead of 1 (unequal last micro-batches are handled exactly), and ``backward``'s
    ``+=`` does the sum. Peak memory is that of one micro-batch.

    This equals one big batch only if every sample's loss depends on that sample alone.
    Batch normalization breaks it in training mode: each micro-batch is normalized with
    its own statistics (the chapter measures the difference).

    Like PyTorch's accumulation pattern, this does **not** call ``zero_grad`` — call it
    before, and ``optimizer.step()`` after.

    Parameters
    ----------
    model, loss_fn : Module
        ``loss_fn(model(X_k), y_k)`` must return a scalar *mean* loss
        (``reduction="mean"``).
    X, y : ndarray
        The big batch, samples along axis 0.
    micro_batch_size : int

    Returns
    -------
    float
        The mean loss over the big batch (:math:`\sum_k \frac{n_k}{N} L_k`).
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X and y must have the same number of samples, "
                         f"got X.shape={np.shape(X)} and y.shape={np.shape(y)}")
    total = 0.0
    for idx in minibatches(n, micro_batch_size, shuffle=False):
        weight = len(idx) / n
        total += weight * float(loss_fn(model(X[idx]), y[idx]))
        model.backward(loss_fn.backward(weight))
    return total
