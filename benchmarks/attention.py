"""Benchmark: nnmath.MultiheadAttention forward+backward against the naive per-query loop and
against PyTorch (CPU, float64).

    .venv/bin/python benchmarks/attention.py [--threads 1] [--repeat 5] [--no-naive]

For each shape ``(B, L, E, H)`` (self-attention, batch-first) it times one forward and one
backward pass (input and all parameter gradients) of

* ``nm.MultiheadAttention`` — batched matrix products over (batch, head), the softmax VJP on all
  rows at once;
* ``torch.nn.MultiheadAttention(batch_first=True)`` + ``autograd`` in float64 with identical
  weights, when torch is installed, with the same number of threads as NumPy's BLAS (set before
  either library is imported). Both ``need_weights=True`` (the math path, which materialises the
  attention weights as nnmath does) and ``need_weights=False`` (torch's fused
  ``scaled_dot_product_attention`` kernel) are timed;
* the same nnmath module with ``scaled_dot_product_attention_naive`` (one query at a time) in
  place of the vectorised attention, run once.

Everything is timed side by side in one process, alternating, best of ``--repeat``; the outputs
are compared first, so the timed computations are the same computation. NumPy's BLAS is limited
with ``threadpoolctl`` (installed with scikit-learn) and torch with ``torch.set_num_threads``,
to the same ``--threads``. A measurement script, not a test.
"""

from __future__ import annotations

import argparse
import time
import timeit

import numpy as np
from threadpoolctl import threadpool_limits

import nnmath as nm

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

# (B, L, E, H)
SHAPES = [
    (32, 16, 64, 4),      # the chapter's scale: short sequences, a small model
    (8, 128, 256, 8),     # a BERT-style layer on short sentences (width 256)
    (4, 256, 512, 8),     # a base-width layer, longer sequences
    (2, 512, 256, 4),     # long sequences: the (L, L) weights dominate
]


def once(fn) -> float:
    """Wall time of one call (the caller warms up and alternates the contenders)."""
    return timeit.timeit(fn, number=1)


def torch_copy(mha: nm.MultiheadAttention):
    """A torch module with nnmath's weights (nnmath stores (in, out), torch (out, in))."""
    t = torch.nn.MultiheadAttention(mha.embed_dim, mha.num_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        t.in_proj_weight.copy_(torch.from_numpy(mha.in_proj_weight.data.T.copy()))
        t.in_proj_bias.copy_(torch.from_numpy(mha.in_proj_bias.data))
        t.out_proj.weight.copy_(torch.from_numpy(mha.out_proj.weight.data.T.copy()))
        t.out_proj.bias.copy_(torch.from_numpy(mha.out_proj.bias.data))
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions, best one reported")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    args = parser.parse_args()
    # the same thread count for NumPy's BLAS (threadpoolctl) and for torch
    with threadpool_limits(limits=args.threads):
        if torch is not None:
            torch.set_num_threads(args.threads)
        run(args)


def run(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}  numpy {np.__version__}  torch {torch.__version__ if torch else '-'}  "
          f"float64, self-attention forward+backward, best of {args.repeat}")
    print(f"{'B, L, E, H':<18}{'nnmath ms':>10}{'torch ms':>10}{'nm/torch':>10}{'torch sdpa':>12}{'nm/sdpa':>9}"
          f"{'naive ms':>10}{'naive/nm':>10}")
    for B, L, E, H in SHAPES:
        mha = nm.MultiheadAttention(E, H, rng=rng)
        x = rng.standard_normal((B, L, E))
        dout = rng.standard_normal((B, L, E))

        def run_nm(m: nm.MultiheadAttention = mha) -> np.ndarray:
            out = m(x, x, x)
            m.backward(dout)
            return out

        out_nm = run_nm()
        t_torch = t_sdpa = float("nan")
        if torch is not None:
            t = torch_copy(mha)
            tx = torch.from_numpy(x).requires_grad_()
            tdout = torch.from_numpy(dout)

            def run_torch(need_weights: bool) -> torch.Tensor:
                t.zero_grad()
                tx.grad = None
                out, _ = t(tx, tx, tx, need_weights=need_weights)
                out.backward(tdout)
                return out

            for nw in (True, False):   # also the warm-up
                np.testing.assert_allclose(run_torch(nw).detach().numpy(), out_nm, rtol=1e-9, atol=1e-11)
            # alternate, so that all three see the same machine load
            times = [(once(run_nm), once(lambda: run_torch(True)), once(lambda: run_torch(False)))
                     for _ in range(args.repeat)]
            t_nm, t_torch, t_sdpa = np.min(times, axis=0)
        else:
            t_nm = min(once(run_nm) for _ in range(args.repeat))
        t_naive = float("nan")
        if not args.no_naive:
            naive = nm.MultiheadAttention(E, H, rng=rng)
            for p, q in zip(naive.parameters(), mha.parameters()):
                p.data[...] = q.data
            naive._attention = nm.scaled_dot_product_attention_naive
            naive._attention_backward = nm.scaled_dot_product_attention_naive_backward
            t0 = time.perf_counter()
            out_naive = run_nm(naive)
            t_naive = time.perf_counter() - t0
            np.testing.assert_allclose(out_naive, out_nm, rtol=1e-10, atol=1e-12)
        print(f"{f'{B}, {L}, {E}, {H}':<18}{1e3 * t_nm:>10.1f}{1e3 * t_torch:>10.1f}{t_nm / t_torch:>10.2f}"
              f"{1e3 * t_sdpa:>12.1f}{t_nm / t_sdpa:>9.2f}{1e3 * t_naive:>10.0f}{t_naive / t_nm:>10.0f}")


if __name__ == "__main__":
    main()
