"""Recurrent layers: the cells' VJPs against central differences, BPTT through the modules against
central differences and PyTorch float64 (outputs to 1e-12, every gradient to 1e-10), truncated
BPTT against PyTorch with the state detached every k steps, and the error messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnmath as nm

MODES = ("RNN", "LSTM", "GRU")
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


# --- cells -----------------------------------------------------------------------------------
def _cell_args(rng: np.random.Generator, gates: int, N: int = 3, I: int = 4, H: int = 5):
    return (rng.standard_normal((N, I)), rng.standard_normal((N, H)),
            rng.standard_normal((gates * H, I)) * 0.5, rng.standard_normal((gates * H, H)) * 0.5,
            rng.standard_normal(gates * H) * 0.5, rng.standard_normal(gates * H) * 0.5)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_gradcheck(rng, nonlinearity, bias):
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_args(rng, 1)
    args = (x, h, W_ih, W_hh) + ((b_ih, b_hh) if bias else (None, None))
    rep = nm.gradcheck(nm.rnn_cell, nm.rnn_cell_backward, *args, nonlinearity=nonlinearity,
                       seed=1)
    assert rep.passed and rep.max_rel_error < 1e-7


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_gradcheck(rng, bias):
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_args(rng, 3)
    args = (x, h, W_ih, W_hh) + ((b_ih, b_hh) if bias else (None, None))
    rep = nm.gradcheck(nm.gru_cell, nm.gru_cell_backward, *args, seed=2)
    assert rep.passed and rep.max_rel_error < 1e-7


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_gradcheck(rng, bias):
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_args(rng, 4)
    c = rng.standard_normal(h.shape)
    arrays = {"x": x, "h": h, "c": c, "W_ih": W_ih, "W_hh": W_hh}
    if bias:
        arrays.update(b_ih=b_ih, b_hh=b_hh)
    state: dict = {}

    def forward():
        a = arrays
        (h1, c1), state["cache"] = nm.lstm_cell(a["x"], a["h"], a["c"], a["W_ih"], a["W_hh"],
                                                a.get("b_ih"), a.get("b_hh"))
        return np.stack([h1, c1])     # both outputs, so the upstream gradient is random on both

    def backward(dout):
        grads = nm.lstm_cell_backward((dout[0], dout[1]), state["cache"])
        assert (grads[5] is None) == (not bias) and (grads[6] is None) == (not bias)
        return [g for g in grads if g is not None]

    rep = nm.check_vjp(forward, backward, arrays, seed=3)
    assert rep.passed and rep.max_rel_error < 1e-7


def test_cells_match_torch_cells(rng, th):
    torch = th.torch
    for mode, cell, ours in (("RNN", torch.nn.RNNCell, nm.rnn_cell), ("GRU", torch.nn.GRUCell, nm.gru_cell),
                             ("LSTM", torch.nn.LSTMCell, nm.lstm_cell)):
        x, h, W_ih, W_hh, b_ih, b_hh = _cell_args(rng, GATES[mode])
        tc = cell(4, 5).double()
        for name, v in (("weight_ih", W_ih), ("weight_hh", W_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
            getattr(tc, name).data = th.T(v)
        if mode == "LSTM":
            c = rng.standard_normal(h.shape)
            (h1, c1), _ = ours(x, h, c, W_ih, W_hh, b_ih, b_hh)
            th1, tc1 = tc(th.T(x), (th.T(h), th.T(c)))
            th.close(h1, th1)
            th.close(c1, tc1)
        else:
            h1, _ = ours(x, h, W_ih, W_hh, b_ih, b_hh)
            th.close(h1, tc(th.T(x), th.T(h)))


# --- modules: helpers ----------------------------------------------------------------------------
def _make(mode, rng, **kw):
    cls = getattr(nm, mode)
    return cls(3, 4, rng=rng, **kw)


def _inputs(rng, mode, m, T=5, N=2):
    shape = (N, T, m.input_size) if m.batch_first else (T, N, m.input_size)
    x = rng.standard_normal(shape)
    states = [rng.standard_normal((m.num_layers, N, m.hidden_size))
              for _ in range(2 if mode == "LSTM" else 1)]
    return x, states


def _forward(m, mode, x, states):
    if mode == "LSTM":
        out, (h_n, c_n) = m(x, tuple(states))
        return out, [h_n, c_n]
    out, h_n = m(x, states[0])
    return out, [h_n]


def _backward(m, mode, dout, dfinal):
    if mode == "LSTM":
        dx, (dh0, dc0) = m.backward(dout, *dfinal)
        return dx, [dh0, dc0]
    dx, dh0 = m.backward(dout, dfinal[0])
    return dx, [dh0]


def _torch_copy(mode, m, torch):
    kw = dict(num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first)
    if mode == "RNN":
        kw["nonlinearity"] = m.nonlinearity
    tm = getattr(torch.nn, mode)(m.input_size, m.hidden_size, **kw).double()
    ours = dict(m.named_parameters())
    assert [n for n, _ in tm.named_parameters()] == list(ours)     # PyTorch's names, in its order
    for n, p in tm.named_parameters():
        assert tuple(p.shape) == ours[n].shape
        p.data = torch.tensor(ours[n].data)
    return tm


CONFIGS = [dict(num_layers=L, bias=b, batch_first=bf) for L in (1, 2) for b in (True, False)
           for bf in (False, True)]


def _id(cfg):
    return f"L{cfg['num_layers']}-{'bias' if cfg['bias'] else 'nobias'}-{'bf' if cfg['batch_first'] else 'tf'}"


def _variants():
    for mode in MODES:
        for cfg in CONFIGS:
            yield mode, dict(cfg)
    for cfg in CONFIGS:
        yield "RNN", dict(cfg, nonlinearity="relu")


VARIANTS = list(_variants())
VARIANT_IDS = [f"{m}-{_id(c)}{'-relu' if c.get('nonlinearity') == 'relu' else ''}" for m, c in VARIANTS]


# --- modules: PyTorch parity ----------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "cfg"), VARIANTS, ids=VARIANT_IDS)
def test_module_matches_torch(rng, th, mode, cfg):
    torch = th.torch
    m = _make(mode, rng, **cfg)
    tm = _torch_copy(mode, m, torch)
    x, states = _inputs(rng, mode, m)
    out, finals = _forward(m, mode, x, states)
    xt = th.T(x, grad=True)
    st = [th.T(s, grad=True) for s in states]
    if mode == "LSTM":
        ot, (hn, cn) = tm(xt, tuple(st))
        tfinals = [hn, cn]
    else:
        ot, hn = tm(xt, st[0])
        tfinals = [hn]
    th.close(out, ot)
    for a, b in zip(finals, tfinals):
        th.close(a, b)
    dout = rng.standard_normal(out.shape)
    dfinal = [rng.standard_normal(f.shape) for f in finals]
    loss = (ot * th.T(dout)).sum() + sum((f * th.T(d)).sum() for f, d in zip(tfinals, dfinal))
    loss.backward()
    dx, d0 = _backward(m, mode, dout, dfinal)
    th.close(dx, xt.grad, rtol=1e-10, atol=1e-12)
    for a, b in zip(d0, st):
        th.close(a, b.grad, rtol=1e-10, atol=1e-12)
    ours = dict(m.named_parameters())
    for n, p in tm.named_parameters():
        th.close(ours[n].grad, p.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_and_default_state_match_torch(rng, th, mode):
    torch = th.torch
    m = _make(mode, rng, num_layers=2)
    tm = _torch_copy(mode, m, torch)
    x = rng.standard_normal((6, 3))                   # one sequence, no batch axis
    out, finals = _forward(m, mode, x, [None, None] if mode == "LSTM" else [None])
    xt = th.T(x, grad=True)
    ot, tf = tm(xt)
    tfinals = list(tf) if mode == "LSTM" else [tf]
    th.close(out, ot)
    for a, b in zip(finals, tfinals):
        assert a.shape == tuple(b.shape) == (2, 4)
        th.close(a, b)
    dout = rng.standard_normal(out.shape)
    dfinal = [rng.standard_normal(f.shape) for f in finals]
    ((ot * th.T(dout)).sum() + sum((f * th.T(d)).sum() for f, d in zip(tfinals, dfinal))).backward()
    dx, d0 = _backward(m, mode, dout, dfinal)
    th.close(dx, xt.grad, rtol=1e-10, atol=1e-12)
    assert all(d.shape == (2, 4) for d in d0)
    for n, p in tm.named_parameters():
        th.close(dict(m.named_parameters())[n].grad, p.grad, rtol=1e-10, atol=1e-12)


# --- modules: finite differences -------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "cfg"), [v for v in VARIANTS if not v[1]["batch_first"]],
                         ids=[i for i, v in zip(VARIANT_IDS, VARIANTS) if not v[1]["batch_first"]])
def test_module_gradcheck(rng, mode, cfg):
    """Random upstream gradients on the output sequence AND the final state(s)."""
    m = _make(mode, rng, **cfg)
    x, states = _inputs(rng, mode, m, T=4)
    params = dict(m.named_parameters())
    arrays = {"x": x, **{f"s{k}": s for k, s in enumerate(states)}, **{n: p.data for n, p in params.items()}}
    sizes: dict = {}

    def forward():
        out, finals = _forward(m, mode, x, states)
        sizes["out"], sizes["finals"] = out.shape, [f.shape for f in finals]
        return np.concatenate([out.ravel()] + [f.ravel() for f in finals])

    def backward(d):
        n = int(np.prod(sizes["out"]))
        dout, rest = d[:n].reshape(sizes["out"]), d[n:]
        dfinal = []
        for shape in sizes["finals"]:
            k = int(np.prod(shape))
            dfinal.append(rest[:k].reshape(shape))
            rest = rest[k:]
        m.zero_grad()
        dx, d0 = _backward(m, mode, dout, dfinal)
        return [dx, *d0, *[p.grad.copy() for p in params.values()]]

    rep = nm.check_vjp(forward, backward, arrays, seed=4)
    assert rep.passed and rep.max_rel_error < 1e-7, str(rep)


# --- truncated BPTT ----------------------------------------------------------------------------
def _torch_truncated(mode, tm, xt, states, k, torch):
    """The reference: run the sequence in chunks of k steps, detaching the state between chunks."""
    outs, hx = [], tuple(states) if mode == "LSTM" else states[0]
    for start in range(0, xt.shape[0], k):
        if start:
            hx = tuple(s.detach() for s in hx) if mode == "LSTM" else hx.detach()
        o, hx = tm(xt[start:start + k], hx)
        outs.append(o)
    return torch.cat(outs), (list(hx) if mode == "LSTM" else [hx])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_truncated_bptt_matches_torch_detach(rng, th, mode, k):
    torch = th.torch
    m = _make(mode, rng, num_layers=2, bptt_truncate=k)
    tm = _torch_copy(mode, m, torch)
    x, states = _inputs(rng, mode, m, T=7)
    out, finals = _forward(m, mode, x, states)
    xt = th.T(x, grad=True)
    st = [th.T(s, grad=True) for s in states]
    ot, tfinals = _torch_truncated(mode, tm, xt, st, k, torch)
    th.close(out, ot)                                   # the forward is unchanged
    dout = rng.standard_normal(out.shape)
    dfinal = [rng.standard_normal(f.shape) for f in finals]
    ((ot * th.T(dout)).sum() + sum((f * th.T(d)).sum() for f, d in zip(tfinals, dfinal))).backward()
    dx, d0 = _backward(m, mode, dout, dfinal)
    th.close(dx, xt.grad, rtol=1e-10, atol=1e-12)
    for a, b in zip(d0, st):
        th.close(a, b.grad, rtol=1e-10, atol=1e-12)
    for n, p in tm.named_parameters():
        th.close(dict(m.named_parameters())[n].grad, p.grad, rtol=1e-10, atol=1e-12)


def test_truncation_only_cuts_the_state_path(rng):
    """k >= T is full BPTT; k = 1 leaves only one step of gradient per output."""
    m = nm.RNN(3, 4, rng=rng)
    x = rng.standard_normal((6, 2, 3))
    out, _ = m(x)
    dout = np.zeros_like(out)
    dout[-1] = rng.standard_normal(out.shape[1:])
    full = m.backward(dout)[0]
    m.bptt_truncate = 6
    m(x)
    np.testing.assert_array_equal(m.backward(dout)[0], full)
    m.bptt_truncate = 1
    m(x)
    dx, dh0 = m.backward(dout)
    assert np.all(dx[:-1] == 0) and np.all(dh0 == 0) and np.allclose(dx[-1], full[-1])


# --- state gradients, accumulation, init ------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_state_grads_match_torch_per_step(rng, th, mode):
    """``state_grads[0][t]`` is dL/dh_t (and dL/dc_t) of the unrolled graph, t = 0..T."""
    torch = th.torch
    m = _make(mode, rng)
    cell = getattr(torch.nn, mode + "Cell")(3, 4).double()
    for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, n).data = torch.tensor(getattr(m, n + "_l0").data)
    x, states = _inputs(rng, mode, m, T=5)
    out, finals = _forward(m, mode, x, states)
    dout = rng.standard_normal(out.shape)
    dfinal = [rng.standard_normal(f.shape) for f in finals]
    _backward(m, mode, dout, dfinal)
    hx = [th.T(s[0], grad=True) for s in states]
    seq = [hx]
    outs = []
    for t in range(5):
        new = cell(th.T(x[t]), tuple(seq[-1]) if mode == "LSTM" else seq[-1][0])
        new = list(new) if mode == "LSTM" else [new]
        for s in new:
            s.retain_grad()
        seq.append(new)
        outs.append(new[0])
    loss = sum((o * th.T(d)).sum() for o, d in zip(outs, dout))
    loss = loss + sum((s * th.T(d[0])).sum() for s, d in zip(seq[-1], dfinal))
    loss.backward()
    for t in range(6):
        for k in range(len(states)):
            th.close(m.state_grads[0][t][k], seq[t][k].grad, rtol=1e-10, atol=1e-12)


def test_gradients_accumulate(rng):
    m = nm.LSTM(3, 4, num_layers=2, rng=rng)
    x = rng.standard_normal((5, 2, 3))
    out, _ = m(x)
    dout = rng.standard_normal(out.shape)
    m.backward(dout)
    once = [p.grad.copy() for p in m.parameters()]
    m(x)
    m.backward(dout)
    for g, p in zip(once, m.parameters()):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-14)
    m.zero_grad()
    assert all(np.all(p.grad == 0) for p in m.parameters())


@pytest.mark.parametrize("mode", MODES)
def test_init_is_pytorch_uniform(mode):
    m = _make(mode, np.random.default_rng(1), num_layers=2)
    bound = 1 / np.sqrt(4)
    v = nm.parameters_to_vector(m.parameters())
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.95 * bound
    assert abs(np.mean(v**2) / (bound**2 / 3) - 1) < 0.25      # U(-a, a) has variance a^2 / 3
    assert m.weight_ih_l0.shape == (GATES[mode] * 4, 3) and m.weight_ih_l1.shape == (GATES[mode] * 4, 4)
    assert m.num_parameters() == sum(p.size for p in m.parameters())
    assert mode in repr(m) and "num_layers=2" in repr(m)


# --- errors and extremes -----------------------------------------------------------------------
def test_wrong_input_size():
    m = nm.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"input.shape\[-1\] must be input_size=3"):
        m(np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match="input must be 3-D"):
        m(np.zeros((5, 2, 2, 3)))


def test_wrong_state_shapes():
    r = nm.RNN(3, 4, num_layers=2)
    x = np.zeros((5, 2, 3))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(num_layers, N, hidden_size\) = \(2, 2, 4\)"):
        r(x, np.zeros((1, 2, 4)))
    m = nm.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"c_0 must have shape .* = \(1, 2, 4\), got c_0.shape=\(1, 3, 4\)"):
        m(x, (np.zeros((1, 2, 4)), np.zeros((1, 3, 4))))
    with pytest.raises(TypeError, match="tuple"):
        m(x, np.zeros((1, 2, 4)))
    out, _ = m(x)
    with pytest.raises(ValueError, match="doutput must have the output's shape"):
        m.backward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="dc_n must have the final state's shape"):
        m.backward(None, None, np.zeros((2, 4)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nm.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nm.GRU(3, 0)
    with pytest.raises(ValueError, match="bptt_truncate must be None or a positive integer"):
        nm.RNN(3, 4, bptt_truncate=0)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nm.GRU(3, 4).backward(np.zeros((5, 2, 4)))
    x, h, W_ih, W_hh, b_ih, b_hh = _cell_args(np.random.default_rng(0), 4)
    with pytest.raises(ValueError, match=r"W_ih must have shape \(4\*hidden_size, input_size\)"):
        nm.lstm_cell(x, h, h, W_ih[:, :2], W_hh)
    with pytest.raises(ValueError, match="give both biases"):
        nm.gru_cell(x, h, W_ih[:15], W_hh[:15], b_ih[:15])
    with pytest.raises(ValueError, match="x must be 2-D"):
        nm.rnn_cell(x[:2], h, W_ih[:5], W_hh[:5])


@pytest.mark.parametrize("mode", MODES)
def test_extreme_inputs_finite_without_warnings(rng, mode):
    m = _make(mode, rng, num_layers=2)
    x = 1e3 * rng.standard_normal((20, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, finals = _forward(m, mode, x, [None, None] if mode == "LSTM" else [None])
        dx, d0 = _backward(m, mode, rng.standard_normal(out.shape), [None] * len(finals))
    assert np.isfinite(out).all() and np.isfinite(dx).all() and all(np.isfinite(d).all() for d in d0)
    assert all(np.isfinite(p.grad).all() for p in m.parameters())
