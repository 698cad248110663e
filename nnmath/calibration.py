r"""Calibration of a classifier's confidence: reliability bins and the expected calibration error.

A classifier is *calibrated* when, among the inputs to which it assigns confidence
:math:`\max_c p_c \approx q`, a fraction :math:`q` is classified correctly. With the confidences
sorted into :math:`M` equal-width bins :math:`B_1..B_M` of :math:`[0, 1]`, the **expected
calibration error** (Naeini et al., 2015; Guo et al., 2017) is the weighted gap between accuracy
and mean confidence,

.. math::

    \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{N}\,
        \bigl|\operatorname{acc}(B_m) - \operatorname{conf}(B_m)\bigr|,

with :math:`M = 15` by default, as in Guo et al. Bin :math:`m` holds the confidences in
:math:`((m-1)/M,\, m/M]` (right-closed, so a confidence of exactly 1 lands in the last bin).
PyTorch has no such function; ``torchmetrics.CalibrationError(norm="l1")`` computes the same
quantity.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._checks import Array, as_array, check_ndim

__all__ = ["ReliabilityBins", "reliability_bins", "expected_calibration_error"]


class ReliabilityBins(NamedTuple):
    edges: Array            # (M + 1,) bin edges 0, 1/M, ..., 1
    count: np.ndarray       # (M,) number of samples per bin (int64)
    confidence: Array       # (M,) mean confidence per bin (NaN for an empty bin)
    accuracy: Array         # (M,) fraction correct per bin (NaN for an empty bin)


def _conf_correct(probs: ArrayLike, labels: ArrayLike) -> tuple[Array, Array]:
    p = as_array(probs, "probs")
    check_ndim(p, 2, "probs", "(N, C) class probabilities")
    y = np.asarray(labels)
    if y.shape != (p.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices of shape ({p.shape[0]},) for "
                         f"probs.shape={p.shape}, got labels.shape={y.shape}, dtype={y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"labels must be in [0, {p.shape[1]}), got min {y.min()} and max {y.max()}")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("probs must lie in [0, 1] (pass softmax probabilities, not logits)")
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def reliability_bins(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> ReliabilityBins:
    """Mean confidence and accuracy per equal-width confidence bin (the reliability diagram's data).

    Parameters
    ----------
    probs : array_like of shape (N, C)
        Predicted class probabilities; the confidence is the row maximum, the prediction its arg-max.
    labels : array_like of int, shape (N,)
    n_bins : int
        :math:`M`, default 15.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    conf, correct = _conf_correct(probs, labels)
    edges = np.arange(n_bins + 1) / n_bins          # m/M correctly rounded, as the bins are defined
    # right-closed bins ((m-1)/M, m/M], found by comparison with the edges (ceil(conf * M) can
    # round across an edge: 7/25 * 25 > 7); a confidence of 0 (impossible for a softmax) goes to bin 1
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, np.bincount(idx, conf, n_bins) / np.maximum(count, 1), np.nan)
        acc = np.where(count > 0, np.bincount(idx, correct, n_bins) / np.maximum(count, 1), np.nan)
    return ReliabilityBins(edges, count, mean_conf, acc)


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> float:
    r"""ECE :math:`= \sum_m \frac{|B_m|}{N}\,|\operatorname{acc}(B_m) - \operatorname{conf}(B_m)|`
    over :func:`reliability_bins` (empty bins contribute nothing). In :math:`[0, 1]`."""
    bins = reliability_bins(probs, labels, n_bins)
    n = bins.count.sum()
    if n == 0:
        return 0.0
    full = bins.count > 0
    return float(np.sum(bins.count[full] * np.abs(bins.accuracy[full] - bins.confidence[full])) / n)
