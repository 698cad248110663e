r"""Counting what a computation costs: multiply-adds of matrix products and function evaluations.

Cost in this book is stated in counts that do not depend on the machine. :func:`count_ops` counts
them by *running* the code on arrays that record what is done to them: :func:`counted` returns a
view of an array as :class:`CountingArray`, an ``ndarray`` subclass whose ``__array_ufunc__``
records every NumPy ufunc applied to it — ``np.matmul`` (and so the ``@`` operator) as
multiply-adds, every other ufunc (``np.exp``, ``np.tanh``, ``scipy.special.expit``, ``np.add``,
…) as the number of output elements it evaluated — and passes the subclass on to the result, so
that everything computed from a counted array is counted too. nnmath's functional ops keep the
subclass (``as_array`` returns floating ndarrays unchanged), so a layer's forward and backward
pass can be counted without changing its code::

    with nm.count_ops() as ops:
        out, cache = nm.linear(nm.counted(x), W, b)
    ops.macs        # N * D_in * D_out

A product :math:`(\dots, n, k) @ (\dots, k, m)` costs :math:`n k m` multiply-adds per batch
element (1-D operands count as a row or a column). Reductions (``x.sum()``) are recorded under
``"add.reduce"``. Operations that are not ufuncs — ``np.einsum``, ``np.linalg``, indexing — are not
counted; nnmath's fast paths use ``@`` and ufuncs.

:func:`count_module` does the same for a :class:`~nnmath.module.Module`: within the ``with``
block its parameters are counted views (restored afterwards).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["CountingArray", "OpCounts", "counted", "count_ops", "count_module"]

_active: list[OpCounts] = []


class OpCounts:
    """What :func:`count_ops` recorded.

    Attributes
    ----------
    macs : int
        Multiply-adds of all matrix products (``np.matmul`` / ``@``).
    matmuls : int
        Number of matrix products.
    evals : collections.Counter
        Elements evaluated per ufunc name (``"exp"``, ``"tanh"``, ``"expit"``, ``"multiply"``,
        ``"add.reduce"``, …).
    calls : collections.Counter
        Calls per ufunc name.
    """

    def __init__(self) -> None:
        self.macs = 0
        self.matmuls = 0
        self.evals: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"OpCounts(macs={self.macs}, matmuls={self.matmuls}, evals={dict(self.evals)})"

    def _record(self, ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], result: Any) -> None:
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        self.calls[name] += 1
        if ufunc is np.matmul and method == "__call__":
            a, b = (np.asarray(i) for i in inputs[:2])
            n = 1 if a.ndim == 1 else a.shape[-2]
            k = a.shape[-1]
            m = 1 if b.ndim == 1 else b.shape[-1]
            batch = math.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) if min(
                a.ndim, b.ndim) >= 2 else math.prod((a if a.ndim > b.ndim else b).shape[:-2])
            self.macs += batch * n * k * m
            self.matmuls += 1
            return
        out = result[0] if isinstance(result, tuple) else result
        self.evals[name] += int(np.size(out))


def _plain(x: Any) -> Any:
    return x.view(np.ndarray) if isinstance(x, CountingArray) else x


class CountingArray(np.ndarray):
    """An ``ndarray`` view that records the ufuncs applied to it (see the module docstring).

    Outside :func:`count_ops` it behaves exactly like the array it views.
    """

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain_inputs = tuple(_plain(i) for i in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        result = getattr(ufunc, method)(*plain_inputs, **kwargs)
        for counts in _active:
            counts._record(ufunc, method, plain_inputs, result)
        if isinstance(result, tuple):
            return tuple(_wrap(r) for r in result)
        return _wrap(result)


def _wrap(r: Any) -> Any:
    return r.view(CountingArray) if isinstance(r, np.ndarray) else r


def counted(x: ArrayLike) -> CountingArray:
    """A :class:`CountingArray` view of ``x`` (float64 if ``x`` is not floating)."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return a.view(CountingArray)


@contextmanager
def count_ops() -> Iterator[OpCounts]:
    """Count the ufuncs applied to :class:`CountingArray` values within the ``with`` block.

    Yields
    ------
    OpCounts
        Filled in while the block runs. Blocks may be nested; each counts everything inside it.
    """
    counts = OpCounts()
    _active.append(counts)
    try:
        yield counts
    finally:
        _active.remove(counts)


@contextmanager
def count_module(module: Any) -> Iterator[OpCounts]:
    """:func:`count_ops` with the parameters of ``module`` as counted views.

    Parameters
    ----------
    module : Module
        Its ``parameters()`` have their ``data`` (and ``grad``, if set) replaced by counted views
        for the duration of the block, and restored to plain arrays afterwards — the same memory,
        so updates made inside the block are kept.
    """
    params = list(module.parameters())
    for p in params:
        p.data = counted(p.data)
    try:
        with count_ops() as counts:
            yield counts
    finally:
        for p in params:
            p.data = _plain(p.data)
            if getattr(p, "grad", None) is not None:
                p.grad = _plain(p.grad)
