"""Benchmark: nnmath.conv2d forward+backward against the naive loop and against PyTorch (CPU, float64).

    .venv/bin/python benchmarks/conv.py [--threads 1 2] [--repeat 10] [--no-naive]

For each shape it times one forward and one backward pass (input, weight and bias gradients) of

* ``nm.conv2d`` / ``nm.conv2d_backward`` (im2col + one batched matrix product; the backward reuses
  the cached columns for the weight gradient and sends the column gradient back with col2im);
* ``torch.nn.functional.conv2d`` + ``autograd`` in float64 on the CPU, when torch is installed, with
  the same number of threads as NumPy's BLAS; both results are compared before anything is timed;
* ``nm.conv2d_naive`` / ``nm.conv2d_backward_naive`` (the seed notebook's loop), run once on the
  first sample only and scaled by the batch size: its cost is exactly linear in N (one identical
  loop per sample), and the full batch would take minutes.

nnmath and torch are timed in the same process, interleaved round by round (``_common.py`` gives
the protocol); ``nm/torch`` is the ratio of the best times, ``median`` the median per-round ratio.
One table per ``--threads`` count, followed by the **same matrix product** in both libraries: the
forward's ``(C_out, K) @ (N, K, P)`` with NumPy's BLAS (OpenBLAS) and with torch's (MKL). Where
that ratio is well above 1, the convolution's ratio is bounded by the BLAS, not by im2col/col2im.
This is a measurement script, not a test.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _common import describe, interleave, limit_threads, parse_args, ratios, torch

import nnmath as nm

# (N, C_in, H, W, C_out, k, stride, padding)
SHAPES = [
    (32, 16, 32, 32, 32, 3, 1, 1),    # the shape: a mid-sized CNN layer
    (32, 3, 32, 32, 16, 5, 1, 2),     # a first layer on CIFAR-sized RGB images
    (32, 32, 16, 16, 64, 3, 2, 1),    # a down-sampling layer (stride 2)
    (64, 1, 8, 8, 8, 3, 1, 1),        # the book's digits CNN, first layer
]


def naive_time(x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray, s: int, p: int) -> float:
    """The loop on the first sample, times N (the loop's cost is linear in N)."""
    t0 = time.perf_counter()
    _, cache = nm.conv2d_naive(x[:1], w, b, s, p)
    nm.conv2d_backward_naive(dout[:1], cache)
    return (time.perf_counter() - t0) * x.shape[0]


def main() -> None:
    args = parse_args(__doc__)
    rng = np.random.default_rng(0)
    cases = []
    for N, C, H, W, O, k, s, p in SHAPES:
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((O, C, k, k)) / np.sqrt(C * k * k)
        b = rng.standard_normal(O)
        dout = rng.standard_normal(nm.conv2d(x, w, b, s, p)[0].shape)
        t_naive = float("nan") if args.no_naive else naive_time(x, w, b, dout, s, p)
        cases.append(((N, C, H, W, O, k, s, p), x, w, b, dout, t_naive))

    for n_threads in args.threads:
        with limit_threads(n_threads):
            print(describe(n_threads, "forward+backward", args.repeat))
            print(f"{'N,Cin,H,W -> Cout, k, s, p':<30}{'nnmath ms':>10}{'torch ms':>10}{'nm/torch':>10}"
                  f"{'median':>8}{'naive ms*':>12}{'naive/nm':>10}")
            for (N, C, H, W, O, k, s, p), x, w, b, dout, t_naive in cases:
                def run_nm() -> tuple[np.ndarray, ...]:
                    out, cache = nm.conv2d(x, w, b, s, p)
                    return (out, *nm.conv2d_backward(dout, cache))

                contenders = {"nm": run_nm}
                if torch is not None:
                    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
                    dt = torch.tensor(dout)

                    def run_torch() -> tuple[np.ndarray, ...]:
                        xt.grad = wt.grad = bt.grad = None
                        out = torch.nn.functional.conv2d(xt, wt, bt, s, p)
                        out.backward(dt)
                        return tuple(a.detach().numpy() for a in (out, xt.grad, wt.grad, bt.grad))

                    for mine, theirs in zip(run_nm(), run_torch()):   # the same computation
                        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10)
                    contenders["torch"] = run_torch
                times = interleave(contenders, args.repeat)
                t_nm = times["nm"].min()
                t_torch, best, median = (times["torch"].min(), *ratios(times, "nm", "torch")) if torch else (np.nan,) * 3
                label = f"{N},{C},{H},{W} -> {O}, {k}, {s}, {p}"
                print(f"{label:<30}{t_nm * 1e3:>10.1f}{t_torch * 1e3:>10.1f}{best:>10.2f}{median:>8.2f}"
                      f"{t_naive * 1e3:>12.0f}{t_naive / t_nm:>10.0f}")
                sys.stdout.flush()
            if torch is not None:
                blas_table(cases, args.repeat)
    print("* naive: first sample only, times N (the loop's cost is linear in N)")


def blas_table(cases: list, repeat: int) -> None:
    """The forward's matrix product alone, NumPy against torch, same operands and threads."""
    print(f"{'  same product (C_out,K)@(N,K,P)':<30}{'numpy ms':>10}{'torch ms':>10}{'np/torch':>10}{'median':>8}")
    for (N, C, H, W, O, k, s, p), x, w, *_ in cases:
        cols = nm.im2col(x, k, padding=p, stride=s)
        w2 = w.reshape(O, -1)
        cols_t, w2_t = torch.tensor(cols), torch.tensor(w2)
        times = interleave({"np": lambda: w2 @ cols, "torch": lambda: w2_t @ cols_t}, repeat)
        best, median = ratios(times, "np", "torch")
        label = f"  ({O},{cols.shape[1]})@({N},{cols.shape[1]},{cols.shape[2]})"
        print(f"{label:<30}{times['np'].min() * 1e3:>10.1f}{times['torch'].min() * 1e3:>10.1f}"
              f"{best:>10.2f}{median:>8.2f}")


if __name__ == "__main__":
    main()
