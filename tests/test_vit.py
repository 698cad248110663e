"""The Vision Transformer: patches, patch embedding, gradchecks of a tiny model, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --- patchify ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, p", [((2, 1, 8, 8), 4), ((2, 3, 6, 4), 2), ((1, 2, 5, 5), 1), ((3, 1, 4, 4), 4)])
def test_patchify_matches_naive_and_inverts(shape, p):
    x = _rng().standard_normal(shape)
    out, cache = nm.patchify(x, p)
    np.testing.assert_array_equal(out, nm.patchify_naive(x, p))
    assert out.shape == (shape[0], shape[2] * shape[3] // p**2, shape[1] * p * p)
    # a permutation: the backward of the output itself gives the input back
    np.testing.assert_array_equal(nm.patchify_backward(out, cache), x)


def test_patchify_gradcheck():
    report = nm.gradcheck(nm.patchify, nm.patchify_backward, _rng().standard_normal((2, 2, 4, 6)), patch_size=2)
    assert report.passed and report.max_rel_error < 1e-9


def test_patchify_errors():
    with pytest.raises(ValueError, match=r"patch_size=3 must divide.*x.shape=\(1, 1, 8, 8\)"):
        nm.patchify(np.zeros((1, 1, 8, 8)), 3)
    with pytest.raises(ValueError, match=r"4-D.*got shape \(8, 8\)"):
        nm.patchify(np.zeros((8, 8)), 2)
    _, cache = nm.patchify(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"\(1, 4, 4\).*dout.shape=\(1, 4, 3\)"):
        nm.patchify_backward(np.zeros((1, 4, 3)), cache)


# --- patch embedding = a convolution with kernel = stride = P --------------------------------------
def test_patch_embedding_is_a_strided_convolution():
    rng = _rng()
    C, D, P = 2, 5, 2
    emb = nm.PatchEmbedding(C, D, P, rng=rng)
    x = rng.standard_normal((3, C, 6, 4))
    weight = emb.proj.weight.data.T.reshape(D, C, P, P)          # (in, out) -> Conv2d's (out, in, kH, kW)
    y_conv, conv_cache = nm.conv2d(x, weight, emb.proj.bias.data, stride=P)
    tokens = emb(x)
    np.testing.assert_allclose(tokens, y_conv.reshape(3, D, -1).transpose(0, 2, 1), rtol=1e-13, atol=1e-14)
    dout = rng.standard_normal(tokens.shape)
    dx = emb.backward(dout)
    dx_c, dw_c, db_c = nm.conv2d_backward(dout.transpose(0, 2, 1).reshape(y_conv.shape), conv_cache)
    np.testing.assert_allclose(dx, dx_c, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(emb.proj.weight.grad.T.reshape(D, C, P, P), dw_c, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(emb.proj.bias.grad, db_c, rtol=1e-13, atol=1e-14)


def test_patch_embedding_gradcheck_and_errors():
    rng = _rng()
    emb = nm.PatchEmbedding(2, 3, 2, rng=rng)
    report = nm.gradcheck_module(emb, rng.standard_normal((2, 2, 4, 4)))
    assert report.passed and report.max_rel_error < 1e-8
    with pytest.raises(ValueError, match=r"3 channels.*in_channels=2"):
        emb(np.zeros((1, 3, 4, 4)))


# --- the whole model -------------------------------------------------------------------------------
def tiny_vit(pool: str = "cls", rng: np.random.Generator | None = None) -> nm.VisionTransformer:
    return nm.VisionTransformer(image_size=4, patch_size=2, num_layers=2, num_heads=2, hidden_dim=4, mlp_dim=6,
                                num_classes=3, pool=pool, rng=rng or _rng())


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_gradcheck(pool):
    rng = _rng()
    model = tiny_vit(pool, rng)
    # a non-zero class token and larger position embeddings, so that their gradients are exercised
    model.class_token.data[...] = rng.standard_normal(model.class_token.shape)
    model.pos_embedding.data[...] = rng.standard_normal(model.pos_embedding.shape)
    report = nm.gradcheck_module(model, rng.standard_normal((2, 1, 4, 4)))
    assert report.passed and report.max_rel_error < 1e-7
    names = [c.name for c in report.checks]
    assert "class_token" in names and "pos_embedding" in names and "encoder_layers.1.linear2.weight" in names


def test_vit_shapes_parameters_and_errors():
    model = nm.VisionTransformer(8, 4, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64, rng=_rng())
    assert model.seq_length == 5
    assert model(np.zeros((3, 1, 8, 8))).shape == (3, 10)
    # patch embedding + class token + positions + 2 encoder layers + final LN + head
    d, m = 32, 64
    layer = 3 * d * d + 3 * d + d * d + d + d * m + m + m * d + d + 4 * d
    assert model.num_parameters() == (16 * d + d) + d + 5 * d + 2 * layer + 2 * d + (d * 10 + 10)
    assert np.all(model.class_token.data == 0) and 0.01 < model.pos_embedding.data.std() < 0.04
    with pytest.raises(ValueError, match=r"8x8 images, got x.shape=\(3, 1, 6, 6\)"):
        model(np.zeros((3, 1, 6, 6)))
    with pytest.raises(ValueError, match="patch_size=3 must divide image_size=8"):
        nm.VisionTransformer(8, 3, 1, 1, 4, 4)
    with pytest.raises(ValueError, match="pool"):
        nm.VisionTransformer(8, 4, 1, 1, 4, 4, pool="max")


def test_vit_gradients_accumulate():
    rng = _rng()
    model = tiny_vit(rng=rng)
    x, dout = rng.standard_normal((2, 1, 4, 4)), rng.standard_normal((2, 3))
    model(x)
    model.backward(dout)
    first = [p.grad.copy() for p in model.parameters()]
    model(x)
    model.backward(dout)
    for p, g in zip(model.parameters(), first):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_torch_parity(pool):
    """The same model written with torch modules (TransformerEncoderLayer, LayerNorm, F.conv2d)."""
    torch = pytest.importorskip("torch")
    rng = _rng()
    model = tiny_vit(pool, rng)
    model.class_token.data[...] = rng.standard_normal(model.class_token.shape)
    x = rng.standard_normal((3, 1, 4, 4))
    out = model(x)
    dout = rng.standard_normal(out.shape)
    model.backward(dout)

    T = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    D, P = model.hidden_dim, model.patch_size
    tw, tb = T(model.patch_embed.proj.weight.data.T.reshape(D, 1, P, P)), T(model.patch_embed.proj.bias.data)
    tcls, tpos = T(model.class_token.data), T(model.pos_embedding.data)
    tlayers = []
    for layer in model.encoder_layers:
        t = torch.nn.TransformerEncoderLayer(D, 2, 6, dropout=0.0, activation="gelu", layer_norm_eps=1e-6,
                                             norm_first=True, batch_first=True, dtype=torch.float64)
        t.load_state_dict({n: torch.tensor(p.data.T if p.data.ndim == 2 else p.data)
                           for n, p in layer.named_parameters()})
        tlayers.append(t)
    tln = torch.nn.LayerNorm(D, eps=1e-6, dtype=torch.float64)   # torchvision's eps, in every LayerNorm
    thead = torch.nn.Linear(D, 3, dtype=torch.float64)
    with torch.no_grad():
        thead.weight.copy_(torch.tensor(model.heads.weight.data.T))
        thead.bias.copy_(torch.tensor(model.heads.bias.data))

    tx = T(x)
    tokens = torch.nn.functional.conv2d(tx, tw, tb, stride=P).flatten(2).transpose(1, 2)
    h = torch.cat([tcls.expand(len(x), -1, -1), tokens], dim=1) + tpos
    for t in tlayers:
        h = t(h)
    h = tln(h)
    tout = thead(h[:, 0] if pool == "cls" else h.mean(dim=1))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    tout.backward(torch.tensor(dout))
    tol = dict(rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(model.class_token.grad, tcls.grad.numpy(), **tol)
    np.testing.assert_allclose(model.pos_embedding.grad, tpos.grad.numpy(), **tol)
    np.testing.assert_allclose(model.patch_embed.proj.weight.grad.T.reshape(D, 1, P, P), tw.grad.numpy(), **tol)
    np.testing.assert_allclose(model.heads.weight.grad, thead.weight.grad.numpy().T, **tol)
    for layer, t in zip(model.encoder_layers, tlayers):
        for name, p in layer.named_parameters():
            g = t.get_parameter(name).grad.numpy()
            np.testing.assert_allclose(p.grad, g.T if g.ndim == 2 else g, err_msg=name, **tol)
    model.zero_grad()
    np.testing.assert_allclose(model.backward(dout), tx.grad.numpy(), **tol)


def test_every_layer_norm_has_torchvisions_eps():
    vit = nm.VisionTransformer(8, 4, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=16, rng=_rng())
    eps = [m.eps for m in vit.modules() if isinstance(m, nm.LayerNorm)]
    assert len(eps) == 2 * 2 + 1 and set(eps) == {1e-6}
