"""RoPE: rotations by m*theta_i, scores that depend on n - m only, backward = transpose."""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm


def rotation_matrix(m: float, d: int, base: float = 10000.0) -> np.ndarray:
    """The block-diagonal rotation R_m of the paper, built entry by entry (the naive reference)."""
    R = np.zeros((d, d))
    for i in range(d // 2):
        t = m * base ** (-2 * i / d)
        R[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]
    return R


def test_equals_block_rotation_matrices(rng) -> None:
    x = rng.standard_normal((2, 5, 8))
    out, _ = nm.rope(x)
    ref = np.stack([x[:, m] @ rotation_matrix(m, 8).T for m in range(5)], axis=1)
    np.testing.assert_allclose(out, ref, atol=1e-14)


def test_scores_depend_only_on_relative_position(rng) -> None:
    q, k = rng.standard_normal(16), rng.standard_normal(16)
    pos = np.arange(40)
    rq, _ = nm.rope(np.tile(q, (40, 1)), pos)
    rk, _ = nm.rope(np.tile(k, (40, 1)), pos)
    scores = rq @ rk.T                                    # scores[m, n]
    for delta in (-7, 0, 3, 20):
        diag = np.diagonal(scores, offset=delta)
        np.testing.assert_allclose(diag, diag[0], atol=1e-12)


@pytest.mark.parametrize("pairing", ["interleaved", "half"])
def test_gradcheck_and_norm_preservation(rng, pairing) -> None:
    x = rng.standard_normal((3, 6, 4))
    report = nm.gradcheck(lambda a: nm.rope(a, pairing=pairing), nm.rope_backward, x)
    assert report.max_rel_error < 1e-7
    out, _ = nm.rope(x, pairing=pairing)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-14)


def test_half_pairing_is_a_permutation_of_interleaved(rng) -> None:
    d = 8
    x = rng.standard_normal((5, d))
    perm = np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])   # (0,2,4,6,1,3,5,7)
    inter, _ = nm.rope(x)
    half, _ = nm.rope(x[:, perm], pairing="half")
    np.testing.assert_allclose(half, inter[:, perm], atol=1e-14)


def test_module_and_explicit_positions(rng) -> None:
    m = nm.RotaryEmbedding(4)
    x = rng.standard_normal((1, 3, 4))
    shifted = m(x, positions=np.array([10, 11, 12]))
    ref, _ = nm.rope(x, np.array([10, 11, 12]))
    np.testing.assert_allclose(shifted, ref)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(m.backward(dout), nm.rope_backward(dout, nm.rope(x, [10, 11, 12])[1]))
    assert list(m.parameters()) == []


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="even"):
        nm.rope(np.ones((3, 5)))
    with pytest.raises(ValueError, match="positions must have shape"):
        nm.rope(np.ones((3, 4)), positions=np.arange(4))
    with pytest.raises(ValueError, match="pairing"):
        nm.rope(np.ones((3, 4)), pairing="rotate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dim="):
        nm.RotaryEmbedding(4)(np.ones((2, 6)))
