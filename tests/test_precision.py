"""Floating-point formats from their bit layout; bfloat16 rounding; low-precision sums."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath import precision as P


@pytest.mark.parametrize("name", ["float64", "float32", "float16"])
def test_format_info_matches_numpy(name) -> None:
    info, fi = P.format_info(name), np.finfo(name)
    assert info.eps == fi.eps and info.max == fi.max and info.smallest_normal == fi.smallest_normal
    assert info.smallest_subnormal == fi.smallest_subnormal


def test_bfloat16_layout() -> None:
    info = P.format_info("bfloat16")
    assert info.eps == 2.0**-7 and info.smallest_normal == np.finfo(np.float32).smallest_normal
    assert info.max == pytest.approx(3.3895313892515355e38, rel=1e-15)


def test_round_to_bfloat16_keeps_8_significant_bits() -> None:
    assert P.round_to_bfloat16(1.0 + 2.0**-8) == 1.0                  # tie rounds to even
    assert P.round_to_bfloat16(1.0 + 3 * 2.0**-8) == 1.0 + 2.0**-6    # tie rounds up to even
    assert P.round_to_bfloat16(1.0 + 2.0**-7) == 1.0 + 2.0**-7        # representable
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    r = P.round_to_bfloat16(x)
    assert np.max(np.abs(r - x) / np.abs(x)) <= 2.0**-8                 # unit roundoff u = eps/2
    assert np.all(r.view(np.uint32) & 0xFFFF == 0)
    assert np.isinf(P.round_to_bfloat16(np.float32(3.4e38)))            # beyond bf16 max
    assert np.isnan(P.round_to_bfloat16(np.float32("nan")))


def test_softmax_without_max_subtraction_overflows_in_float16() -> None:
    x = np.array([[1.0, 2.0, 12.0]])
    assert np.isnan(P.softmax_in(x, np.float16, subtract_max=False)).any()
    stable = P.softmax_in(x, np.float16)
    ref, _ = nm.softmax(x)
    np.testing.assert_allclose(stable.astype(float), ref, atol=2e-3)


def test_sums() -> None:
    ones = np.ones(4096)
    assert P.sum_sequential(ones, np.float16) == 2048.0     # 2048 + 1 rounds back to 2048
    assert P.sum_pairwise(ones, np.float16) == 4096.0
    assert P.sum_kahan(ones, np.float16) == 4096.0
    x = np.random.default_rng(1).uniform(0, 1, 1001)
    exact = float(np.sum(x))
    assert abs(P.sum_kahan(x, np.float32) - exact) < abs(P.sum_sequential(x, np.float32) - exact) + 1e-7
    assert P.sum_pairwise([], np.float16) == 0.0 and P.sum_sequential([], np.float16) == 0.0


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        P.format_info("float8")
