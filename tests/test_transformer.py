"""Positional encoding, embeddings and the transformer encoder layer (Pre-LN and Post-LN):
values by hand, gradient checks (random upstream, float64), PyTorch parity and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm

SEED = 7  # any seed: gradcheck's upstream gradient has a stream of its own
TOL = 1e-7


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


# --- positional encoding --------------------------------------------------------------------
def test_positional_encoding_by_hand():
    pe = nm.sinusoidal_positional_encoding(3, 4)
    t = np.arange(3)[:, None]
    expected = np.hstack([np.sin(t), np.cos(t), np.sin(t / 100.0), np.cos(t / 100.0)])[:, [0, 1, 2, 3]]
    np.testing.assert_allclose(pe, expected, rtol=1e-14, atol=1e-15)


def test_positional_encoding_odd_width_and_torch_tutorial_formula():
    d = 7
    pe = nm.sinusoidal_positional_encoding(50, d)
    pos = np.arange(50)[:, None]
    div = np.exp(np.arange(0, d, 2) * (-np.log(10000.0) / d))
    ref = np.zeros((50, d))
    ref[:, 0::2] = np.sin(pos * div)
    ref[:, 1::2] = np.cos(pos * div[: d // 2])
    np.testing.assert_allclose(pe, ref, rtol=1e-13, atol=1e-14)


def test_positional_encoding_offset_is_a_rotation():
    """PE(t + k) = R_k PE(t) with R_k block-diagonal rotations that do not depend on t."""
    d, k = 8, 3
    pe = nm.sinusoidal_positional_encoding(20, d)
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    R = np.zeros((d, d))
    for i, w in enumerate(omega):
        c, s = np.cos(k * w), np.sin(k * w)
        R[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, -s], [s, c]]   # row-vector convention: pe @ R
    np.testing.assert_allclose(pe[:-k] @ R, pe[k:], atol=1e-12)


def test_positional_encoding_module_gradcheck_and_errors():
    rng = _rng()
    pe = nm.PositionalEncoding(6, max_len=10)
    report = nm.gradcheck_module(pe, rng.standard_normal((2, 5, 6)))
    assert report.passed and report.max_rel_error < TOL
    with pytest.raises(ValueError, match=r"d_model=6.*x\.shape=\(2, 5, 4\)"):
        pe(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"max_len=10.*x\.shape=\(1, 11, 6\)"):
        pe(np.zeros((1, 11, 6)))
    with pytest.raises(ValueError, match="d_model=0"):
        nm.sinusoidal_positional_encoding(3, 0)


# --- embedding ------------------------------------------------------------------------------
def test_embedding_lookup_and_scatter_add_with_repeats():
    W = np.arange(12.0).reshape(4, 3)
    idx = np.array([[1, 3, 1], [1, 0, 2]])                  # token 1 three times
    out, cache = nm.embedding(idx, W)
    np.testing.assert_array_equal(out, W[idx])
    dout = np.random.default_rng(SEED).standard_normal(out.shape)
    dW = nm.embedding_backward(dout, cache)
    np.testing.assert_allclose(dW[1], dout[0, 0] + dout[0, 2] + dout[1, 0])
    np.testing.assert_allclose(dW[3], dout[0, 1])
    # the naive loop: one row per token
    ref = np.zeros_like(W)
    for t, row in zip(idx.ravel(), dout.reshape(-1, 3)):
        ref[t] += row
    np.testing.assert_allclose(dW, ref)


def test_embedding_gradcheck():
    rng = _rng()
    emb = nm.Embedding(5, 3, rng=rng)
    idx = rng.integers(0, 5, size=(4, 6))                    # repeats certain
    report = nm.check_vjp(lambda: emb.forward(idx),
                          lambda d: (emb.zero_grad(), emb.backward(d), emb.weight.grad.copy())[2:],
                          {"weight": emb.weight.data})
    assert report.passed and report.max_rel_error < TOL


def test_embedding_padding_idx_and_errors():
    rng = _rng()
    emb = nm.Embedding(5, 3, padding_idx=0, rng=rng)
    assert np.all(emb.weight.data[0] == 0)
    out = emb(np.array([[0, 1, 0]]))
    emb.backward(np.ones_like(out))
    assert np.all(emb.weight.grad[0] == 0) and np.all(emb.weight.grad[1] == 1)
    with pytest.raises(ValueError, match=r"\[0, 5\).*max 5"):
        emb(np.array([1, 5]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"output's shape \(2, 3\).*dout\.shape=\(2, 4\)"):
        emb(np.array([1, 2]))
        emb.backward(np.ones((2, 4)))


def test_embedding_torch_parity():
    torch = pytest.importorskip("torch")
    rng = _rng()
    emb = nm.Embedding(6, 4, padding_idx=2, rng=rng)
    t = torch.nn.Embedding(6, 4, padding_idx=2, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(emb.weight.data))
    idx = rng.integers(0, 6, size=(3, 5))
    out = emb(idx)
    tout = t(torch.tensor(idx))
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    emb.backward(dout)
    np.testing.assert_allclose(out, tout.detach().numpy())
    np.testing.assert_allclose(emb.weight.grad, t.weight.grad.numpy(), rtol=1e-13, atol=1e-14)


# --- the encoder layer ----------------------------------------------------------------------
def _layer(rng, norm_first, activation="relu", d=8, nhead=2, ff=12):
    layer = nm.TransformerEncoderLayer(d, nhead, ff, activation=activation, norm_first=norm_first, rng=rng)
    for p in layer.parameters():                             # move LN gains/biases off 1/0
        p.data += 0.2 * rng.standard_normal(p.shape)
    return layer


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_gradcheck(norm_first, activation):
    rng = _rng()
    layer = _layer(rng, norm_first, activation)
    report = nm.gradcheck_module(layer, rng.standard_normal((2, 4, 8)))
    assert report.passed and report.max_rel_error < TOL, str(report)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_encoder_layer_gradcheck_with_masks(norm_first):
    rng = _rng()
    layer = _layer(rng, norm_first)
    kpm = np.array([[False, False, False, True], [False, False, False, False]])

    class Masked(nm.Module):
        def __init__(self):
            self.layer = layer

        def forward(self, x):
            return self.layer(x, src_key_padding_mask=kpm, is_causal=True)

        def backward(self, dout):
            return self.layer.backward(dout)

    report = nm.gradcheck_module(Masked(), rng.standard_normal((2, 4, 8)))
    assert report.passed and report.max_rel_error < TOL, str(report)


def test_stack_of_layers_gradcheck():
    rng = _rng()
    model = nm.Sequential(nm.Embedding(5, 8, rng=rng), nm.PositionalEncoding(8),
                          _layer(rng, True), _layer(rng, False), nm.LayerNorm(8), nm.Linear(8, 5, rng=rng))
    idx = rng.integers(0, 5, size=(2, 4))
    params = dict(model.named_parameters())

    def backward(dout):
        model.zero_grad()
        model.backward(dout)
        return [p.grad.copy() for p in params.values()]

    report = nm.check_vjp(lambda: model(idx), backward, {n: p.data for n, p in params.items()}, fast=True)
    assert report.passed and report.max_rel_error < TOL, str(report)


def test_encoder_layer_parameter_names_and_count():
    layer = nm.TransformerEncoderLayer(16, 4, 32, rng=_rng())
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                     "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                     "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    assert layer.num_parameters() == (4 * 16 * 16 + 4 * 16) + (16 * 32 + 32 + 32 * 16 + 16) + 4 * 16


def test_encoder_layer_bad_activation():
    with pytest.raises(ValueError, match="'tanh'"):
        nm.TransformerEncoderLayer(8, 2, 8, activation="tanh")


def _torch_layer(torch, layer, norm_first, activation):
    d = layer.self_attn.embed_dim
    t = torch.nn.TransformerEncoderLayer(d, layer.self_attn.num_heads, layer.linear1.out_features, dropout=0.0,
                                         activation=activation, norm_first=norm_first, batch_first=True,
                                         dtype=torch.float64)
    state = {n: torch.tensor(p.data.T if p.data.ndim == 2 else p.data)      # (in, out) -> torch's (out, in)
             for n, p in layer.named_parameters()}
    t.load_state_dict(state)
    return t


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_torch_parity(norm_first, activation):
    torch = pytest.importorskip("torch")
    rng = _rng()
    layer = _layer(rng, norm_first, activation)
    t = _torch_layer(torch, layer, norm_first, activation)
    x = rng.standard_normal((3, 5, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    blocked = rng.random((5, 5)) > 0.8
    out = layer(x, src_mask=blocked, src_key_padding_mask=kpm)
    tx = torch.tensor(x, requires_grad=True)
    tout = t(tx, src_mask=torch.tensor(blocked), src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    layer.zero_grad()
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-11, atol=1e-13)
    for name, p in layer.named_parameters():
        g = t.get_parameter(name).grad.numpy()
        np.testing.assert_allclose(p.grad, g.T if g.ndim == 2 else g, rtol=1e-11, atol=1e-13, err_msg=name)


def test_pre_ln_output_grows_post_ln_output_is_normalized():
    """Post-LN ends in a LayerNorm (unit RMS per position); Pre-LN's residual stream is not normalized."""
    rng = _rng()
    x = rng.standard_normal((2, 6, 16))
    post = nm.TransformerEncoderLayer(16, 4, 32, norm_first=False, rng=rng)(x)
    np.testing.assert_allclose(post.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(post.var(-1), 1, rtol=1e-4)
    pre = nm.TransformerEncoderLayer(16, 4, 32, norm_first=True, rng=rng)(x)
    assert not np.allclose(pre.var(-1), 1, rtol=1e-2)
