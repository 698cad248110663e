"""The shared training loop does exactly what the hand-written loop of chapter 1 does; early
stopping; gradient accumulation over micro-batches equals the big batch."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def _model(seed: int) -> nm.Sequential:
    rng = np.random.default_rng(seed)
    return nm.Sequential(nm.Linear(2, 8, rng=rng), nm.Tanh(), nm.Linear(8, 2, rng=rng))


def test_minibatches_cover_every_index_once() -> None:
    batches = list(nm.minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert [b.tolist() for b in nm.minibatches(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="positive"):
        list(nm.minibatches(5, 0))


def test_fit_equals_the_hand_written_loop() -> None:
    X, y = nm.data.spirals(40, rng=0)
    a, b = _model(1), _model(1)
    loss_a, loss_b = nm.CrossEntropyLoss(), nm.CrossEntropyLoss()
    opt_a = nm.SGD(a.parameters(), lr=0.3, momentum=0.9)
    opt_b = nm.SGD(b.parameters(), lr=0.3, momentum=0.9)
    history = nm.fit(a, loss_a, opt_a, X, y, epochs=3, batch_size=16, rng=np.random.default_rng(5))

    rng = np.random.default_rng(5)
    manual = []
    for _ in range(3):
        for idx in nm.minibatches(len(X), 16, rng):
            opt_b.zero_grad()
            manual.append(float(loss_b(b(X[idx]), y[idx])))
            b.backward(loss_b.backward())
            opt_b.step()
    np.testing.assert_allclose(history["loss"], manual, rtol=0, atol=0)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert len(history["epoch_loss"]) == 3
    assert history["epoch_loss"][0] == pytest.approx(np.mean(manual[:5]))  # 80 samples / 16 = 5 steps


def test_fit_learns_and_records_validation() -> None:
    X, y = nm.data.spirals(100, noise=0.1, rng=0)
    rng = np.random.default_rng(0)
    model = nm.Sequential(nm.Linear(2, 32, rng=rng), nm.ReLU(), nm.Linear(32, 2, rng=rng))
    h = nm.fit(model, nm.CrossEntropyLoss(), nm.SGD(model.parameters(), lr=0.5, momentum=0.9), X, y,
               epochs=60, batch_size=32, X_val=X, y_val=y)
    assert h["epoch_loss"][-1] < 0.5 * h["epoch_loss"][0]
    assert len(h["val_accuracy"]) == 60 and h["val_accuracy"][-1] == nm.accuracy(model, X, y)
    assert model.training  # fit leaves the model in training mode


def test_predict_restores_mode_and_batches() -> None:
    model = _model(0)
    model.eval()
    X = np.random.default_rng(0).standard_normal((10, 2))
    np.testing.assert_allclose(nm.predict(model, X, batch_size=3), model(X), rtol=1e-15)
    assert not model.training


def test_before_step_sees_complete_gradients_and_can_clip() -> None:
    X, y = nm.data.spirals(40, rng=0)
    model = _model(3)
    norms_before, norms_after = [], []

    def clip(step: int) -> None:
        norms_before.append(nm.clip_grad_norm_(model.parameters(), 0.05))
        norms_after.append(float(np.sqrt(sum(np.sum(p.grad**2) for p in model.parameters()))))

    nm.fit(model, nm.CrossEntropyLoss(), nm.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
           batch_size=20, before_step=clip)
    assert len(norms_before) == 8
    assert max(norms_before) > 0.05                       # clipping had something to do
    np.testing.assert_allclose(norms_after, np.minimum(norms_before, 0.05), rtol=1e-4)


def _early_stopping_run(restore_best: bool, patience: int = 3):
    """Validation labels flipped: the better the model fits, the worse the validation loss."""
    X, y = nm.data.spirals(50, noise=0.1, rng=0)
    rng = np.random.default_rng(1)
    model = nm.Sequential(nm.Linear(2, 16, rng=rng), nm.BatchNorm1d(16), nm.ReLU(), nm.Linear(16, 2, rng=rng))
    loss_fn = nm.CrossEntropyLoss()
    h = nm.fit(model, loss_fn, nm.SGD(model.parameters(), lr=0.3, momentum=0.9), X, y, epochs=40,
               batch_size=25, X_val=X, y_val=1 - y, patience=patience, restore_best=restore_best)
    model.eval()
    return h, float(loss_fn(model(X), 1 - y))


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch() -> None:
    h, val_now = _early_stopping_run(restore_best=True)
    val = h["val_loss"]
    assert h["stopped_epoch"] == h["best_epoch"] + 3 < 39           # stopped early, `patience` epochs on
    assert len(val) == h["stopped_epoch"] + 1
    assert val[h["best_epoch"]] == min(val)
    assert all(v >= val[h["best_epoch"]] for v in val[h["best_epoch"] + 1:])
    assert val_now == val[h["best_epoch"]]                           # parameters and running stats restored


def test_early_stopping_without_restore_keeps_the_last_model() -> None:
    h, val_now = _early_stopping_run(restore_best=False)
    assert val_now == h["val_loss"][-1] > h["val_loss"][h["best_epoch"]]


def test_early_stopping_needs_validation_data() -> None:
    X, y = nm.data.spirals(10, rng=0)
    model = _model(0)
    with pytest.raises(ValueError, match="early stopping needs X_val, y_val and patience >= 1"):
        nm.fit(model, nm.CrossEntropyLoss(), nm.SGD(model.parameters()), X, y, epochs=2, patience=2)


# --- gradient accumulation ---------------------------------------------------------------------
def mlp(seed: int) -> nm.Module:
    rng = np.random.default_rng(seed)
    return nm.Sequential(nm.Linear(5, 8, rng=rng), nm.Tanh(), nm.Linear(8, 3, rng=rng))


@pytest.mark.parametrize("micro", [1, 7, 10, 50])
def test_accumulation_equals_big_batch(micro):
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((50, 5)), rng.integers(0, 3, 50)
    big, acc = mlp(0), mlp(0)
    loss_fn = nm.CrossEntropyLoss()
    big_loss = float(loss_fn(big(X), y))
    big.backward(loss_fn.backward())
    acc_loss = nm.accumulate_gradients(acc, loss_fn, X, y, micro_batch_size=micro)
    assert acc_loss == pytest.approx(big_loss, rel=1e-13)
    for p, q in zip(big.parameters(), acc.parameters()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-11, atol=1e-13)


def test_accumulation_mse_and_adds_to_existing_grad():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((23, 5)), rng.standard_normal((23, 3))
    big, acc = mlp(1), mlp(1)
    loss_fn = nm.MSELoss()
    loss_fn(big(X), y)
    big.backward(loss_fn.backward())
    nm.accumulate_gradients(acc, loss_fn, X, y, micro_batch_size=4)
    for p, q in zip(big.parameters(), acc.parameters()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-11, atol=1e-13)
    # it does not zero: a second call doubles the gradient
    nm.accumulate_gradients(acc, loss_fn, X, y, micro_batch_size=4)
    for p, q in zip(big.parameters(), acc.parameters()):
        np.testing.assert_allclose(q.grad, 2 * p.grad, rtol=1e-11, atol=1e-13)
    with pytest.raises(ValueError, match=r"X.shape=\(23, 5\).*y.shape=\(22, 3\)"):
        nm.accumulate_gradients(acc, loss_fn, X, y[:22], micro_batch_size=4)


def test_accumulation_not_exact_with_batch_norm():
    if not hasattr(nm, "BatchNorm1d"):
        pytest.skip("nm.BatchNorm1d not available yet")
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)

    def net() -> nm.Module:
        r = np.random.default_rng(0)
        return nm.Sequential(nm.Linear(5, 8, rng=r), nm.BatchNorm1d(8), nm.Tanh(), nm.Linear(8, 3, rng=r))

    big, acc = net(), net()
    loss_fn = nm.CrossEntropyLoss()
    loss_fn(big(X), y)
    big.backward(loss_fn.backward())
    nm.accumulate_gradients(acc, loss_fn, X, y, micro_batch_size=10)
    g_big, g_acc = (np.concatenate([p.grad.ravel() for p in m.parameters()]) for m in (big, acc))
    rel = np.linalg.norm(g_acc - g_big) / np.linalg.norm(g_big)
    assert rel > 1e-3          # micro-batches are normalized with their own statistics
    # ... and in evaluation mode (fixed running statistics) it is exact again
    big, acc = net().eval(), net().eval()
    loss_fn(big(X), y)
    big.backward(loss_fn.backward())
    nm.accumulate_gradients(acc, loss_fn, X, y, micro_batch_size=10)
    for p, q in zip(big.parameters(), acc.parameters()):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-11, atol=1e-13)


# --- the one-unit RNN ----------------------------------------------------------------------------
