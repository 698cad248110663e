"""Small data sets the chapters train on: generated in NumPy or shipped inside an installed package.

Nothing here downloads anything. Every generator takes a seed (or a ``Generator``) so that the
book's experiments are reproducible.
"""

from __future__ import annotations

import numpy as np

from ._checks import Array

__all__ = ["xor", "spirals", "load_digits", "reversal_task", "train_test_split"]


def xor() -> tuple[Array, Array]:
    """The four points of XOR: ``X`` of shape (4, 2) and targets ``y`` of shape (4, 1).

    Not linearly separable (Minsky & Papert, 1969), so no network without a hidden layer fits it.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return X, y


def spirals(n_per_class: int = 200, n_classes: int = 2, noise: float = 0.2, turns: float = 1.5,
            rng: np.random.Generator | int | None = 0) -> tuple[Array, np.ndarray]:
    """Interleaved 2-D spirals, the classic small benchmark that needs depth to fit.

    Returns
    -------
    X : ndarray of shape (n_per_class * n_classes, 2), roughly in [-1, 1]^2
    y : ndarray of int64, shape (n_per_class * n_classes,), class labels
    """
    rng = np.random.default_rng(rng)
    r = np.tile(np.linspace(0.05, 1.0, n_per_class), n_classes)
    k = np.repeat(np.arange(n_classes), n_per_class)
    theta = r * turns * 2 * np.pi + k * 2 * np.pi / n_classes + rng.normal(0, noise, size=r.shape)
    X = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return X, k.astype(np.int64)


def load_digits(flatten: bool = False, scale: bool = True) -> tuple[Array, np.ndarray]:
    """The 1,797 8×8 handwritten digits that ship inside scikit-learn (no download).

    Parameters
    ----------
    flatten : bool
        Return ``X`` of shape (1797, 64) instead of images (1797, 1, 8, 8) in NCHW layout.
    scale : bool
        Divide the 0–16 pixel intensities by 16.

    Returns
    -------
    X : ndarray, float64
    y : ndarray of int64, shape (1797,), digits 0–9
    """
    from sklearn.datasets import load_digits as _load  # scikit-learn is a book dependency

    d = _load()
    X = d.images.astype(np.float64)
    if scale:
        X = X / 16.0
    X = X.reshape(len(X), 64) if flatten else X[:, None, :, :]
    return X, d.target.astype(np.int64)


def reversal_task(n: int, length: int = 6, vocab: int = 10,
                  rng: np.random.Generator | int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of random digits and their reversals: ``(tokens, targets)``, both (n, length) int64."""
    rng = np.random.default_rng(rng)
    x = rng.integers(0, vocab, size=(n, length))
    return x, x[:, ::-1].copy()


def train_test_split(*arrays: np.ndarray, test_fraction: float = 0.25,
                     rng: np.random.Generator | int | None = 0) -> list[np.ndarray]:
    """Shuffle once and split every array along axis 0: ``a_train, a_test, b_train, b_test, ...``."""
    n = len(arrays[0])
    for a in arrays:
        if len(a) != n:
            raise ValueError(f"all arrays need the same length, got {[len(a) for a in arrays]}")
    perm = np.random.default_rng(rng).permutation(n)
    n_test = int(round(n * test_fraction))
    test, train = perm[:n_test], perm[n_test:]
    out: list[np.ndarray] = []
    for a in arrays:
        out += [a[train], a[test]]
    return out
