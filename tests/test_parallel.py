"""Intra-op parallelism over the batch (``nnmath/_parallel.py``): the threaded convolution gives the
serial results, BLAS's thread setting is restored, and small or single-threaded calls stay serial."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import nnmath as nm
from nnmath import _parallel

SHAPES = [  # (N, C_in, H, W, C_out, k, stride, padding): both col2im paths, stride 2, odd N
    (7, 3, 12, 12, 5, 5, 1, 2),
    (6, 9, 10, 10, 4, 3, 2, 1),
]


def _conv_fb(x, w, b, s, p, dout):
    out, cache = nm.conv2d(x, w, b, s, p)
    return (out, *nm.conv2d_backward(dout, cache))


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of chunks of every over_batch call (threads seen by fn)."""
    seen: list[int] = []
    real = _parallel._chunks

    def chunks(n: int, parts: int) -> list[slice]:
        seen.append(parts)
        return real(n, parts)

    monkeypatch.setattr(_parallel, "_chunks", chunks)
    return seen


@pytest.mark.parametrize("shape", SHAPES)
def test_threaded_conv_equals_serial(shape, rng, monkeypatch) -> None:
    N, C, H, W, O, k, s, p = shape
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((O, C, k, k)), rng.standard_normal(O)
    dout = rng.standard_normal(nm.conv2d(x, w, b, s, p)[0].shape)
    with threadpool_limits(1):
        serial = _conv_fb(x, w, b, s, p, dout)
    seen = _spy(monkeypatch)
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 3)   # force the threaded path
    monkeypatch.setattr(_parallel.over_batch, "__defaults__", (0,))   # min_work = 0
    threaded = _conv_fb(x, w, b, s, p, dout)
    assert seen == [3, 3], "forward and backward each ran as three chunks"
    for name, a, b_ in zip(["out", "dx", "dweight", "dbias"], serial, threaded):
        np.testing.assert_allclose(b_, a, rtol=1e-13, atol=1e-13, err_msg=name)
    # out, dx and dbias are per-sample or reduced the same way: bit-identical
    for a, b_ in zip(serial[:2], threaded[:2]):
        np.testing.assert_array_equal(b_, a)


def test_real_threads_restore_blas_setting(rng) -> None:
    x, w = rng.standard_normal((8, 16, 16, 16)), rng.standard_normal((16, 16, 3, 3))
    with threadpool_limits(1):
        out1, cache1 = nm.conv2d(x, w, padding=1)
        ref = nm.conv2d_backward(out1, cache1)
    with threadpool_limits(2):
        assert _parallel.blas_threads() == 2
        out2, cache2 = nm.conv2d(x, w, padding=1)
        got = nm.conv2d_backward(out2, cache2)
        assert _parallel.blas_threads() == 2, "BLAS's thread count is restored after the region"
    np.testing.assert_array_equal(out2, out1)
    for a, b in zip(ref[:2], got[:2]):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-12)


def test_small_or_single_thread_calls_are_serial(rng, monkeypatch) -> None:
    seen = _spy(monkeypatch)
    x, w = rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    with threadpool_limits(2):
        nm.conv2d(x, w)              # 4*3*18*16 multiply-adds: far below min_work
    with threadpool_limits(1):
        nm.conv2d(rng.standard_normal((32, 16, 32, 32)), rng.standard_normal((32, 16, 3, 3)))
    assert seen == []


def test_chunks_cover_the_batch_in_order() -> None:
    for n in range(1, 12):
        for parts in range(1, n + 1):
            chunks = _parallel._chunks(n, parts)
            assert [i for c in chunks for i in range(c.start, c.stop)] == list(range(n))
            assert max(c.stop - c.start for c in chunks) - min(c.stop - c.start for c in chunks) <= 1


def test_nested_or_concurrent_region_runs_serially(monkeypatch) -> None:
    """A second region while one is running (another thread, or nesting) does not touch BLAS."""
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)
    inner: list[int] = []

    def outer(n: slice) -> int:
        inner.append(len(_parallel.over_batch(lambda m: m.stop - m.start, 4, work=10**9)))
        return threading.get_ident()

    idents = _parallel.over_batch(outer, 4, work=10**9)
    assert len(idents) == 2 and inner == [1, 1]
