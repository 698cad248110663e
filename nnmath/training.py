"""The training loop, written once: mini-batches, one optimizer step per batch, a history.

Chapters that train several models (deep vs shallow, with vs without normalization, CNN vs MLP)
call :func:`fit` instead of repeating the loop; the backpropagation chapter writes the loop out by
hand first, so the reader sees that this is all it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .module import Module
from .optim import Optimizer

__all__ = ["minibatches", "fit", "accuracy", "predict"]


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
        after_step: Callable[[int], Any] | None = None) -> dict[str, list[float]]:
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

    Returns
    -------
    dict
        ``"loss"``: training loss per step; ``"epoch_loss"``: mean training loss per epoch; and,
        with validation data, ``"val_loss"`` and ``"val_accuracy"`` per epoch.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    n = len(X)
    bs = n if batch_size is None else batch_size
    history: dict[str, list[float]] = {"loss": [], "epoch_loss": []}
    step = 0
    for _ in range(epochs):
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
        if X_val is not None and y_val is not None:
            model.eval()
            out = model(X_val)
            history.setdefault("val_loss", []).append(float(loss_fn(out, y_val)))
            if np.issubdtype(np.asarray(y_val).dtype, np.integer):
                history.setdefault("val_accuracy", []).append(float(np.mean(out.argmax(axis=1) == y_val)))
            model.train()
    return history


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
