"""Benchmark: nnmath.conv2d forward+backward against the naive loop and against PyTorch (CPU, float64).

    .venv/bin/python benchmarks/conv.py [--threads 1] [--repeat 5]

For each shape it times one forward and one backward pass (input, weight and bias gradients) of

* ``nm.conv2d`` / ``nm.conv2d_backward`` (im2col + one batched matrix product; col2im);
* ``torch.nn.functional.conv2d`` + ``autograd`` in float64 on the CPU, when torch is installed,
  with the same number of threads as NumPy's BLAS (set before either library is imported);
* ``nm.conv2d_naive`` / ``nm.conv2d_backward_naive`` (the seed notebook's loop), run once on the
  first sample only and scaled by the batch size: its cost is exactly linear in N (one identical
  loop per sample), and the full batch would take minutes.

nnmath and torch are timed side by side in the same process, alternating, best of ``--repeat``.
This is a measurement script, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
parser.add_argument("--repeat", type=int, default=5, help="timed repetitions, best one reported")
parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)   # must happen before NumPy is imported

import numpy as np  # noqa: E402

import nnmath as nm  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(args.threads)
except ImportError:  # pragma: no cover - torch is optional
    torch = None

# (N, C_in, H, W, C_out, k, stride, padding)
SHAPES = [
    (32, 16, 32, 32, 32, 3, 1, 1),    # the shape: a mid-sized CNN layer
    (32, 3, 32, 32, 16, 5, 1, 2),     # a first layer on CIFAR-sized RGB images
    (32, 32, 16, 16, 64, 3, 2, 1),    # a down-sampling layer (stride 2)
    (64, 1, 8, 8, 8, 3, 1, 1),        # the book's digits CNN, first layer
]


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up (allocations, torch's first-call overhead)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}  numpy {np.__version__}  torch {torch.__version__ if torch else '-'}  "
          f"float64, forward+backward, best of {args.repeat}")
    head = f"{'N,Cin,H,W -> Cout, k, s, p':<30}{'nnmath ms':>10}{'torch ms':>10}{'nm/torch':>10}{'naive ms*':>12}{'naive/nm':>10}"
    print(head)
    for N, C, H, W, O, k, s, p in SHAPES:
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((O, C, k, k)) / np.sqrt(C * k * k)
        b = rng.standard_normal(O)
        out, _ = nm.conv2d(x, w, b, s, p)
        dout = rng.standard_normal(out.shape)

        def run_nm() -> None:
            _, cache = nm.conv2d(x, w, b, s, p)
            nm.conv2d_backward(dout, cache)

        t_nm = best_of(run_nm, args.repeat)
        t_torch = float("nan")
        if torch is not None:
            xt = torch.tensor(x, requires_grad=True)
            wt = torch.tensor(w, requires_grad=True)
            bt = torch.tensor(b, requires_grad=True)
            dt = torch.tensor(dout)

            def run_torch() -> None:
                xt.grad = wt.grad = bt.grad = None
                torch.nn.functional.conv2d(xt, wt, bt, s, p).backward(dt)

            # alternate the two so that background load affects both alike
            t_torch = min(best_of(run_torch, args.repeat), best_of(run_torch, args.repeat))
            t_nm = min(t_nm, best_of(run_nm, args.repeat))
        t_naive = float("nan")
        if not args.no_naive:
            t0 = time.perf_counter()
            _, cache = nm.conv2d_naive(x[:1], w, b, s, p)
            nm.conv2d_backward_naive(dout[:1], cache)
            t_naive = (time.perf_counter() - t0) * N   # one sample, scaled: cost is linear in N
        label = f"{N},{C},{H},{W} -> {O}, {k}, {s}, {p}"
        print(f"{label:<30}{t_nm * 1e3:>10.1f}{t_torch * 1e3:>10.1f}{t_nm / t_torch:>10.2f}"
              f"{t_naive * 1e3:>12.0f}{t_naive / t_nm:>10.0f}")
        sys.stdout.flush()
    print("* naive: first sample only, times N (the loop's cost is linear in N)")


if __name__ == "__main__":
    main()
