"""Named, checked claims: every number the book states, with what it is compared against.

A *claim* is one sentence of the text that a measurement supports: "the per-layer variance factor
is 0.5, as the recursion (2.7) predicts". :func:`claim` records it in a form that a reader (and the
build) can audit:

* ``name`` — a unique key; the prose shows the measured value with ``{claim}`name:.3f```, which
  renders the number and a mark that reveals the check;
* ``measured`` — the value this run of the code produced;
* the **expectation** — either a value with a tolerance (``expected``, ``rtol``, ``atol``) or a
  bound (``lo`` and/or ``hi``);
* ``against`` — what the expectation *is*, in words, and ``kind`` — where it comes from:
  ``"paper"`` (a published number), ``"derived"`` (a value derived in the text, computed
  independently of the measurement), ``"reference"`` (another implementation: a naive loop,
  PyTorch, finite differences) or ``"bound"`` (a threshold the text argues for);
* for reproductions, ``paper`` (a BibTeX key), ``paper_item`` ("Figure 2", "Table 1") and
  ``paper_value`` (the paper's number as the paper states it);
* for stochastic claims, ``seeds`` and an ``interval`` over them.

The claim is checked immediately: a failing claim raises :class:`ClaimFailed`, so the cell, the
chapter and the build fail, naming the claim. Inside a notebook the record is also *glued* (MyST-NB)
under ``name`` — its ``text/plain`` is the measured value, so ``{glue:text}`name:.3f``` keeps working
— together with a JSON record that the book extension collects into the "Claims and reproductions"
page. Outside a notebook (a plain script, a test) only the check runs.

The expectation must not be computed from the measurement it checks: a "prediction" that plugs in
a statistic of the same forward pass is a consistency check, not a claim. That cannot be verified
by code; it is what ``against`` has to make plain to a reader.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Claim", "ClaimFailed", "claim", "mean_interval", "MIME_TYPE"]

#: The MIME type of a claim's JSON record inside a notebook output.
MIME_TYPE = "application/vnd.nnbook.claim+json"

Kind = Literal["paper", "derived", "reference", "bound"]
_KINDS = ("paper", "derived", "reference", "bound")


class ClaimFailed(AssertionError):
    """A claim's measured value is outside its expectation."""


@dataclass(frozen=True)
class Claim:
    """One checked statement. See :func:`claim` for the meaning of every field."""

    name: str
    measured: float
    against: str
    kind: str
    expected: float | None = None
    rtol: float = 0.0
    atol: float = 0.0
    lo: float | None = None
    hi: float | None = None
    paper: str | None = None
    paper_item: str | None = None
    paper_value: str | None = None
    seeds: int | None = None
    interval: tuple[float, float] | None = None
    exact: bool = False
    passed: bool = field(init=False)
    margin: float = field(init=False)

    def __post_init__(self) -> None:
        passed, margin = _evaluate(self)
        object.__setattr__(self, "passed", passed)
        object.__setattr__(self, "margin", margin)

    @property
    def criterion(self) -> str:
        """The comparison in words, e.g. ``|m - 0.5| <= 0.05`` or ``m > 20``."""
        if self.exact:
            return f"m = {_fmt(self.expected)} exactly"
        if self.expected is not None:
            return f"|m − {_fmt(self.expected)}| ≤ {_fmt(self.tolerance)}"
        if self.lo is not None and self.hi is not None:
            return f"{_fmt(self.lo)} ≤ m ≤ {_fmt(self.hi)}"
        if self.lo is not None:
            return f"m ≥ {_fmt(self.lo)}"
        return f"m ≤ {_fmt(self.hi)}"

    @property
    def tolerance(self) -> float:
        """``atol + rtol·|expected|`` (only for claims with an ``expected`` value)."""
        if self.expected is None:
            return math.nan
        return self.atol + self.rtol * abs(self.expected)

    def record(self) -> dict[str, Any]:
        """The JSON-serialisable record that the book collects (plain floats, no NaN)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out["interval"] = list(self.interval) if self.interval is not None else None
        out["criterion"] = self.criterion
        return {k: v for k, v in out.items() if v is not None}

    # text/plain is the measured value so that MyST-NB's {glue:text} can format it
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": repr(float(self.measured)), MIME_TYPE: self.record()}


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _evaluate(c: Claim) -> tuple[bool, float]:
    """Whether the claim holds, and its margin: how far the measured value may still move before
    the claim fails, as a fraction of the tolerance (value ± tolerance) or of the bound's size
    (one- or two-sided bounds; of the measured value itself when the bound is 0)."""
    m = c.measured
    if c.exact:                        # an exact count or a bit-identical result: all or nothing
        return m == c.expected, 1.0 if m == c.expected else -1.0
    if c.expected is not None:
        tol = c.tolerance
        err = abs(m - c.expected)
        if tol == 0:
            return err == 0, 0.0
        return err <= tol, (tol - err) / tol
    distances = []
    if c.lo is not None:
        distances.append((m - c.lo) / (abs(c.lo) or abs(m) or 1.0))
    if c.hi is not None:
        distances.append((c.hi - m) / (abs(c.hi) or abs(m) or 1.0))
    margin = min(distances)
    return margin >= 0, margin


def claim(name: str, measured: float, *, against: str, kind: Kind,
          expected: float | None = None, rtol: float = 0.0, atol: float = 0.0,
          lo: float | None = None, hi: float | None = None,
          paper: str | None = None, paper_item: str | None = None, paper_value: str | None = None,
          seeds: int | None = None, interval: tuple[float, float] | None = None,
          exact: bool = False) -> None:
    """Check a measured value against an independent expectation, and record it for the book.

    Parameters
    ----------
    name : str
        Unique key within the chapter (letters, digits, ``_``, ``-``). The prose refers to it with
        ``{claim}`name:fmt```.
    measured : float
        The value this run produced. Must be finite.
    against : str
        What the expectation is, for a reader: "eq. (2.7): 2/n_in keeps the variance",
        "PyTorch float64", "He et al. (2015), Sec. 2.2".
    kind : {"paper", "derived", "reference", "bound"}
        Where the expectation comes from (see the module docstring).
    expected, rtol, atol : float, optional
        Passes when ``|measured - expected| <= atol + rtol * |expected|``.
    lo, hi : float, optional
        Passes when ``lo <= measured <= hi`` (either may be omitted). Give either ``expected``
        or at least one bound, not both.
    paper, paper_item, paper_value : str, optional
        For a reproduction: the BibTeX key of the paper, which of its results ("Figure 6"), and the
        paper's value as it states it. A claim with ``paper`` is listed among the reproductions.
    seeds : int, optional
        Number of seeds behind a stochastic measurement (≥ 5 for a comparison).
    exact : bool
        With ``expected``: the value must equal it exactly (a count, or a bit-identical result);
        no tolerance is given, and the margin is 100% or the claim fails.
    interval : (float, float), optional
        The interval reported over those seeds (for example a 95% t-interval of the mean); it is
        glued as ``name__lo`` and ``name__hi``.

    Raises
    ------
    ClaimFailed
        If the measured value does not meet the expectation.
    ValueError
        If the arguments do not describe a check (no expectation, both kinds, non-finite values,
        an unknown ``kind``, fewer than two seeds with an interval).
    """
    if not isinstance(name, str) or not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"claim name must be letters, digits, '_' or '-', got {name!r}")
    if kind not in _KINDS:
        raise ValueError(f"claim {name!r}: kind must be one of {_KINDS}, got {kind!r}")
    if not against or not isinstance(against, str):
        raise ValueError(f"claim {name!r}: 'against' must say what the value is compared with")
    try:
        if isinstance(measured, (str, bytes, bool)):
            raise TypeError
        m = float(measured)
    except (TypeError, ValueError):
        raise TypeError(f"claim {name!r}: measured must be a real number, got {type(measured).__name__}") from None
    if not math.isfinite(m):
        raise ValueError(f"claim {name!r}: measured value is {m}")
    has_value, has_bound = expected is not None, (lo is not None or hi is not None)
    if has_value == has_bound:
        raise ValueError(f"claim {name!r}: give either expected (with rtol/atol) or lo/hi bounds")
    if exact and (not has_value or rtol or atol):
        raise ValueError(f"claim {name!r}: exact=True takes an expected value and no tolerance")
    if has_value and rtol == 0 and atol == 0 and not exact:
        raise ValueError(f"claim {name!r}: an expected value needs a tolerance (rtol or atol)")
    for label, v in (("expected", expected), ("lo", lo), ("hi", hi), ("rtol", rtol), ("atol", atol)):
        if v is not None and not math.isfinite(float(v)):
            raise ValueError(f"claim {name!r}: {label} is {v}")
    if interval is not None:
        if seeds is None or seeds < 2:
            raise ValueError(f"claim {name!r}: an interval needs seeds >= 2")
        interval = (float(interval[0]), float(interval[1]))
    c = Claim(name=name, measured=m, against=against, kind=kind,
              expected=None if expected is None else float(expected), rtol=float(rtol), atol=float(atol),
              lo=None if lo is None else float(lo), hi=None if hi is None else float(hi),
              paper=paper, paper_item=paper_item, paper_value=paper_value, seeds=seeds,
              interval=interval, exact=bool(exact))
    _publish(c)
    if not c.passed:
        raise ClaimFailed(f"claim {name!r} failed: measured {m:.6g}, expected {c.criterion} "
                          f"({kind}: {against})")


def mean_interval(values: Any, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed values and its Student-t confidence interval.

    Parameters
    ----------
    values : array_like of shape (n,)
        One measurement per seed, ``n >= 2``, all finite.
    confidence : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    mean, lo, hi : float
        ``mean ± t_{n-1, (1+confidence)/2} · s / sqrt(n)`` with ``s`` the sample standard deviation.
    """
    import numpy as np
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"mean_interval needs at least 2 values, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise ValueError("mean_interval: values must be finite")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(v.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half


def _publish(c: Claim) -> None:
    """Glue the claim when running inside a notebook kernel; do nothing in a plain script."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is not a dependency of nnmath
        return
    if get_ipython() is None:
        return
    try:
        from myst_nb import glue
    except ImportError:
        return
    glue(c.name, c, display=False)
    if c.interval is not None:
        glue(f"{c.name}__lo", c.interval[0], display=False)
        glue(f"{c.name}__hi", c.interval[1], display=False)
