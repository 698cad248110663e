"""Intra-op parallelism over the batch: what PyTorch's CPU kernels do with ``at::parallel_for``.

A convolution's samples are independent, so the batch can be cut into one chunk per thread and
each chunk run on its own thread, start to finish (im2col, matrix product, col2im). NumPy's copies,
ufuncs and BLAS calls release the GIL, so the chunks really do run at the same time. BLAS itself is
told to use **one** thread while the chunks run — otherwise every chunk's small matrix products
would each try to use every core — and its setting is restored afterwards.

The number of threads is BLAS's own setting (``OPENBLAS_NUM_THREADS``, ``threadpoolctl``), so one
knob governs both kinds of parallelism, as ``torch.set_num_threads`` does for PyTorch. With one BLAS
thread — the book's build runs that way — :func:`over_batch` is a plain loop over a single chunk,
and results are bit-identical to the serial code. With more, a parameter gradient is the sum of the
chunks' partial sums, which can differ from the serial sum in the last bit.

Small problems stay serial: below ``min_work`` multiply-adds, starting threads costs more than it
saves (``benchmarks/conv.py`` measures where).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["blas_threads", "over_batch"]

T = TypeVar("T")

_lock = threading.Lock()          # one parallel region at a time: BLAS's setting is process-wide
_pool: ThreadPoolExecutor | None = None
_blas: list[Any] | None = None    # threadpoolctl's controllers of the loaded BLAS libraries


def _blas_controllers() -> list[Any]:
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:       # pragma: no cover - threadpoolctl is a dependency
            _blas = []
        else:
            _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas


def blas_threads() -> int:
    """The number of threads BLAS is set to use now (1 if no BLAS library can be queried)."""
    return max((lib.get_num_threads() or 1 for lib in _blas_controllers()), default=1)


@contextmanager
def _blas_single_threaded() -> Iterator[None]:
    libs = _blas_controllers()
    before = [lib.get_num_threads() for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def _chunks(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices of ``range(n)`` whose sizes differ by at most one."""
    q, r = divmod(n, parts)
    bounds = [i * q + min(i, r) for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def over_batch(fn: Callable[[slice], T], n: int, work: int, min_work: int = 4_000_000) -> list[T]:
    """``[fn(chunk) for chunk in chunks]``, the chunks of ``range(n)`` run on parallel threads.

    Parameters
    ----------
    fn : callable
        Takes a ``slice`` of the batch and returns its part of the result; it must write only to
        its own samples (any shared output is combined by the caller from the returned values).
    n : int
        Batch size.
    work : int
        The operation's multiply-adds, to decide whether threads pay off.
    min_work : int
        Below this the call is serial.

    Returns
    -------
    list
        ``fn``'s results in batch order (a single element when serial), so a caller that sums them
        sums them in the same order on every run.
    """
    global _pool
    threads = min(blas_threads(), n)
    if threads < 2 or work < min_work or not _lock.acquire(blocking=False):
        return [fn(slice(0, n))]
    try:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="nnmath")
        with _blas_single_threaded():
            return list(_pool.map(fn, _chunks(n, threads)))
    finally:
        _lock.release()
