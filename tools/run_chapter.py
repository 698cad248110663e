"""Run a chapter's code cells as one plain Python script (no Sphinx, no kernel).

Used by ``make chapter CH=...`` for a quick check while writing, and by
``benchmarks/build_time.py`` to measure how long the book's code takes without the build around it.
Figures are drawn with the non-interactive Agg backend and closed; ``glue`` becomes a no-op.
"""

from __future__ import annotations

import os

# One BLAS thread, as in `make book`: small matrix products on two busy cores are many times slower
# with threads that compete (set before NumPy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
import time
from pathlib import Path

import jupytext


def chapter_source(path: Path) -> str:
    """The concatenated source of a chapter's code cells (IPython magics dropped)."""
    nb = jupytext.read(path)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    lines = [ln for ln in "\n\n".join(cells).splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines) + "\n"


def run(path: Path) -> float:
    """Execute the chapter in a fresh namespace and return the wall time in seconds."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    code = compile(chapter_source(path), str(path), "exec")
    start = time.perf_counter()
    namespace: dict[str, object] = {"__name__": "__main__"}
    plt.show = lambda *a, **k: plt.close("all")  # type: ignore[assignment]
    exec(code, namespace)
    plt.close("all")
    return time.perf_counter() - start


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python tools/run_chapter.py book/chapters/NN_name.md [...]")
    for arg in sys.argv[1:]:
        print(f"{arg}: {run(Path(arg)):.2f} s")
