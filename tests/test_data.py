"""The data sets: shapes, labels, determinism, and what they are supposed to contain."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def test_xor_truth_table() -> None:
    X, y = nm.data.xor()
    assert X.shape == (4, 2) and y.shape == (4, 1)
    np.testing.assert_array_equal(y[:, 0], np.logical_xor(X[:, 0], X[:, 1]).astype(float))


def test_spirals_shapes_labels_and_seed() -> None:
    X, y = nm.data.spirals(50, n_classes=3, rng=1)
    assert X.shape == (150, 2) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50])
    X2, _ = nm.data.spirals(50, n_classes=3, rng=1)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, nm.data.spirals(50, n_classes=3, rng=2)[0])
    # radius grows along each arm up to 1, so every point is in the unit disc
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0 + 1e-12)


def test_spirals_are_not_linearly_separable() -> None:
    X, y = nm.data.spirals(200, rng=0)
    A = np.hstack([X, np.ones((len(X), 1))])
    w, *_ = np.linalg.lstsq(A, 2.0 * y - 1.0, rcond=None)
    linear_acc = np.mean((A @ w > 0) == (y == 1))
    assert linear_acc < 0.75, linear_acc


def test_digits_layouts() -> None:
    X, y = nm.data.load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float64
    assert 0.0 <= X.min() and X.max() <= 1.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    Xf, yf = nm.data.load_digits(flatten=True, scale=False)
    assert Xf.shape == (1797, 64) and Xf.max() == 16.0
    np.testing.assert_array_equal(Xf / 16.0, X.reshape(1797, 64))
    np.testing.assert_array_equal(y, yf)


def test_reversal_task() -> None:
    x, t = nm.data.reversal_task(5, length=4, vocab=3, rng=0)
    assert x.shape == t.shape == (5, 4) and x.max() < 3
    np.testing.assert_array_equal(t, x[:, ::-1])


def test_train_test_split_partitions_consistently() -> None:
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    Xtr, Xte, ytr, yte = nm.data.train_test_split(X, y, test_fraction=0.3, rng=0)
    assert len(Xte) == 3 and len(Xtr) == 7
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="same length"):
        nm.data.train_test_split(X, y[:5])
