"""nnmath.claims: a claim checks its measured value against an independent expectation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmath as nm
from nnmath.claims import MIME_TYPE, Claim


def test_value_claim_passes_within_tolerance_and_reports_margin() -> None:
    c = Claim(name="f", measured=0.52, expected=0.5, rtol=0.1, against="eq. (1)", kind="derived")
    assert c.passed
    assert c.tolerance == pytest.approx(0.05)
    assert c.margin == pytest.approx(1 - 0.02 / 0.05)
    assert c.criterion == "|m − 0.5| ≤ 0.05"


@pytest.mark.parametrize(("measured", "passed"), [(0.44, False), (0.56, False), (0.46, True)])
def test_value_claim_fails_outside_tolerance(measured: float, passed: bool) -> None:
    c = Claim(name="f", measured=measured, expected=0.5, atol=0.05, against="x", kind="derived")
    assert c.passed is passed
    assert (c.margin >= 0) is passed


def test_bound_claims_margin_is_relative_to_the_bound() -> None:
    assert Claim(name="r", measured=300.0, lo=50.0, against="x", kind="bound").margin == pytest.approx(5.0)
    assert Claim(name="e", measured=1e-10, hi=1e-7, against="x", kind="reference").margin == pytest.approx(0.999)
    two = Claim(name="b", measured=1.5, lo=1.0, hi=2.0, against="x", kind="bound")
    assert two.passed and two.margin == pytest.approx(0.25)      # 0.5 above lo = 50% of 1; 0.5 below hi = 25%
    zero = Claim(name="z", measured=0.25, lo=0.0, against="x", kind="bound")
    assert zero.passed and zero.margin == pytest.approx(1.0)     # relative to m when the bound is 0


def test_claim_raises_claimfailed_naming_the_claim() -> None:
    nm.claim("ok", 3.0, lo=1.0, kind="bound", against="a bound")
    with pytest.raises(nm.ClaimFailed, match=r"'too_big' failed: measured 3.*m ≤ 1.*a bound"):
        nm.claim("too_big", 3.0, hi=1.0, kind="bound", against="a bound")
    assert issubclass(nm.ClaimFailed, AssertionError)


@pytest.mark.parametrize("kwargs, message", [
    (dict(expected=1.0), "needs a tolerance"),
    (dict(expected=1.0, rtol=0.1, lo=0.0), "either expected"),
    (dict(), "either expected"),
    (dict(hi=1.0, kind="guess"), "kind must be one of"),
    (dict(hi=1.0, against=""), "'against' must say"),
    (dict(hi=math.inf), "hi is inf"),
    (dict(hi=1.0, interval=(0.0, 1.0)), "interval needs seeds"),
])
def test_malformed_claims_are_rejected(kwargs: dict, message: str) -> None:
    args = dict(kind="bound", against="x") | kwargs
    with pytest.raises(ValueError, match=message):
        nm.claim("c", 0.5, **args)


def test_non_finite_or_non_numeric_measurements_are_rejected() -> None:
    with pytest.raises(ValueError, match="measured value is nan"):
        nm.claim("c", float("nan"), hi=1.0, kind="bound", against="x")
    with pytest.raises(TypeError, match="measured must be a real number"):
        nm.claim("c", "0.5", hi=1.0, kind="bound", against="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="claim name"):
        nm.claim("a b", 0.5, hi=1.0, kind="bound", against="x")


def test_numpy_scalars_are_accepted() -> None:
    nm.claim("np", np.float32(0.5), expected=0.5, atol=1e-6, kind="reference", against="x")


def test_record_and_mimebundle_for_the_book() -> None:
    c = Claim(name="p", measured=0.49, expected=0.5, rtol=0.05, against="He et al. (2015)",
              kind="paper", paper="he2015delving", paper_item="Sec. 2.2", paper_value="1/2",
              seeds=5, interval=(0.47, 0.51))
    bundle = c._repr_mimebundle_()
    assert float(bundle["text/plain"]) == 0.49        # what {glue:text} formats
    rec = bundle[MIME_TYPE]
    assert rec["passed"] is True and rec["paper"] == "he2015delving" and rec["interval"] == [0.47, 0.51]
    assert rec["criterion"] == c.criterion and "lo" not in rec   # no None fields


def test_mean_interval_matches_student_t() -> None:
    v = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean, lo, hi = nm.mean_interval(v)
    # t_{4, 0.975} = 2.7764451; s = sqrt(2.5)
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert mean == 3.0 and lo == pytest.approx(3 - half, rel=1e-12) and hi == pytest.approx(3 + half, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        nm.mean_interval([1.0])
    with pytest.raises(ValueError, match="finite"):
        nm.mean_interval([1.0, np.nan])


def test_manual_seed_returns_nothing_that_prints() -> None:
    assert nm.manual_seed(0) is None
    a = nm.get_rng().standard_normal(3)
    nm.manual_seed(0)
    assert np.array_equal(a, nm.get_rng().standard_normal(3))


def test_exact_claims_are_all_or_nothing() -> None:
    ok = Claim(name="n", measured=0.0, expected=0.0, exact=True, against="x", kind="derived")
    assert ok.passed and ok.margin == 1.0 and ok.criterion == "m = 0 exactly"
    assert not Claim(name="n", measured=1e-300, expected=0.0, exact=True, against="x",
                     kind="derived").passed
    with pytest.raises(ValueError, match="exact=True takes an expected value and no tolerance"):
        nm.claim("n", 0.0, expected=0.0, atol=0.5, exact=True, kind="derived", against="x")
    with pytest.raises(ValueError, match="exact=True"):
        nm.claim("n", 0.0, hi=0.0, exact=True, kind="derived", against="x")
