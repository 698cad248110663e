"""Tests for nnmath.init: gains, fans, distributions, orthogonality, seeding, PyTorch parity.

Statistical tolerances are derived from the sample size, never tuned: every empirical moment must
lie within 5 standard errors of its exact value (a two-sided 5-sigma band, false-alarm probability
about 6e-7 per check for these near-Gaussian averages), and every draw is seeded, so the tests are
deterministic. For n i.i.d. weights with variance s^2:

* sample mean:            SE = s / sqrt(n)
* mean of w^2 (known mean 0): SE = sqrt((E[w^4] - s^4) / n), with E[w^4] = 3 s^4 (normal) and
  9/5 s^4 (uniform on [-a, a], a^2 = 3 s^2)
* fraction of |w| < s:    SE = sqrt(p (1 - p) / n), p = 0.6827 (normal) or 1/sqrt(3) (uniform)
* the largest |w| of U(-a, a) exceeds a (1 - 16/n) except with probability (1 - 16/n)^n < e^-16.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnmath as nm
from nnmath import init

Z = 5.0  # standard errors allowed

SHAPES = [(400, 300), (300, 400), (64, 32, 3, 3), (16, 8, 5)]


def _fans(shape):
    """Fans computed independently of nnmath: (in, out) for 2-D, PyTorch's rule for conv."""
    if len(shape) == 2:
        return shape[0], shape[1]
    k = math.prod(shape[2:])
    return shape[1] * k, shape[0] * k


def _assert_distribution(w, std, kind):
    """Mean, second moment, bounds and shape of ``w`` against N(0, std^2) or U(-sqrt3 std, sqrt3 std)."""
    w = np.asarray(w).ravel()
    n = w.size
    assert abs(w.mean()) <= Z * std / math.sqrt(n)
    fourth = 3 * std**4 if kind == "normal" else 9 / 5 * std**4
    assert abs(np.mean(w**2) - std**2) <= Z * math.sqrt((fourth - std**4) / n)
    p = math.erf(1 / math.sqrt(2)) if kind == "normal" else 1 / math.sqrt(3)
    assert abs(np.mean(np.abs(w) < std) - p) <= Z * math.sqrt(p * (1 - p) / n)
    if kind == "uniform":
        a = math.sqrt(3) * std
        assert np.abs(w).max() <= a
        assert np.abs(w).max() >= a * (1 - 16 / n)


# --- gains and fans -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, param, expected", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("conv_transpose3d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", 0, math.sqrt(2)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
    ("selu", None, 0.75),
])
def test_calculate_gain(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape, fans", [
    ((3, 5), (3, 5)),                 # Linear weight (in, out)
    ((8, 4, 3, 3), (36, 72)),         # Conv2d (out, in, kh, kw)
    ((8, 4, 5), (20, 40)),            # Conv1d
    ((2, 3, 2, 2, 2), (24, 16)),      # Conv3d
    ((6, 6, 1, 1), (6, 6)),           # 1x1 conv
])
def test_fans(shape, fans):
    assert init.calculate_fan_in_and_fan_out(shape) == fans
    assert init.calculate_fan_in_and_fan_out(np.zeros(shape)) == fans
    assert init.calculate_fan_in_and_fan_out(nm.Parameter(np.zeros(shape))) == fans


def test_fans_of_a_linear_layer_are_in_and_out_features():
    layer = nm.Linear(7, 3, rng=np.random.default_rng(0))
    assert init.calculate_fan_in_and_fan_out(layer.weight) == (7, 3)


def test_fans_need_two_axes():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(np.zeros(5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(np.zeros(5))


# --- distributions against the formulas -----------------------------------------------------------
def _expected_std(name, shape, **kw):
    fan_in, fan_out = _fans(shape)
    if name.startswith("xavier"):
        return kw.get("gain", 1.0) * math.sqrt(2 / (fan_in + fan_out))
    fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
    a = kw.get("a", 0.0)
    gains = {"relu": math.sqrt(2), "leaky_relu": math.sqrt(2 / (1 + a * a)), "tanh": 5 / 3, "linear": 1.0}
    return gains[kw.get("nonlinearity", "leaky_relu")] / math.sqrt(fan)


CASES = [
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 5 / 3}), ("xavier_normal_", {}),
    ("xavier_normal_", {"gain": 2.0}), ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"nonlinearity": "relu", "mode": "fan_out"}), ("kaiming_normal_", {}),
    ("kaiming_normal_", {"nonlinearity": "relu"}), ("kaiming_normal_", {"nonlinearity": "tanh", "mode": "fan_out"}),
    ("kaiming_normal_", {"a": 0.2, "nonlinearity": "leaky_relu"}), ("kaiming_normal_", {"nonlinearity": "linear"}),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name, kw", CASES)
def test_initializer_distribution(name, kw, shape):
    w = np.empty(shape)
    out = getattr(init, name)(w, **kw, rng=np.random.default_rng(1))
    assert out is w
    kind = "uniform" if name.endswith("uniform_") else "normal"
    _assert_distribution(w, _expected_std(name, shape, **kw), kind)


def test_uniform_and_normal():
    w = init.uniform_(np.empty((300, 300)), -0.3, 0.5, rng=np.random.default_rng(2))
    assert w.min() >= -0.3 and w.max() < 0.5
    _assert_distribution(w - 0.1, 0.8 / math.sqrt(12), "uniform")
    w = init.normal_(np.empty((300, 300)), mean=2.0, std=0.1, rng=np.random.default_rng(3))
    _assert_distribution(w - 2.0, 0.1, "normal")


def test_constant_zeros_ones():
    p = nm.Parameter(np.full((2, 3), 7.0))
    assert init.zeros_(p) is p and np.all(p.data == 0)
    assert np.all(init.ones_(p).data == 1)
    assert np.all(init.constant_(p, -2.5).data == -2.5)


# --- in-place semantics, seeding, bad input -------------------------------------------------------
def test_parameter_is_filled_in_place():
    p = nm.Parameter(np.zeros((20, 10)))
    data = p.data
    assert init.kaiming_normal_(p, rng=np.random.default_rng(0)) is p
    assert p.data is data and np.any(data != 0)   # same buffer: references held by optimizers stay valid
    assert np.all(p.grad == 0)


def test_float32_is_kept():
    w = init.xavier_uniform_(np.zeros((20, 10), dtype=np.float32), rng=np.random.default_rng(0))
    assert w.dtype == np.float32 and np.any(w != 0)


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                                  "orthogonal_", "uniform_", "normal_"])
def test_seeding(name):
    f = getattr(init, name)
    a = f(np.empty((6, 4)), rng=np.random.default_rng(5))
    b = f(np.empty((6, 4)), rng=np.random.default_rng(5))
    c = f(np.empty((6, 4)), rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    nm.manual_seed(11)
    d = f(np.empty((6, 4)))
    nm.manual_seed(11)
    np.testing.assert_array_equal(d, f(np.empty((6, 4))))


def test_bad_inputs():
    with pytest.raises(TypeError, match="floating-point array, got dtype=int64"):
        init.normal_(np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="in place on a Parameter or an ndarray, got list"):
        init.normal_([[0.0, 0.0]])
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(np.zeros((3, 3)), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.kaiming_uniform_(np.zeros((3, 3)), nonlinearity="softplus")


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                                  "orthogonal_"])
def test_zero_size_is_a_no_op(name):
    w = np.empty((0, 4))
    assert getattr(init, name)(w) is w


def test_linear_default_is_kaiming_uniform_with_a_sqrt5():
    """nnmath.Linear's default (PyTorch's) equals kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(in)."""
    layer = nm.Linear(30, 20, rng=np.random.default_rng(4))
    w = init.kaiming_uniform_(np.empty((30, 20)), a=math.sqrt(5), rng=np.random.default_rng(4))
    np.testing.assert_allclose(layer.weight.data, w, rtol=1e-15, atol=0)


# --- orthogonal -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (8, 4, 3, 3), (4, 8, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2)])
def test_orthogonal(shape, gain):
    w = init.orthogonal_(np.empty(shape), gain=gain, rng=np.random.default_rng(0))
    m = w.reshape(shape[0], -1) / gain
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-13)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-13)
    np.testing.assert_allclose(np.linalg.svd(w.reshape(shape[0], -1), compute_uv=False), gain, rtol=1e-13)


def test_orthogonal_is_haar_not_biased():
    """With the sign fix, the diagonal of a Haar orthogonal matrix has mean 0 (E[Q_ii] = 0).
    Without it, QR of a Gaussian matrix gives Q_ii > 0 on average. 4000 draws of 3x3: SE = sqrt(1/3/4000)."""
    rng = np.random.default_rng(0)
    diag = np.array([np.diag(init.orthogonal_(np.empty((3, 3)), rng=rng)) for _ in range(4000)])
    se = math.sqrt(1 / 3 / diag.size)  # Var[Q_11] = 1/3 for Haar 3x3
    assert abs(diag.mean()) <= Z * se


# --- PyTorch parity ---------------------------------------------------------------------------------
def _nm_scale(name, shape, kw):
    """The exact scale nnmath uses: draw once with the initializer, once with the unit distribution
    from an identically seeded generator (NumPy's uniform(-b, b) is -b + 2b*u, normal(0, s) is s*z)."""
    w = getattr(init, name)(np.empty(shape), **kw, rng=np.random.default_rng(7))
    ref = np.random.default_rng(7)
    unit = 2 * ref.random(shape) - 1 if name.endswith("uniform_") else ref.standard_normal(shape)
    return float(np.sum(w * unit) / np.sum(unit * unit))


def _torch_scale(torch, name, shape, kw):
    """The same for torch.nn.init (torch's uniform_(-b, b) is -b + 2b*u, normal_(0, s) is s*z)."""
    t = torch.empty(shape, dtype=torch.float64)
    getattr(torch.nn.init, name)(t, **kw, generator=torch.Generator().manual_seed(7))
    u = torch.empty(shape, dtype=torch.float64)
    g = torch.Generator().manual_seed(7)
    unit = (2 * u.uniform_(0, 1, generator=g) - 1) if name.endswith("uniform_") else u.normal_(0, 1, generator=g)
    return float((t * unit).sum() / (unit * unit).sum())


@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (8, 4, 3, 3), (6, 3, 5)])
@pytest.mark.parametrize("name, kw", CASES)
def test_same_distribution_as_torch(name, kw, shape):
    """Same fans => same bound/std as torch.nn.init. A 2-D nnmath weight (in, out) is compared with
    torch on the transposed shape (out, in) — torch's Linear layout; conv kernels share the layout."""
    torch = pytest.importorskip("torch")
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    ours = _nm_scale(name, shape, kw)
    theirs = _torch_scale(torch, name, torch_shape, kw)
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert ours == pytest.approx(_expected_std(name, shape, **kw) * (math.sqrt(3) if name.endswith("uniform_") else 1),
                                 rel=1e-12)


@pytest.mark.parametrize("name", ["linear", "sigmoid", "tanh", "relu", "selu", "conv2d"])
def test_gain_matches_torch(name):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15)
    assert init.calculate_gain("leaky_relu", 0.3) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.3))


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4, 3, 3)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    fans = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert init.calculate_fan_in_and_fan_out(shape) == fans


class _TorchNormals:
    """A stand-in generator whose ``standard_normal`` replays torch's draws: the same inputs."""

    def __init__(self, torch, seed):
        self.torch, self.g = torch, torch.Generator().manual_seed(seed)

    def standard_normal(self, size):
        return self.torch.empty(size, dtype=self.torch.float64).normal_(0, 1, generator=self.g).numpy()


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (5, 5), (4, 2, 3, 3)])
def test_orthogonal_matches_torch_given_the_same_normals(shape):
    torch = pytest.importorskip("torch")
    t = torch.empty(shape, dtype=torch.float64)
    torch.nn.init.orthogonal_(t, gain=1.5, generator=torch.Generator().manual_seed(3))
    ours = init.orthogonal_(np.empty(shape), gain=1.5, rng=_TorchNormals(torch, 3))
    np.testing.assert_allclose(ours, t.numpy(), rtol=0, atol=1e-12)
