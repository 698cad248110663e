"""What the benchmarks that compare nnmath with PyTorch share: the command line, the thread limits and
the timing protocol.

The protocol, and why each step is there (the machine is shared and noisy):

* **Same process, same inputs, same threads.** NumPy's BLAS is limited with ``threadpoolctl``
  (installed with scikit-learn) and torch with ``torch.set_num_threads``, to the same count, so one
  run can measure several thread counts.
* **Interleaved rounds.** Every round times each contender once, so slow changes in the background
  load reach all of them alike; the result is the best (minimum) time of each, the usual estimate
  of the cost without interference, and the median of the per-round ratios as a check on it.
* **One untimed call before each timed call.** Switching library leaves the other one's worker
  threads spinning for a moment (OpenMP and OpenBLAS busy-wait before they sleep), which would be
  charged to whoever runs next; the extra call absorbs that and puts the contender's own data back
  in the caches, as in a training loop, where the same layer runs step after step.
* **Page faults, optionally switched off.** glibc hands large freed blocks back to the operating
  system, and the next allocation of that size pays a page fault for every page it touches again;
  on a virtual machine that can be a third of a convolution's time, and whether it happens depends
  on the sizes and the order of everything allocated before (torch's buffers for the 32x16x32x32
  layer are larger than glibc's 32 MB limit and fault on every call). ``--keep-memory`` re-runs the
  script with glibc told to keep freed memory (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``),
  which compares the computations alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None


KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**32)}


def parse_args(doc: str | None, repeat: int = 10) -> argparse.Namespace:
    """``--threads N [N ...]`` (default 1), ``--repeat`` (timed rounds), ``--no-naive`` and
    ``--keep-memory`` (re-executes the script with :data:`KEEP_MEMORY` in the environment: glibc
    reads it only at start-up)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="BLAS and torch threads; several counts give one table each (default 1)")
    parser.add_argument("--repeat", type=int, default=repeat, help=f"timed rounds (default {repeat})")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    parser.add_argument("--keep-memory", action="store_true",
                        help="glibc keeps freed memory: no page faults from fresh allocations")
    args = parser.parse_args()
    if args.keep_memory and any(os.environ.get(k) != v for k, v in KEEP_MEMORY.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **KEEP_MEMORY})
    return args


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """NumPy's BLAS and torch both limited to ``n`` threads inside the block."""
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n):
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if before is not None:
                torch.set_num_threads(before)


def describe(n_threads: int, what: str, repeat: int) -> str:
    """The first line of a table: thread count, library versions, allocator setting and what is timed."""
    memory = "kept (--keep-memory)" if all(os.environ.get(k) == v for k, v in KEEP_MEMORY.items()) else "default"
    return (f"threads={n_threads}  numpy {np.__version__}  torch {torch.__version__ if torch else '-'}  "
            f"float64, {what}, best of {repeat} interleaved rounds, glibc memory {memory}")


def interleave(contenders: Mapping[str, Callable[[], Any]], repeat: int) -> dict[str, np.ndarray]:
    """Wall times (seconds) of ``repeat`` interleaved rounds: in each round every contender runs once
    untimed, then once timed (see the module docstring)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: np.array(t) for name, t in times.items()}


def ratios(times: Mapping[str, np.ndarray], a: str, b: str) -> tuple[float, float]:
    """``a``'s time over ``b``'s: the ratio of the best times, and the median of the per-round ratios."""
    return float(times[a].min() / times[b].min()), float(np.median(times[a] / times[b]))
