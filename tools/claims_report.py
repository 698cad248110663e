"""Run chapters as plain scripts and print every claim they record, smallest margin first.

    .venv/bin/python tools/claims_report.py book/chapters/02_vanishing_gradients.md [...]

The quick way to see how much room each claim has while writing a chapter (the built book lists
the same claims on its claims page).
"""

from __future__ import annotations

import os

# One BLAS thread, as in `make book`: small matrix products on two busy cores are many times slower
# with threads that compete (set before NumPy is imported).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
from pathlib import Path

import nnmath.claims as claims
from run_chapter import run


def collect(paths: list[Path]) -> list[tuple[str, claims.Claim]]:
    found: list[tuple[str, claims.Claim]] = []
    current = [""]
    original = claims._publish

    def record(c: claims.Claim) -> None:
        found.append((current[0], c))
        original(c)

    claims._publish = record
    try:
        for p in paths:
            current[0] = p.stem
            run(p)
    finally:
        claims._publish = original
    return found


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rows = collect([Path(a) for a in sys.argv[1:]])
    for doc, c in sorted(rows, key=lambda r: r[1].margin):
        print(f"{c.margin:8.1%}  {doc:28s} {c.name:28s} {c.measured:<12.4g} {c.criterion}  [{c.kind}]")
    print(f"{len(rows)} claims, {sum(1 for _, c in rows if c.paper)} paper results")
