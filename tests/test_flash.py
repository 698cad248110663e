"""Blockwise (FlashAttention-style) attention equals plain attention, forward and backward."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def qkv(rng: np.random.Generator, T: int, S: int, d: int = 4, dv: int = 3, batch=(2,)):
    return (rng.standard_normal(batch + (T, d)), rng.standard_normal(batch + (S, d)),
            rng.standard_normal(batch + (S, dv)))


@pytest.mark.parametrize("T,S", [(7, 7), (5, 9), (9, 5)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block", [1, 3, 7, 16])
def test_equals_plain_attention_forward_and_backward(rng, T, S, causal, block) -> None:
    q, k, v = qkv(rng, T, S)
    ref, ref_cache = nm.scaled_dot_product_attention(q, k, v, is_causal=causal)
    out, cache = nm.blockwise_attention(q, k, v, block, is_causal=causal)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for g, g_ref in zip(nm.blockwise_attention_backward(dout, cache),
                        nm.scaled_dot_product_attention_backward(dout, ref_cache)):
        np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-12)


def test_saved_state_is_linear_in_length(rng) -> None:
    q, k, v = qkv(rng, 12, 12)
    _, cache = nm.blockwise_attention(q, k, v, 4)
    assert cache.lse.shape == (2, 12)                      # one number per query row
    p = np.exp((q @ np.swapaxes(k, -1, -2)) / 2 - cache.lse[..., None])
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-13)  # lse rebuilds the softmax exactly


@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_random_upstream(rng, causal) -> None:
    q, k, v = qkv(rng, 5, 6)
    report = nm.gradcheck(lambda a, b, c: nm.blockwise_attention(a, b, c, 2, is_causal=causal),
                          nm.blockwise_attention_backward, q, k, v)
    assert report.max_rel_error < 1e-7


def test_large_scores_stay_finite_without_warnings(rng) -> None:
    q, k, v = qkv(rng, 6, 6)
    out, cache = nm.blockwise_attention(1e3 * q, 1e3 * k, v, 2)
    ref, _ = nm.scaled_dot_product_attention(1e3 * q, 1e3 * k, v)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(cache.lse))
    np.testing.assert_allclose(out, ref, atol=1e-10)


def test_no_keys_gives_zeros(rng) -> None:
    q, k, v = qkv(rng, 3, 0)
    out, cache = nm.blockwise_attention(q, k, v, 2)
    assert out.shape == (2, 3, 3) and not out.any()
    dq, dk, dv = nm.blockwise_attention_backward(np.ones_like(out), cache)
    assert not dq.any() and dk.shape == k.shape and dv.shape == v.shape


@pytest.mark.parametrize("bad, message", [(0, "block_size"), (2.5, "block_size"), (True, "block_size")])
def test_bad_block_size(rng, bad, message) -> None:
    q, k, v = qkv(rng, 3, 3)
    with pytest.raises(ValueError, match=message):
        nm.blockwise_attention(q, k, v, bad)


def test_bad_shapes_name_the_arrays(rng) -> None:
    q, k, v = qkv(rng, 3, 4)
    with pytest.raises(ValueError, match="same last dimension d_k"):
        nm.blockwise_attention(q, k[..., :2], v, 2)
    with pytest.raises(ValueError, match="same length S"):
        nm.blockwise_attention(q, k, v[..., :3, :], 2)
    _, cache = nm.blockwise_attention(q, k, v, 2)
    with pytest.raises(ValueError, match="dout must have the output's shape"):
        nm.blockwise_attention_backward(np.ones((2, 3, 1)), cache)
