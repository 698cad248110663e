"""The decoder-only language model: cache = recomputation, derived backward = finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def tiny(positional="rope", tie=True, seed=0):
    return nm.DecoderLM(vocab_size=11, d_model=8, n_heads=2, n_layers=2, d_ff=12, max_len=16,
                        positional=positional, tie_weights=tie, rng=np.random.default_rng(seed))


def loss_and_grads(model, tokens, dlogits):
    model.zero_grad()
    logits = model(tokens)
    model.backward(dlogits)
    return float(np.sum(logits * dlogits))


@pytest.mark.parametrize("positional", ["rope", "learned", "sinusoidal", "none"])
@pytest.mark.parametrize("tie", [True, False])
def test_backward_matches_central_differences(rng, positional, tie) -> None:
    model = tiny(positional, tie)
    tokens = rng.integers(0, 11, size=(2, 6))
    dlogits = rng.standard_normal((2, 6, 11))
    loss_and_grads(model, tokens, dlogits)
    h = 1e-6
    for name, p in model.named_parameters():
        analytic = p.grad.copy()
        idx = [tuple(rng.integers(0, s) for s in p.data.shape) for _ in range(3)]
        for i in idx:
            old = p.data[i]
            p.data[i] = old + h
            up = float(np.sum(model(tokens) * dlogits))
            p.data[i] = old - h
            down = float(np.sum(model(tokens) * dlogits))
            p.data[i] = old
            numeric = (up - down) / (2 * h)
            assert abs(analytic[i] - numeric) <= 1e-6 + 1e-5 * abs(numeric), (name, i)


@pytest.mark.parametrize("positional", ["rope", "learned", "sinusoidal"])
def test_generation_with_cache_equals_recomputation(rng, positional) -> None:
    model = tiny(positional)
    prompt = rng.integers(0, 11, size=(3, 4))
    with_cache, logits_cache = model.generate(prompt, 8, use_cache=True)
    without, logits_full = model.generate(prompt, 8, use_cache=False)
    assert np.array_equal(with_cache, without)
    for a, b in zip(logits_cache, logits_full):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_cache_holds_two_numbers_per_layer_position_and_width(rng) -> None:
    model = tiny()
    cache = nm.KVCache()
    model(rng.integers(0, 11, size=(1, 5)), cache)
    model(rng.integers(0, 11, size=(1, 1)), cache)
    assert cache.length == 6 and cache.numbers_held() == 2 * 2 * 1 * 6 * 8


def test_causality_future_tokens_do_not_change_earlier_logits(rng) -> None:
    model = tiny()
    a = rng.integers(0, 11, size=(1, 7))
    b = a.copy()
    b[0, 4:] = (b[0, 4:] + 3) % 11
    np.testing.assert_allclose(model(a)[:, :4], model(b)[:, :4], atol=1e-14)


def test_swiglu_and_silu_match_torch(rng) -> None:
    torch = pytest.importorskip("torch")
    ff = nm.SwiGLU(6, 10, rng=rng)
    x = rng.standard_normal((4, 6))
    dout = rng.standard_normal((4, 6))
    out = ff(x)
    dx = ff.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    w1, w2, w3 = (torch.tensor(m.weight.data, requires_grad=True) for m in (ff.w1, ff.w2, ff.w3))
    yt = (torch.nn.functional.silu(xt @ w1) * (xt @ w3)) @ w2
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    for m, wt in zip((ff.w1, ff.w2, ff.w3), (w1, w2, w3)):
        np.testing.assert_allclose(m.weight.grad, wt.grad.numpy(), atol=1e-12)


def test_silu_gradcheck_and_extremes(rng) -> None:
    x = rng.standard_normal((3, 4)) * 4
    assert nm.gradcheck(nm.silu, nm.silu_backward, x).max_rel_error < 1e-7
    out, cache = nm.silu(np.array([-1e4, 1e4]))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(nm.silu_backward(np.ones(2), cache)))


def test_attention_matches_torch_with_rope(rng) -> None:
    torch = pytest.importorskip("torch")
    attn = nm.CausalSelfAttention(8, 2, rope=True, rng=rng)
    x = rng.standard_normal((2, 5, 8))
    out = attn(x)
    W = torch.tensor(attn.qkv.weight.data)            # (d, 3d), applied as x W
    P = torch.tensor(attn.proj.weight.data)
    q, k, v = (torch.tensor(x) @ W).split(8, dim=-1)
    heads = lambda t: t.reshape(2, 5, 2, 4).transpose(1, 2)  # noqa: E731
    q, k, v = heads(q), heads(k), heads(v)
    ang = torch.arange(5, dtype=torch.float64)[:, None] * 10000.0 ** (-torch.arange(0, 4, 2) / 4)
    cos, sin = torch.cos(ang), torch.sin(ang)

    def rot(t):
        a, b = t[..., 0::2], t[..., 1::2]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)

    o = torch.nn.functional.scaled_dot_product_attention(rot(q), rot(k), v, is_causal=True)
    ref = o.transpose(1, 2).reshape(2, 5, 8) @ P
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-13)


def test_bad_inputs() -> None:
    model = tiny("learned")
    with pytest.raises(TypeError, match="integer array of shape"):
        model(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="exceed max_len"):
        model(np.zeros((1, 17), dtype=int))
    with pytest.raises(ValueError, match="positional must be"):
        nm.DecoderLM(5, 8, 2, 1, positional="alibi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must split into"):
        nm.CausalSelfAttention(6, 4)
