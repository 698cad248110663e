"""Property-based test over the public functional ops: random valid shapes and random invalid
ones must give a correct result or a clear ``ValueError``/``TypeError`` that names the argument
— never a NumPy-internal message, never a NaN from finite input.

Each op has a generator of arguments with small random sizes; half of the draws then break one
argument (a dimension changed, an axis added or removed). On success the output and the backward's
gradients must be finite and shaped like their inputs, and where nnmath has a naive reference the
fast path must match it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnmath as nm

# Messages that come from NumPy's internals rather than from nnmath's checks.
NUMPY_INTERNAL = re.compile(
    r"operands could not be broadcast|matmul: Input operand|zero-size array|is out of bounds for array|"
    r"cannot reshape array|shapes .* not aligned|setting an array element|index .* is out of bounds|"
    r"too many indices|object arrays are not supported|non-broadcastable output|must have same number of "
    r"dimensions|all the input array dimensions|Cannot cast ufunc")


def _dims(draw: Callable[..., Any], n: int, lo: int = 1, hi: int = 4) -> list[int]:
    return [draw(st.integers(lo, hi)) for _ in range(n)]


def _elementwise(op: Callable[..., Any]) -> Callable[..., Any]:
    def make(draw: Callable[..., Any], rng: np.random.Generator) -> tuple[tuple, dict]:
        shape = tuple(_dims(draw, draw(st.integers(1, 3)), 0, 4))
        return (3 * rng.standard_normal(shape),), {}
    return make


def make_linear(draw, rng):
    n, i, o = _dims(draw, 3)
    b = rng.standard_normal(o) if draw(st.booleans()) else None
    return (rng.standard_normal((n, i)), rng.standard_normal((i, o)), b), {}


def make_conv(draw, rng):
    n, c, o, k = _dims(draw, 4, 1, 3)
    h, w = _dims(draw, 2, k, k + 3)
    b = rng.standard_normal(o) if draw(st.booleans()) else None
    kw = dict(stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 1)), dilation=draw(st.integers(1, 2)))
    return (rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k)), b), kw


def make_pool(draw, rng):
    n, c, k = _dims(draw, 3, 1, 3)
    h, w = _dims(draw, 2, k, k + 3)
    return (rng.standard_normal((n, c, h, w)),), dict(kernel_size=k, padding=draw(st.integers(0, k // 2)))


def make_batch_norm(draw, rng):
    n, c = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    shape = (n, c) + tuple(_dims(draw, draw(st.integers(0, 2))))
    return (rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)), {}


def make_layer_norm(draw, rng):
    shape = tuple(_dims(draw, draw(st.integers(1, 3))))
    return (rng.standard_normal(shape), rng.standard_normal(shape[-1:]), rng.standard_normal(shape[-1:])), {}


def make_sdpa(draw, rng):
    b, L, S, d, dv = draw(st.integers(1, 2)), *_dims(draw, 2, 1, 4), *_dims(draw, 2)
    kw: dict[str, Any] = {}
    choice = draw(st.sampled_from(["none", "causal", "bool", "float"]))
    if choice == "causal":
        kw["is_causal"] = True
    elif choice == "bool":
        kw["attn_mask"] = rng.random((L, S)) > 0.3
    elif choice == "float":
        kw["attn_mask"] = rng.standard_normal((L, S))
    return (rng.standard_normal((b, L, d)), rng.standard_normal((b, S, d)), rng.standard_normal((b, S, dv))), kw


def _loss(op: Callable[..., Any], kind: str) -> Callable[..., Any]:
    def make(draw, rng):
        n, c = draw(st.integers(0, 4)), draw(st.integers(1, 4))
        z = 3 * rng.standard_normal((n, c))
        target = {"values": rng.standard_normal((n, c)), "probs": rng.random((n, c)),
                  "classes": rng.integers(0, c, size=n)}[kind]
        return (z,), dict(target=target, reduction=draw(st.sampled_from(["mean", "sum", "none"])))
    return make


def make_patchify(draw, rng):
    n, c, p = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = p * draw(st.integers(1, 3)), p * draw(st.integers(1, 3))
    return (rng.standard_normal((n, c, h, w)),), dict(patch_size=p)


def make_embedding(draw, rng):
    v, d = _dims(draw, 2)
    idx = rng.integers(0, v, size=tuple(_dims(draw, draw(st.integers(1, 2)), 0, 3)))
    return (rng.standard_normal((v, d)),), dict(indices=idx)


def make_image_kernel(draw, rng):
    kh, kw = _dims(draw, 2, 1, 3)
    h, w = _dims(draw, 2, max(kh, kw), 6)
    return (rng.standard_normal((h, w)), rng.standard_normal((kh, kw))), dict(mode=draw(st.sampled_from(["valid", "full", "same"])))


def make_im2col(draw, rng):
    n, c, k = _dims(draw, 3, 1, 3)
    h, w = _dims(draw, 2, k, k + 3)
    return (rng.standard_normal((n, c, h, w)),), dict(kernel_size=k, padding=draw(st.integers(0, 1)),
                                                       stride=draw(st.integers(1, 2)))


def make_rms_norm(draw, rng):
    shape = tuple(_dims(draw, draw(st.integers(1, 3))))
    return (rng.standard_normal(shape), rng.standard_normal(shape[-1:]) if draw(st.booleans()) else None), {}


def make_rope(draw, rng):
    b, t, half = draw(st.integers(1, 2)), *_dims(draw, 2)
    return (rng.standard_normal((b, t, 2 * half)),), dict(pairing=draw(st.sampled_from(["interleaved", "half"])))


def make_dropout(draw, rng):
    shape = tuple(_dims(draw, draw(st.integers(1, 3)), 0, 4))
    return (rng.standard_normal(shape),), dict(p=draw(st.sampled_from([0.0, 0.3, 0.5, 1.0])), rng=rng)


def make_blockwise(draw, rng):
    b, t, s, d, dv = draw(st.integers(1, 2)), *_dims(draw, 2, 1, 5), *_dims(draw, 2)
    return ((rng.standard_normal((b, t, d)), rng.standard_normal((b, s, d)), rng.standard_normal((b, s, dv))),
            dict(block_size=draw(st.integers(1, 3)), is_causal=draw(st.booleans())))


def sdpa_as_blockwise(q, k, v, block_size, is_causal=False):
    """The reference for blockwise attention: plain attention (the tiles change nothing)."""
    return nm.scaled_dot_product_attention(q, k, v, is_causal=is_causal)


def make_ensemble_linear(draw, rng):
    e, n, i, o = _dims(draw, 4)
    x = rng.standard_normal((n, i) if draw(st.booleans()) else (e, n, i))
    b = rng.standard_normal((e, o)) if draw(st.booleans()) else None
    return (x, rng.standard_normal((e, i, o)), b), {}


def _cell(gates: int, lstm: bool = False) -> Callable[..., Any]:
    def make(draw, rng):
        n, i, h = _dims(draw, 3)
        state = tuple(rng.standard_normal((n, h)) for _ in range(2 if lstm else 1))
        bias = draw(st.booleans())
        biases = tuple(rng.standard_normal(gates * h) if bias else None for _ in range(2))
        return ((rng.standard_normal((n, i)), *state, rng.standard_normal((gates * h, i)),
                 rng.standard_normal((gates * h, h)), *biases), {})
    return make


def lstm_cell_backward(dout, cache):
    """The LSTM cell's upstream gradient is the pair (dh, dc); the test draws it as one array."""
    return nm.lstm_cell_backward((dout[0], dout[1]), cache)


def make_rnn(draw, rng):
    shape = tuple(_dims(draw, draw(st.integers(0, 2))))
    return (rng.standard_normal(shape), rng.standard_normal(shape)), dict(steps=draw(st.integers(1, 5)))


OPS: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None, Callable[..., Any], Callable[..., Any] | None]] = {
    "embedding": (lambda w, indices: nm.embedding(indices, w), nm.embedding_backward, make_embedding, None),
    "correlate2d": (nm.correlate2d, None, make_image_kernel, None),
    "convolve2d": (nm.convolve2d, None, make_image_kernel, None),
    "im2col": (nm.im2col, None, make_im2col, None),
    "one_unit_rnn": (nm.one_unit_rnn, nm.one_unit_rnn_backward, make_rnn, None),
    "sigmoid": (nm.sigmoid, nm.sigmoid_backward, _elementwise(nm.sigmoid), None),
    "tanh": (nm.tanh, nm.tanh_backward, _elementwise(nm.tanh), None),
    "relu": (nm.relu, nm.relu_backward, _elementwise(nm.relu), None),
    "leaky_relu": (nm.leaky_relu, nm.leaky_relu_backward, _elementwise(nm.leaky_relu), None),
    "gelu": (nm.gelu, nm.gelu_backward, _elementwise(nm.gelu), None),
    "softmax": (nm.softmax, nm.softmax_backward, _elementwise(nm.softmax), None),
    "log_softmax": (nm.log_softmax, nm.log_softmax_backward, _elementwise(nm.log_softmax), None),
    "linear": (nm.linear, nm.linear_backward, make_linear, None),
    "conv2d": (nm.conv2d, nm.conv2d_backward, make_conv, nm.conv2d_naive),
    "max_pool2d": (nm.max_pool2d, nm.max_pool2d_backward, make_pool, None),
    "avg_pool2d": (nm.avg_pool2d, nm.avg_pool2d_backward, make_pool, None),
    "batch_norm": (nm.batch_norm, nm.batch_norm_backward, make_batch_norm, None),
    "layer_norm": (nm.layer_norm, nm.layer_norm_backward, make_layer_norm, None),
    "sdpa": (nm.scaled_dot_product_attention, nm.scaled_dot_product_attention_backward, make_sdpa,
             nm.scaled_dot_product_attention_naive),
    "mse_loss": (nm.mse_loss, nm.mse_loss_backward, _loss(nm.mse_loss, "values"), None),
    "bce_with_logits": (nm.binary_cross_entropy_with_logits, nm.binary_cross_entropy_with_logits_backward,
                        _loss(nm.binary_cross_entropy_with_logits, "probs"), None),
    "cross_entropy": (nm.cross_entropy, nm.cross_entropy_backward, _loss(nm.cross_entropy, "classes"), None),
    "patchify": (nm.patchify, nm.patchify_backward, make_patchify, nm.patchify_naive),
    "silu": (nm.silu, nm.silu_backward, _elementwise(nm.silu), None),
    "rms_norm": (nm.rms_norm, nm.rms_norm_backward, make_rms_norm, None),
    "rope": (nm.rope, nm.rope_backward, make_rope, None),
    "dropout": (nm.dropout, nm.dropout_backward, make_dropout, None),
    "blockwise_attention": (nm.blockwise_attention, nm.blockwise_attention_backward, make_blockwise,
                            sdpa_as_blockwise),
    "ensemble_linear": (nm.ensemble_linear, nm.ensemble_linear_backward, make_ensemble_linear, None),
    "rnn_cell": (nm.rnn_cell, nm.rnn_cell_backward, _cell(1), None),
    "gru_cell": (nm.gru_cell, nm.gru_cell_backward, _cell(3), None),
    "lstm_cell": (nm.lstm_cell, lstm_cell_backward, _cell(4, lstm=True), None),
}


def _public_pairs() -> set[str]:
    """Every public ``op`` of nnmath that has an ``op_backward``."""
    fns = {n for n in dir(nm) if not n.startswith("_") and inspect.isfunction(getattr(nm, n))}
    return {n[:-len("_backward")] for n in fns if n.endswith("_backward") and n[:-len("_backward")] in fns}


def test_every_public_forward_backward_pair_is_in_the_property_test():
    # an op counts as covered under its name, its function's name, or as a fast path's reference
    covered = set(OPS) | {getattr(f, "__name__", "") for op, _, _, naive in OPS.values() for f in (op, naive)}
    assert _public_pairs() - covered == set(), "add these ops to OPS"


def _break(draw, rng, args: tuple) -> tuple:
    """Change one array argument: one axis one longer or shorter, or an axis added or removed."""
    slots = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    i = draw(st.sampled_from(slots))
    shape = list(args[i].shape)
    how = draw(st.sampled_from(["grow", "shrink", "add_axis", "drop_axis"]))
    if how in ("grow", "shrink") and shape:
        ax = draw(st.integers(0, len(shape) - 1))
        shape[ax] = max(0, shape[ax] + (1 if how == "grow" else -1))
    elif how == "add_axis" or not shape:
        shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(1, 3)))
    else:
        shape.pop(draw(st.integers(0, len(shape) - 1)))
    return args[:i] + (rng.standard_normal(shape),) + args[i + 1:]


def _clear(err: Exception) -> None:
    msg = str(err)
    assert not NUMPY_INTERNAL.search(msg), f"NumPy-internal message: {type(err).__name__}: {msg}"
    assert re.search(r"shape|dtype|must|expected|need|got", msg), f"message names nothing: {msg}"


@pytest.mark.parametrize("name", list(OPS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), broken=st.booleans(), seed=st.integers(0, 2**16))
def test_public_ops_give_a_correct_result_or_a_clear_error(name, data, broken, seed):
    op, op_backward, make, naive = OPS[name]
    rng = np.random.default_rng(seed)
    args, kw = make(data.draw, rng)
    if broken:
        args = _break(data.draw, rng, args)
    try:
        result = op(*args, **kw)
    except (ValueError, TypeError) as err:
        _clear(err)
        return
    out, cache = (result, None) if op_backward is None else result
    if isinstance(cache, tuple):
        assert hasattr(cache, "_fields"), f"{name}: a cache of several fields must be a NamedTuple"
    out = np.asarray(out)
    assert np.all(np.isfinite(out)), f"{name}: non-finite output from finite input"
    if op_backward is None:
        return
    if naive is not None and not broken:
        np.testing.assert_allclose(out, naive(*args, **kw)[0] if name != "patchify" else naive(*args, **kw),
                                   rtol=1e-12, atol=1e-12)
    grads = op_backward(rng.standard_normal(out.shape), cache)
    grads = [grads] if isinstance(grads, (np.ndarray, np.generic)) else list(grads)
    for a, g in zip([a for a in args if a is None or isinstance(a, np.ndarray)], grads):
        if a is None:
            assert g is None
        else:
            assert np.shape(g) == a.shape and np.all(np.isfinite(g)), f"{name}: bad gradient"
