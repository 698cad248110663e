"""Scaled dot-product and multi-head attention: derived backward vs finite differences (random
upstream, float64), fast path vs the per-query loop, masks and fully masked rows, PyTorch parity
and bad input."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import nnmath as nm

# Any seed works: gradcheck draws its upstream gradient from a stream of its own
# (default_rng([seed, 0x67726164])), never a copy of the inputs.
SEED = 2024
TOL = 1e-7
SDPA = (nm.scaled_dot_product_attention, nm.scaled_dot_product_attention_backward)
NAIVE = (nm.scaled_dot_product_attention_naive, nm.scaled_dot_product_attention_naive_backward)


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _qkv(rng, batch=(2,), L=4, S=5, d=3, dv=2):
    return (rng.standard_normal(batch + (L, d)), rng.standard_normal(batch + (S, d)),
            rng.standard_normal(batch + (S, dv)))


def _masks(rng, L=4, S=5):
    """Every kind of mask, with at least one dead (fully masked) query row in the masked ones."""
    allowed = rng.random((L, S)) > 0.4
    allowed[:, 0] = True
    allowed[2] = False                                   # query 2 may attend nothing
    bias = rng.standard_normal((L, S))
    return {
        "none": {},
        "bool": {"attn_mask": allowed},
        "bool_batched": {"attn_mask": rng.random((2, L, S)) > 0.3},
        "float": {"attn_mask": bias},
        "float_neg_inf": {"attn_mask": np.where(allowed, bias, -np.inf)},
        "causal": {"is_causal": True},
        "padding": {"attn_mask": np.array([[True] * (S - 2) + [False] * 2, [True] * S])[:, None, :]},
        "scale": {"scale": 0.3},
    }


MASK_KINDS = list(_masks(_rng()))


# --- gradient checks ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("op", [SDPA, NAIVE], ids=["fast", "naive"])
def test_sdpa_gradcheck(kind, op):
    rng = _rng()
    q, k, v = _qkv(rng)
    kwargs = _masks(rng)[kind]
    report = nm.gradcheck(*op, q, k, v, names=["q", "k", "v"], **kwargs)
    assert report.passed and report.max_rel_error < TOL, str(report)


def test_sdpa_gradcheck_several_batch_axes_and_long_keys():
    rng = _rng()
    q, k, v = _qkv(rng, batch=(2, 3), L=3, S=7, d=4, dv=5)
    report = nm.gradcheck(*SDPA, q, k, v, is_causal=True)
    assert report.passed and report.max_rel_error < TOL, str(report)


def test_gradcheck_catches_a_missing_scale_in_the_backward():
    """The check has teeth: a backward that forgets the 1/sqrt(d) factor fails."""
    rng = _rng()
    q, k, v = _qkv(rng, d=4)

    def bad_backward(dout, cache):
        dq, dk, dv = nm.scaled_dot_product_attention_backward(dout, cache)
        return dq / cache[4], dk / cache[4], dv

    report = nm.gradcheck(nm.scaled_dot_product_attention, bad_backward, q, k, v, raise_on_failure=False)
    assert not report.passed


# --- fast path vs naive reference -----------------------------------------------------------
@pytest.mark.parametrize("kind", MASK_KINDS)
def test_fast_matches_naive(kind):
    rng = _rng()
    q, k, v = _qkv(rng, L=4, S=5, d=6, dv=3)
    kwargs = _masks(rng)[kind]
    out, cache = nm.scaled_dot_product_attention(q, k, v, **kwargs)
    out_n, cache_n = nm.scaled_dot_product_attention_naive(q, k, v, **kwargs)
    np.testing.assert_allclose(out, out_n, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache[3], cache_n[3], rtol=1e-12, atol=1e-13)
    dout = rng.standard_normal(out.shape)
    for g, gn in zip(nm.scaled_dot_product_attention_backward(dout, cache),
                     nm.scaled_dot_product_attention_naive_backward(dout, cache_n)):
        np.testing.assert_allclose(g, gn, rtol=1e-12, atol=1e-13)


def test_weights_are_a_distribution_and_causal_is_lower_triangular():
    rng = _rng()
    q, k, v = _qkv(rng, L=5, S=5)
    _, (*_, p, _) = nm.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=0, atol=1e-14)
    assert np.all(p >= 0) and np.all(np.triu(p[0], 1) == 0)
    np.testing.assert_array_equal(nm.causal_mask(3, 4), np.tril(np.ones((3, 4), bool)))


def test_forward_by_hand():
    """One query, two keys: scores (1·1, 1·0)/sqrt(1) -> weights (e, 1)/(e+1)."""
    out, cache = nm.scaled_dot_product_attention([[1.0]], [[1.0], [0.0]], [[10.0], [20.0]])
    w = np.array([np.e, 1.0]) / (np.e + 1.0)
    np.testing.assert_allclose(cache[3], [w], rtol=1e-15)
    np.testing.assert_allclose(out, [[w @ [10.0, 20.0]]], rtol=1e-15)


# --- fully masked rows and extreme inputs ---------------------------------------------------
@pytest.mark.parametrize("op", [SDPA, NAIVE], ids=["fast", "naive"])
@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_fully_masked_row_gives_zeros_and_zero_gradient(op, mask_kind):
    rng = _rng()
    q, k, v = _qkv(rng, batch=(), L=3, S=4)
    allowed = np.ones((3, 4), bool)
    allowed[1] = False
    mask = allowed if mask_kind == "bool" else np.where(allowed, 0.0, -np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no "invalid value" from -inf - -inf
        out, cache = op[0](q, k, v, attn_mask=mask)
        dq, dk, dv = op[1](rng.standard_normal(out.shape), cache)
    assert np.all(np.isfinite(out)) and np.all(out[1] == 0.0)
    assert np.all(cache[3][1] == 0.0) and np.all(dq[1] == 0.0)
    # the other rows are unaffected by the dead one
    ref, _ = nm.scaled_dot_product_attention(q[[0, 2]], k, v)
    np.testing.assert_allclose(out[[0, 2]], ref, rtol=1e-13)


def test_everything_masked_gives_all_zero_gradients():
    rng = _rng()
    q, k, v = _qkv(rng)
    out, cache = nm.scaled_dot_product_attention(q, k, v, attn_mask=np.zeros((4, 5), bool))
    grads = nm.scaled_dot_product_attention_backward(rng.standard_normal(out.shape), cache)
    assert np.all(out == 0) and all(np.all(g == 0) for g in grads)


def test_masked_keys_get_no_gradient():
    """A key (and value) that no query may see receives exactly zero gradient."""
    rng = _rng()
    q, k, v = _qkv(rng, batch=(), L=3, S=4)
    allowed = np.ones((3, 4), bool)
    allowed[:, 3] = False
    out, cache = nm.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    _, dk, dv = nm.scaled_dot_product_attention_backward(rng.standard_normal(out.shape), cache)
    assert np.all(dk[3] == 0) and np.all(dv[3] == 0)


def test_huge_scores_are_finite_and_pick_the_best_key():
    q = np.array([[1e4, 0.0]])
    k = np.array([[1e4, 0.0], [-1e4, 0.0], [0.0, 1e4]])
    v = np.array([[1.0], [2.0], [3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = nm.scaled_dot_product_attention(q, k, v)
        grads = nm.scaled_dot_product_attention_backward(np.ones_like(out), cache)
    np.testing.assert_allclose(out, [[1.0]])
    assert all(np.all(np.isfinite(g)) for g in grads)


# --- bad input ------------------------------------------------------------------------------
def test_mismatched_key_dim_names_both_shapes():
    rng = _rng()
    with pytest.raises(ValueError, match=r"q\.shape=\(2, 4, 3\).*k\.shape=\(2, 5, 6\)"):
        nm.scaled_dot_product_attention(rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 6)),
                                        rng.standard_normal((2, 5, 2)))


def test_keys_and_values_of_different_length():
    rng = _rng()
    with pytest.raises(ValueError, match=r"k\.shape=\(5, 3\).*v\.shape=\(4, 2\)"):
        nm.scaled_dot_product_attention(rng.standard_normal((4, 3)), rng.standard_normal((5, 3)),
                                        rng.standard_normal((4, 2)))


def test_different_batch_axes():
    rng = _rng()
    with pytest.raises(ValueError, match=r"same batch axes.*q\.shape=\(2, 4, 3\).*k\.shape=\(3, 5, 3\)"):
        nm.scaled_dot_product_attention(*_qkv(rng, batch=(2,))[:1], rng.standard_normal((3, 5, 3)),
                                        rng.standard_normal((3, 5, 2)))


@pytest.mark.parametrize("shape", [(4, 4), (5, 4), (3, 4, 5), (2, 2, 4, 5)])
def test_mask_of_wrong_shape_names_both_shapes(shape):
    rng = _rng()
    q, k, v = _qkv(rng)                                   # scores (2, 4, 5)
    with pytest.raises(ValueError, match=re.escape(f"attn_mask.shape={shape}") + r".*\(2, 4, 5\)"):
        nm.scaled_dot_product_attention(q, k, v, attn_mask=np.ones(shape, bool))


def test_mask_and_is_causal_together_is_an_error():
    rng = _rng()
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        nm.scaled_dot_product_attention(*_qkv(rng), attn_mask=np.ones((4, 5), bool), is_causal=True)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_float_mask_rejects_nan_and_plus_inf(bad):
    rng = _rng()
    mask = np.zeros((4, 5))
    mask[1, 2] = bad
    with pytest.raises(ValueError, match="float attn_mask"):
        nm.scaled_dot_product_attention(*_qkv(rng), attn_mask=mask)


def test_dout_of_wrong_shape():
    rng = _rng()
    out, cache = nm.scaled_dot_product_attention(*_qkv(rng))
    with pytest.raises(ValueError, match=r"output's shape \(2, 4, 2\).*dout\.shape=\(2, 4, 3\)"):
        nm.scaled_dot_product_attention_backward(np.ones((2, 4, 3)), cache)


# --- multi-head attention -------------------------------------------------------------------
def _mha(rng, E=8, H=2, bias=True):
    mha = nm.MultiheadAttention(E, H, bias=bias, rng=rng)
    for p in mha.parameters():                            # non-zero biases, so their gradients matter
        p.data[...] = 0.5 * rng.standard_normal(p.shape)
    return mha


@pytest.mark.parametrize("bias", [True, False])
def test_mha_gradcheck_cross_attention(bias):
    rng = _rng()
    mha = _mha(rng, bias=bias)
    q, k, v = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 4, 8))
    report = nm.gradcheck_module(mha, q, k, v, names=["query", "key", "value"])
    assert report.passed and report.max_rel_error < TOL, str(report)


@pytest.mark.parametrize("masks", ["padding", "causal", "bool_attn", "float_attn", "per_head", "both"])
def test_mha_gradcheck_with_masks(masks):
    rng = _rng()
    mha = _mha(rng)
    x = rng.standard_normal((2, 4, 8))
    kpm = np.array([[False, False, True, True], [False, False, False, False]])
    blocked = ~np.tri(4, dtype=bool)
    blocked[3] = True                                     # query 3 attends nothing: a dead row
    kwargs = {"padding": dict(key_padding_mask=kpm), "causal": dict(is_causal=True),
              "bool_attn": dict(attn_mask=blocked), "float_attn": dict(attn_mask=rng.standard_normal((4, 4))),
              "per_head": dict(attn_mask=rng.random((4, 4, 4)) > 0.6),
              "both": dict(attn_mask=blocked, key_padding_mask=kpm)}[masks]

    class Masked(nm.Module):                              # gradcheck_module passes inputs only
        def __init__(self):
            self.mha = mha

        def forward(self, q, k, v):
            return self.mha(q, k, v, **kwargs)

        def backward(self, dout):
            return self.mha.backward(dout)

    report = nm.gradcheck_module(Masked(), x, x.copy(), x.copy())
    assert report.passed and report.max_rel_error < TOL, str(report)


def test_mha_shapes_and_stored_weights():
    rng = _rng()
    mha = nm.MultiheadAttention(12, 3, rng=rng)
    out = mha(rng.standard_normal((2, 5, 12)), rng.standard_normal((2, 7, 12)), rng.standard_normal((2, 7, 12)))
    assert out.shape == (2, 5, 12) and mha.attn_weights.shape == (2, 3, 5, 7)
    np.testing.assert_allclose(mha.attn_weights.sum(-1), 1.0, atol=1e-14)
    assert mha.num_parameters() == 4 * 12 * 12 + 4 * 12
    assert nm.MultiheadAttention(12, 3, bias=False, rng=rng).num_parameters() == 4 * 12 * 12


def test_mha_unbatched_matches_batch_of_one():
    rng = _rng()
    mha = _mha(rng)
    x = rng.standard_normal((4, 8))
    out = mha(x, x, x)
    dq, dk, dv = mha.backward(np.ones_like(out))
    out1 = mha(x[None], x[None], x[None])
    dq1, _, _ = mha.backward(np.ones_like(out1))
    np.testing.assert_allclose(out, out1[0], rtol=1e-14)
    np.testing.assert_allclose(dq, dq1[0], rtol=1e-14)


def test_mha_heads_are_independent_attentions():
    """Head h is plain attention on columns h·E/H … (h+1)·E/H of the projections."""
    rng = _rng()
    mha = _mha(rng, E=8, H=2)
    x = rng.standard_normal((1, 5, 8))
    mha(x, x, x)
    W, b = mha.in_proj_weight.data, mha.in_proj_bias.data
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        q, k, v = (x @ W[:, i * 8:(i + 1) * 8][:, cols] + b[i * 8:(i + 1) * 8][cols] for i in range(3))
        _, cache = nm.scaled_dot_product_attention(q, k, v)
        np.testing.assert_allclose(mha.attn_weights[:, h], cache[3], rtol=1e-13)


def test_mha_fully_masked_query_is_finite_with_zero_input_gradient():
    rng = _rng()
    mha = _mha(rng)
    x = rng.standard_normal((1, 3, 8))
    blocked = np.zeros((3, 3), bool)
    blocked[0] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = mha(x, x, x, attn_mask=blocked)
        dq, dk, dv = mha.backward(rng.standard_normal(out.shape))
    np.testing.assert_allclose(out[0, 0], mha.out_proj.bias.data)   # zeros, then the output bias
    assert np.all(dq[0, 0] == 0)


def test_mha_bad_input():
    rng = _rng()
    with pytest.raises(ValueError, match="embed_dim=10, num_heads=3"):
        nm.MultiheadAttention(10, 3)
    mha = nm.MultiheadAttention(8, 2, rng=rng)
    x = rng.standard_normal((2, 4, 8))
    with pytest.raises(ValueError, match=r"embed_dim=8.*query\.shape=\(2, 4, 6\)"):
        mha(rng.standard_normal((2, 4, 6)), x, x)
    with pytest.raises(ValueError, match=r"query\.shape=\(2, 4, 8\), key\.shape=\(2, 5, 8\), value\.shape=\(2, 4, 8\)"):
        mha(x, rng.standard_normal((2, 5, 8)), x)
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\) = \(2, 4\).*\(4, 2\)"):
        mha(x, x, x, key_padding_mask=np.zeros((4, 2), bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(4, 4\).*\(4, 4, 4\).*\(2, 4, 4\)"):
        mha(x, x, x, attn_mask=np.zeros((2, 4, 4), bool))
    with pytest.raises(RuntimeError, match="before forward"):
        nm.MultiheadAttention(8, 2, rng=rng).backward(x)


# --- PyTorch parity -------------------------------------------------------------------------
def test_sdpa_torch_parity():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = _rng()
    q, k, v = _qkv(rng, batch=(3, 2), L=4, S=5, d=6, dv=3)
    for kind, kwargs in _masks(rng).items():
        out, cache = nm.scaled_dot_product_attention(q, k, v, **kwargs)
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        tkw = {n: torch.tensor(m) if n == "attn_mask" else m for n, m in kwargs.items()}
        tout = F.scaled_dot_product_attention(tq, tk, tv, **tkw)
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13, err_msg=kind)
        dout = rng.standard_normal(out.shape)
        tout.backward(torch.tensor(dout))
        for g, t in zip(nm.scaled_dot_product_attention_backward(dout, cache), (tq, tk, tv)):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-11, atol=1e-13, err_msg=kind)


def _torch_copy(torch, mha):
    E = mha.embed_dim
    t = torch.nn.MultiheadAttention(E, mha.num_heads, bias=mha.in_proj_bias is not None, batch_first=True,
                                    dtype=torch.float64)
    with torch.no_grad():
        t.in_proj_weight.copy_(torch.tensor(mha.in_proj_weight.data.T))     # nnmath (in, out) -> torch (out, in)
        t.out_proj.weight.copy_(torch.tensor(mha.out_proj.weight.data.T))
        if mha.in_proj_bias is not None:
            t.in_proj_bias.copy_(torch.tensor(mha.in_proj_bias.data))
            t.out_proj.bias.copy_(torch.tensor(mha.out_proj.bias.data))
    return t


@pytest.mark.parametrize("masks", ["none", "padding", "bool_attn", "float_attn", "per_head", "padding_float"])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_torch_parity(masks, bias):
    torch = pytest.importorskip("torch")
    rng = _rng()
    mha = _mha(rng, E=12, H=3, bias=bias)
    t = _torch_copy(torch, mha)
    B, L, S = 2, 4, 5
    q, k, v = rng.standard_normal((B, L, 12)), rng.standard_normal((B, S, 12)), rng.standard_normal((B, S, 12))
    kpm = np.zeros((B, S), bool)
    kpm[0, 3:] = True
    kwargs = {"none": {}, "padding": dict(key_padding_mask=kpm),
              "bool_attn": dict(attn_mask=rng.random((L, S)) > 0.7, key_padding_mask=kpm),
              "float_attn": dict(attn_mask=rng.standard_normal((L, S))),
              "per_head": dict(attn_mask=rng.random((B * 3, L, S)) > 0.7),
              "padding_float": dict(attn_mask=rng.standard_normal((L, S)),
                                    key_padding_mask=np.where(kpm, -np.inf, 0.0))}[masks]
    out = mha(q, k, v, **kwargs)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tout, tw = t(tq, tk, tv, **{n: torch.tensor(m) for n, m in kwargs.items()}, average_attn_weights=False)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(mha.attn_weights, tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    mha.zero_grad()
    for g, tx in zip(mha.backward(dout), (tq, tk, tv)):
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(mha.in_proj_weight.grad, t.in_proj_weight.grad.numpy().T, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(mha.out_proj.weight.grad, t.out_proj.weight.grad.numpy().T, rtol=1e-11, atol=1e-13)
    if bias:
        np.testing.assert_allclose(mha.in_proj_bias.grad, t.in_proj_bias.grad.numpy(), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(mha.out_proj.bias.grad, t.out_proj.bias.grad.numpy(), rtol=1e-11, atol=1e-13)


def test_mha_torch_parity_causal():
    """nnmath applies is_causal alone; PyTorch's module needs the mask too (is_causal is a hint)."""
    torch = pytest.importorskip("torch")
    rng = _rng()
    mha = _mha(rng)
    t = _torch_copy(torch, mha)
    x = rng.standard_normal((2, 5, 8))
    out = mha(x, x, x, is_causal=True)
    blocked = torch.tensor(~nm.causal_mask(5))
    tx = torch.tensor(x)
    tout, _ = t(tx, tx, tx, attn_mask=blocked, is_causal=True)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_mha_default_init_matches_torch_statistics():
    """Xavier-uniform in-projection (bound sqrt(6/(4E))), zero biases, like PyTorch's _reset_parameters."""
    mha = nm.MultiheadAttention(64, 4, rng=_rng())
    bound = np.sqrt(6.0 / (4 * 64))
    assert np.abs(mha.in_proj_weight.data).max() <= bound
    assert np.abs(mha.in_proj_weight.data).max() > 0.95 * bound
    assert np.all(mha.in_proj_bias.data == 0) and np.all(mha.out_proj.bias.data == 0)
    assert np.abs(mha.out_proj.weight.data).max() <= 1 / 8


# --- edge cases a PyTorch user hits ---------------------------------------------------------
@pytest.mark.parametrize("L,S", [(3, 5), (5, 3), (1, 4), (4, 1)])
def test_is_causal_with_l_not_s_is_top_left_aligned_as_torch(L, S, th):
    rng = _rng()
    q, k, v = _qkv(rng, batch=(2,), L=L, S=S)
    np.testing.assert_array_equal(nm.causal_mask(L, S), th.torch.ones(L, S).tril(0).bool().numpy())
    out, cache = nm.scaled_dot_product_attention(q, k, v, is_causal=True)
    tq, tk, tv = (th.T(a, grad=True) for a in (q, k, v))
    tout = th.F.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    th.close(out, tout, rtol=1e-12, atol=1e-13)
    dout = rng.standard_normal(out.shape)
    tout.backward(th.T(dout))
    for g, t in zip(nm.scaled_dot_product_attention_backward(dout, cache), (tq, tk, tv)):
        th.close(g, t.grad, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("op", [SDPA, NAIVE], ids=["fast", "naive"])
def test_zero_keys_give_zeros_as_torch(op, th):
    rng = _rng()
    q, k, v = _qkv(rng, batch=(2,), L=3, S=0, d=4, dv=2)
    out, cache = op[0](q, k, v)
    tout = th.F.scaled_dot_product_attention(th.T(q), th.T(k), th.T(v))
    assert out.shape == (2, 3, 2)
    th.close(out, tout)
    np.testing.assert_array_equal(out, 0.0)
    dq, dk, dv = op[1](rng.standard_normal(out.shape), cache)
    assert dq.shape == q.shape and dk.shape == k.shape == (2, 0, 4) and dv.shape == (2, 0, 2)
    np.testing.assert_array_equal(dq, 0.0)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_attn_mask_is_rejected_by_name(dtype):
    """PyTorch rejects integer masks; silently adding 0/1 to the scores would be wrong either way."""
    q, k, v = _qkv(_rng())
    mask = np.ones((4, 5), dtype=dtype)
    with pytest.raises(TypeError, match=r"attn_mask must be boolean or floating, got dtype=.*astype\(bool\)"):
        nm.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    mha = nm.MultiheadAttention(6, 2, rng=_rng())
    x = _rng().standard_normal((2, 5, 6))
    with pytest.raises(TypeError, match=r"attn_mask must be boolean or floating, got dtype="):
        mha(x, x, x, attn_mask=np.zeros((5, 5), dtype=dtype))
    with pytest.raises(TypeError, match=r"key_padding_mask must be boolean or floating, got dtype="):
        mha(x, x, x, key_padding_mask=np.zeros((2, 5), dtype=dtype))


def test_mha_has_no_swappable_attention():
    mha = nm.MultiheadAttention(4, 2, rng=_rng())
    assert not hasattr(mha, "_attention") and not hasattr(mha, "_attention_backward")
    x = _rng().standard_normal((1, 3, 4))
    mha(x, x, x)
    assert mha.attn_weights.shape == (1, 2, 3, 3)
