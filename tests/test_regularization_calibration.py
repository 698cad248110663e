"""Tests for nnmath.calibration: reliability bins and the expected calibration error against a naive
loop over samples, hand-computed values, the edge conventions (right-closed bins, confidence 1 in the
last bin), a perfectly calibrated predictor, and bad input by message."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def ece_naive(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """Guo et al. (2017), eq. (3), written as a loop over the bins ((m-1)/M, m/M]."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    total = 0.0
    for m in range(1, n_bins + 1):
        lo, hi = (m - 1) / n_bins, m / n_bins
        inside = [i for i in range(len(conf)) if (lo < conf[i] <= hi) or (m == 1 and conf[i] == 0)]
        if inside:
            acc = np.mean([pred[i] == labels[i] for i in inside])
            total += len(inside) / len(conf) * abs(acc - np.mean(conf[inside]))
    return total


def random_probs(rng: np.random.Generator, n: int, c: int, temperature: float = 1.0) -> np.ndarray:
    z = rng.standard_normal((n, c)) / temperature
    return nm.softmax(z)[0]


@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_ece_matches_naive_loop(rng, n_bins):
    p = random_probs(rng, 200, 4, temperature=0.5)
    y = rng.integers(0, 4, 200)
    assert nm.expected_calibration_error(p, y, n_bins) == pytest.approx(ece_naive(p, y, n_bins), abs=1e-14)


def test_hand_computed_value():
    # confidences 0.9 (correct), 0.9 (wrong), 0.6 (correct); 2 bins: (0, .5], (.5, 1]
    p = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    y = np.array([0, 0, 0])
    bins = nm.reliability_bins(p, y, n_bins=2)
    np.testing.assert_array_equal(bins.count, [0, 3])
    assert np.isnan(bins.accuracy[0]) and np.isnan(bins.confidence[0])
    assert bins.accuracy[1] == pytest.approx(2 / 3) and bins.confidence[1] == pytest.approx(0.8)
    assert nm.expected_calibration_error(p, y, n_bins=2) == pytest.approx(abs(2 / 3 - 0.8), abs=1e-15)


def test_bin_edges_right_closed():
    p = np.array([[0.5, 0.5], [1.0, 0.0], [0.75, 0.25]])
    bins = nm.reliability_bins(p, np.array([0, 0, 0]), n_bins=4)
    np.testing.assert_array_equal(bins.count, [0, 1, 1, 1])     # 0.5 -> (.25,.5], 0.75 -> (.5,.75], 1 -> last
    np.testing.assert_allclose(bins.edges, [0, 0.25, 0.5, 0.75, 1.0])


def test_confidence_on_an_edge_not_representable_exactly():
    # 7/25 * 25 rounds to 7.000000000000001: the bin must still be (6/25, 7/25], as in the loop
    p = np.array([[7 / 25, 6 / 25, 6 / 25, 6 / 25], [14 / 25, 11 / 25, 0, 0]])
    y = np.array([0, 0])
    bins = nm.reliability_bins(p, y, n_bins=25)
    assert bins.count[6] == 1 and bins.count[13] == 1
    assert nm.expected_calibration_error(p, y, 25) == pytest.approx(ece_naive(p, y, 25), abs=1e-15)


def test_calibrated_predictor_has_small_ece(rng):
    # labels drawn from the predicted distribution: calibrated by construction, ECE -> 0 as N grows
    n = 40_000
    p = random_probs(rng, n, 3)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    assert nm.expected_calibration_error(p, y, 10) < 0.02
    # an overconfident predictor (sharpened probabilities, the same labels) is not
    sharp = nm.softmax(np.log(p) * 4)[0]
    assert nm.expected_calibration_error(sharp, y, 10) > 0.1


def test_empty_input_and_one_hot():
    assert nm.expected_calibration_error(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 0.0
    eye = np.eye(3)
    assert nm.expected_calibration_error(eye, np.arange(3)) == 0.0
    assert nm.expected_calibration_error(eye, np.array([1, 2, 0])) == 1.0


def test_bad_input():
    p = np.full((4, 2), 0.5)
    with pytest.raises(ValueError, match=r"labels must be integer class indices of shape \(4,\)"):
        nm.expected_calibration_error(p, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="labels must be integer"):
        nm.expected_calibration_error(p, np.zeros(4))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        nm.expected_calibration_error(p, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="not logits"):
        nm.expected_calibration_error(p * 3, np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="probs must be 2-D"):
        nm.expected_calibration_error(np.full(4, 0.5), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        nm.reliability_bins(p, np.zeros(4, dtype=int), n_bins=0)
