"""count_lines counts what the interpreter executed: loops of known trip counts, nested calls."""

import sys

import numpy as np
import pytest

import nnmath as nm
from nnmath.counting import count_lines


def _nested(a: int, b: int) -> int:
    total = 0
    for i in range(a):
        for j in range(b):
            total += i * j
    return total


def _caller(n: int) -> int:
    return sum(_nested(2, 3) for _ in range(n))


def test_counts_the_innermost_statement_once_per_iteration() -> None:
    result, counts = count_lines(_nested, _nested, 4, 5)
    assert result == sum(i * j for i in range(4) for j in range(5))
    assert counts.of(_nested, "total += i * j") == 20
    assert counts.of(_nested, "for j in range(b)") == 4 * (5 + 1)     # one more to exhaust it
    assert counts.of(_nested, "return total") == 1


def test_counts_watched_functions_called_indirectly() -> None:
    _, counts = count_lines(_nested, _caller, 7)
    assert counts.of(_nested, "total += i * j") == 7 * 6


def test_conv_loop_reference_iterations_match_the_shapes() -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    (out, _), counts = count_lines(nm.conv2d_naive, nm.conv2d_naive, x, w, padding=1)
    N, C_out, OH, OW = out.shape
    assert counts.of(nm.conv2d_naive, "out[n, o, i, j] =") == N * C_out * OH * OW


def test_of_rejects_ambiguous_or_missing_text_and_restores_the_tracer() -> None:
    before = sys.gettrace()
    _, counts = count_lines([_nested], _nested, 1, 1)
    assert sys.gettrace() is before
    with pytest.raises(ValueError, match="2 lines"):
        counts.of(_nested, "for ")
    with pytest.raises(ValueError, match="0 lines"):
        counts.of(_nested, "no such text")
    with pytest.raises(TypeError, match="Python functions"):
        count_lines(len, len, [1])


def test_a_module_watches_all_its_functions_and_containing_sums_lines() -> None:
    import sys as _sys

    module = _sys.modules[__name__]
    _, counts = count_lines(module, _caller, 3)
    assert counts.containing("total += i * j") == 3 * 6
    assert counts.of(_caller, "return sum") == 1
    assert counts.containing("no such text") == 0
    assert counts.total() >= counts.containing("total += i * j")


def test_the_vectorised_conv_runs_the_same_lines_at_every_size() -> None:
    rng = np.random.default_rng(1)
    totals = []
    for N, side in ((1, 5), (3, 11)):
        x, w = rng.standard_normal((N, 2, side, side)), rng.standard_normal((3, 2, 3, 3))
        (out, cache), fwd = count_lines(nm.conv, nm.conv2d, x, w, padding=1)
        _, bwd = count_lines(nm.conv, nm.conv2d_backward, rng.standard_normal(out.shape), cache)
        totals.append((fwd.total(), bwd.total()))
    assert totals[0] == totals[1]
