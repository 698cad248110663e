"""Benchmark: nnmath.MultiheadAttention forward+backward against the naive per-query loop and
against PyTorch (CPU, float64).

    .venv/bin/python benchmarks/attention.py [--threads 1 2] [--repeat 5] [--no-naive]

For each shape ``(B, L, E, H)`` (self-attention, batch-first) it times one forward and one
backward pass (input and all parameter gradients) of

* ``nm.MultiheadAttention`` — batched matrix products over (batch, head), the softmax VJP on all
  rows at once;
* ``torch.nn.MultiheadAttention(batch_first=True)`` + ``autograd`` in float64 with identical
  weights, when torch is installed, with the same number of threads as NumPy's BLAS. Both
  ``need_weights=True`` (the math path, which materialises the
  attention weights as nnmath does) and ``need_weights=False`` (torch's fused
  ``scaled_dot_product_attention`` kernel) are timed;
* the same nnmath module with ``scaled_dot_product_attention_naive`` (one query at a time) in
  place of the vectorised attention, run once.

Everything is timed side by side in one process, interleaved round by round, best of ``--repeat``
(``_common.py`` gives the protocol and how the threads are limited); the outputs are compared
first, so the timed computations are the same computation. One table per ``--threads`` count.
A measurement script, not a test.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
from _common import describe, interleave, limit_threads, parse_args, torch

import nnmath as nm

# (B, L, E, H)
SHAPES = [
    (32, 16, 64, 4),      # the chapter's scale: short sequences, a small model
    (8, 128, 256, 8),     # a BERT-style layer on short sentences (width 256)
    (4, 256, 512, 8),     # a base-width layer, longer sequences
    (2, 512, 256, 4),     # long sequences: the (L, L) weights dominate
]


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
    args = parse_args(__doc__, repeat=5)
    for n_threads in args.threads:
        with limit_threads(n_threads):
            run(args, n_threads)


def run(args: argparse.Namespace, n_threads: int) -> None:
    rng = np.random.default_rng(0)
    print(describe(n_threads, "self-attention forward+backward", args.repeat))
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
            times = interleave({"nm": run_nm, "torch": lambda: run_torch(True), "sdpa": lambda: run_torch(False)},
                               args.repeat)
            t_nm, t_torch, t_sdpa = (times[k].min() for k in ("nm", "torch", "sdpa"))
        else:
            t_nm = interleave({"nm": run_nm}, args.repeat)["nm"].min()
        t_naive = float("nan")
        if not args.no_naive:
            naive = nm.MultiheadAttention(E, H, rng=rng)
            for p, q in zip(naive.parameters(), mha.parameters()):
                p.data[...] = q.data
            # the module calls the fast pair by name: run it once with the naive pair in its place
            with mock.patch.object(nm.attention, "scaled_dot_product_attention",
                                   nm.scaled_dot_product_attention_naive), \
                 mock.patch.object(nm.attention, "scaled_dot_product_attention_backward",
                                   nm.scaled_dot_product_attention_naive_backward):
                t0 = time.perf_counter()
                out_naive = run_nm(naive)
                t_naive = time.perf_counter() - t0
            np.testing.assert_allclose(out_naive, out_nm, rtol=1e-10, atol=1e-12)
        print(f"{f'{B}, {L}, {E}, {H}':<18}{1e3 * t_nm:>10.1f}{1e3 * t_torch:>10.1f}{t_nm / t_torch:>10.2f}"
              f"{1e3 * t_sdpa:>12.1f}{t_nm / t_sdpa:>9.2f}{1e3 * t_naive:>10.0f}{t_naive / t_nm:>10.0f}")


if __name__ == "__main__":
    main()
