"""nnmath.conv: convolution, im2col/col2im and pooling.

Gradient checks (float64, random upstream), fast path against the naive loop, PyTorch parity
(forward and every gradient), SciPy parity for the single-channel correlation/convolution, an
injected col2im bug that the checks must catch, and bad input.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import nnmath as nm
import nnmath.conv as conv_mod

# (H, W, kH, kW, stride, padding, dilation): padding 0, non-square inputs and kernels, overlapping
# windows (stride < kernel), gaps (stride > kernel), dilation, asymmetric pairs and 'same'.
CONV_SETTINGS = [
    (5, 5, 3, 3, 1, 0, 1),
    (6, 7, 3, 2, 1, 0, 1),
    (7, 6, 2, 3, 2, 1, 1),
    (8, 7, 3, 3, 2, 0, 1),
    (7, 9, 3, 3, 1, 2, 2),
    (9, 8, 2, 2, 3, 1, 1),
    (6, 9, 3, 1, (2, 1), (1, 0), (1, 3)),
    (5, 6, 4, 3, 1, "same", 1),
    (6, 6, 3, 3, 1, "same", 2),
    (4, 5, 4, 5, 1, 0, 1),               # kernel as large as the input: one output position
]


def ids(settings):
    return [f"H{s[0]}W{s[1]}k{s[2]}x{s[3]}s{s[4]}p{s[5]}d{s[6]}" for s in settings]


def conv_inputs(rng, H, W, kh, kw, n=2, c_in=3, c_out=4):
    return (rng.standard_normal((n, c_in, H, W)), rng.standard_normal((c_out, c_in, kh, kw)),
            rng.standard_normal(c_out))


# --- output size --------------------------------------------------------------------------------
def test_conv_output_size_matches_formula_and_torch_many_settings():
    torch = pytest.importorskip("torch")
    for n, k, s, p, d in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(0, 3), range(1, 3)):
        span = d * (k - 1) + 1
        if span > n + 2 * p:
            with pytest.raises(ValueError, match="larger than the padded input"):
                nm.conv_output_size(n, k, s, p, d)
            continue
        size = nm.conv_output_size(n, k, s, p, d)
        assert size == math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1
        out = torch.nn.functional.conv2d(torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1),
                                         stride=(s, 1), padding=(p, 0), dilation=(d, 1))
        assert out.shape[2] == size


def test_conv_output_size_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        nm.conv_output_size(5, 3, stride=0)
    with pytest.raises(ValueError, match="spans 5"):
        nm.conv_output_size(4, 3, dilation=2)


# --- single-channel correlation and convolution ---------------------------------------------------
@pytest.mark.parametrize("mode", ["valid", "full", "same"])
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (4, 3), (1, 1), (5, 2)])
def test_correlate_and_convolve_match_scipy(mode, kshape):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(1)
    image, kernel = rng.standard_normal((7, 6)), rng.standard_normal(kshape)
    np.testing.assert_allclose(nm.correlate2d(image, kernel, mode), signal.correlate2d(image, kernel, mode),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(nm.convolve2d(image, kernel, mode), signal.convolve2d(image, kernel, mode),
                               rtol=0, atol=1e-12)


def test_seed_convolve2d_is_a_correlation():
    image = np.arange(1.0, 26.0).reshape(5, 5)
    sobel_x = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    # the seed's loop: output[i, j] = sum(image[i:i+3, j:j+3] * kernel)
    seed = np.array([[np.sum(image[i:i + 3, j:j + 3] * sobel_x) for j in range(3)] for i in range(3)])
    np.testing.assert_array_equal(nm.correlate2d(image, sobel_x), seed)
    np.testing.assert_array_equal(nm.convolve2d(image, sobel_x), -seed)   # Sobel flipped = -Sobel
    np.testing.assert_array_equal(seed, np.full((3, 3), 8.0))              # a linear ramp: constant


def test_correlation_equals_conv2d_single_channel():
    rng = np.random.default_rng(2)
    image, kernel = rng.standard_normal((9, 8)), rng.standard_normal((3, 3))
    y, _ = nm.conv2d(image[None, None], kernel[None, None], padding=1)
    np.testing.assert_allclose(y[0, 0], nm.correlate2d(image, kernel, "same"), rtol=0, atol=1e-13)


def test_correlate_bad_mode_and_ndim():
    with pytest.raises(ValueError, match="mode"):
        nm.correlate2d(np.ones((4, 4)), np.ones((2, 2)), mode="circular")
    with pytest.raises(ValueError, match=r"image must be 2-D.*\(1, 4, 4\)"):
        nm.correlate2d(np.ones((1, 4, 4)), np.ones((2, 2)))


# --- conv2d: fast vs naive, gradients, torch --------------------------------------------------------
@pytest.mark.parametrize("H,W,kh,kw,s,p,d", CONV_SETTINGS, ids=ids(CONV_SETTINGS))
def test_conv2d_fast_matches_naive(H, W, kh, kw, s, p, d):
    rng = np.random.default_rng(3)
    x, w, b = conv_inputs(rng, H, W, kh, kw)
    y, cache = nm.conv2d(x, w, b, s, p, d)
    y_ref, cache_ref = nm.conv2d_naive(x, w, b, s, p, d)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    dout = rng.standard_normal(y.shape)
    for g, g_ref in zip(nm.conv2d_backward(dout, cache), nm.conv2d_backward_naive(dout, cache_ref)):
        np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("H,W,kh,kw,s,p,d", CONV_SETTINGS, ids=ids(CONV_SETTINGS))
def test_conv2d_gradcheck(H, W, kh, kw, s, p, d):
    rng = np.random.default_rng(4)
    x, w, b = conv_inputs(rng, H, W, kh, kw, n=2, c_in=2, c_out=3)
    report = nm.gradcheck(nm.conv2d, nm.conv2d_backward, x, w, b, stride=s, padding=p, dilation=d,
                          names=["x", "weight", "bias"])
    assert report.passed and report.max_rel_error < 1e-7, str(report)


def test_conv2d_gradcheck_without_bias_and_naive_backward():
    rng = np.random.default_rng(5)
    x, w, _ = conv_inputs(rng, 6, 5, 3, 2)

    def op(x, w):
        return nm.conv2d(x, w, None, stride=2, padding=1)

    def op_backward(dout, cache):
        dx, dw, db = nm.conv2d_backward(dout, cache)
        assert db is None
        return dx, dw

    assert nm.gradcheck(op, op_backward, x, w).max_rel_error < 1e-7
    report = nm.gradcheck(nm.conv2d_naive, nm.conv2d_backward_naive, x, w, rng.standard_normal(4), padding=1,
                          dilation=2)
    assert report.max_rel_error < 1e-7


@pytest.mark.parametrize("H,W,kh,kw,s,p,d", CONV_SETTINGS, ids=ids(CONV_SETTINGS))
def test_conv2d_torch_parity(H, W, kh, kw, s, p, d):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, w, b = conv_inputs(rng, H, W, kh, kw)
    y, cache = nm.conv2d(x, w, b, s, p, d)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with warnings.catch_warnings():   # torch's own note that asymmetric 'same' padding copies the input
        warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
        yt = torch.nn.functional.conv2d(xt, wt, bt, s, p, d)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-12)
    dout = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(dout))
    for g, t in zip(nm.conv2d_backward(dout, cache), (xt, wt, bt)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=0, atol=1e-12)


def test_conv2d_same_with_even_kernel_pads_bottom_right_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x, w, b = conv_inputs(rng, 5, 6, 4, 2)
    y, _ = nm.conv2d(x, w, b, padding="same")
    # PyTorch puts the extra row/column at the bottom/right: pad explicitly to compare silently
    xp = np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 1)))
    yt = torch.nn.functional.conv2d(torch.tensor(xp), torch.tensor(w), torch.tensor(b))
    assert y.shape == x.shape[:1] + (4,) + x.shape[2:]
    np.testing.assert_allclose(y, yt.numpy(), rtol=0, atol=1e-12)


def test_backward_input_gradient_is_full_convolution_with_kernel():
    # the chapter's equation: for stride 1, dx = full convolution of dout with the kernel, and
    # dw = valid correlation of the input with dout
    rng = np.random.default_rng(8)
    image, kernel = rng.standard_normal((7, 9)), rng.standard_normal((3, 2))
    y, cache = nm.conv2d(image[None, None], kernel[None, None])
    dout = rng.standard_normal(y.shape)
    dx, dw, _ = nm.conv2d_backward(dout, cache)
    np.testing.assert_allclose(dx[0, 0], nm.convolve2d(dout[0, 0], kernel, "full"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dw[0, 0], nm.correlate2d(image, dout[0, 0]), rtol=0, atol=1e-12)


# --- im2col / col2im ------------------------------------------------------------------------------
@pytest.mark.parametrize("H,W,kh,kw,s,p,d", [c for c in CONV_SETTINGS if c[5] != "same"],
                         ids=ids([c for c in CONV_SETTINGS if c[5] != "same"]))
def test_im2col_col2im_match_torch_unfold_fold_and_are_adjoint(H, W, kh, kw, s, p, d):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, H, W))
    cols = nm.im2col(x, (kh, kw), dilation=d, padding=p, stride=s)
    c = rng.standard_normal(cols.shape)
    back = nm.col2im(c, (H, W), (kh, kw), dilation=d, padding=p, stride=s)
    # adjointness <im2col(x), c> = <x, col2im(c)>: col2im is exactly im2col's backward
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    np.testing.assert_array_equal(cols, F.unfold(torch.tensor(x), (kh, kw), d, p, s).numpy())
    np.testing.assert_allclose(back, F.fold(torch.tensor(c), (H, W), (kh, kw), d, p, s).numpy(), rtol=0, atol=1e-12)


def _col2im_padded_reference(cols, g):
    """col2im the long way round: add every tap into a padded image, then crop the padding off."""
    N, C = g.x_shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out_hw
    pt, pb, pl, pr = g.pads
    out = np.zeros((N, C, g.x_shape[2] + pt + pb, g.x_shape[3] + pl + pr), dtype=cols.dtype)
    cols = cols.reshape(N, C, kh, kw, OH, OW)
    for u in range(kh):
        for v in range(kw):
            out[:, :, u * dh:u * dh + sh * (OH - 1) + 1:sh, v * dw:v * dw + sw * (OW - 1) + 1:sw] += cols[:, :, u, v]
    return g.unpad(out)


def test_col2im_adds_into_the_unpadded_image_exactly_like_a_padded_buffer():
    # the fast col2im clips each tap's windows to the image instead of cropping a padded buffer;
    # the sums are the same sums in the same order, so the results are bitwise equal - including taps
    # that fall entirely on the padding (H=1 with a 3-tall kernel and padding 1, large paddings)
    rng = np.random.default_rng(19)
    checked = 0
    for H, W, kh, kw, s, ph, pw, d in itertools.product([1, 2, 5], [3, 4], [1, 2, 3], [2, 3], [1, 2, 3],
                                                        [0, 1, 3], [0, 2], [1, 2]):
        try:
            g = conv_mod._Geometry.build((2, 3, H, W), (kh, kw), s, (ph, pw), d)
        except ValueError:     # kernel larger than the padded input
            continue
        for dtype in (np.float64, np.float32):
            cols = rng.standard_normal((2, 3 * kh * kw, g.out_hw[0] * g.out_hw[1])).astype(dtype)
            fast = conv_mod._col2im(cols, g)
            assert fast.dtype == dtype and fast.flags.c_contiguous
            np.testing.assert_array_equal(fast, _col2im_padded_reference(cols, g))
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("value", [0.0, -np.inf])
def test_geometry_pad_matches_np_pad(value):
    g = conv_mod._Geometry.build((2, 3, 4, 5), (3, 4), 1, "same", 1)     # asymmetric: (1, 1, 1, 2)
    assert g.pads == (1, 1, 1, 2)
    x = np.random.default_rng(20).standard_normal((2, 3, 4, 5)).astype(np.float32)
    padded = g.pad(x, value)
    assert padded.dtype == np.float32
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 2)), constant_values=value))
    assert conv_mod._Geometry.build(x.shape, 3, 1, 0, 1).pad(x) is x     # no padding: no copy


def test_col2im_bad_shapes():
    with pytest.raises(ValueError, match=r"multiple of kH\*kW = 9"):
        nm.col2im(np.zeros((1, 10, 4)), (4, 4), 3)
    with pytest.raises(ValueError, match="has 5 windows"):
        nm.col2im(np.zeros((1, 9, 5)), (4, 4), 3)


def _col2im_fancy_index_bug(cols, g, out=None):
    """col2im written with `+=` on fancy indices: duplicate targets keep only one contribution."""
    N, C = cols.shape[0], g.x_shape[1]
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out_hw
    pt, pb, pl, pr = g.pads
    padded = np.zeros((N, C, g.x_shape[2] + pt + pb, g.x_shape[3] + pl + pr))
    u, v, i, j = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(OH), np.arange(OW), indexing="ij")
    rows, cols_ = (u * dh + i * sh).ravel(), (v * dw + j * sw).ravel()
    padded[:, :, rows, cols_] += cols.reshape(N, C, -1)   # the bug: NOT np.add.at
    if out is None:
        return g.unpad(padded)
    out[...] = g.unpad(padded)
    return out


def test_injected_col2im_fancy_index_bug_is_caught(monkeypatch):
    rng = np.random.default_rng(10)
    x, w, b = conv_inputs(rng, 6, 6, 3, 3, c_in=2, c_out=2)
    # without overlap (stride == kernel) every pixel is hit once and the buggy scatter is correct
    assert nm.gradcheck(nm.conv2d, nm.conv2d_backward, x, w, b, stride=3).passed
    monkeypatch.setattr(conv_mod, "_col2im", _col2im_fancy_index_bug)
    # conv2d_backward's col2im of w^T dout, with the same bug
    monkeypatch.setattr(conv_mod, "_col2im_matmul",
                        lambda w, d, g, out=None:
                        _col2im_fancy_index_bug(w.reshape(w.shape[0], -1).T @ d, g, out))
    assert nm.gradcheck(nm.conv2d, nm.conv2d_backward, x, w, b, stride=3).passed
    # with overlapping windows, both the conv and the max-pool gradients are caught
    with pytest.raises(nm.GradcheckError):
        nm.gradcheck(nm.conv2d, nm.conv2d_backward, x, w, b, stride=1)
    xp = rng.permutation(x.size).reshape(x.shape) / x.size
    report = nm.gradcheck(nm.avg_pool2d, nm.avg_pool2d_backward, xp, kernel_size=3, stride=1,
                          raise_on_failure=False)
    assert not report.passed


# --- pooling ------------------------------------------------------------------------------------------
POOL_SETTINGS = [  # (kernel, stride, padding, dilation)
    (2, None, 0, 1),
    (3, 2, 1, 1),          # overlapping windows
    (3, 1, 1, 2),
    ((3, 2), (1, 2), (1, 0), 1),
    (2, 3, 0, 1),          # gaps between windows
]


def distinct(rng, shape):
    """Values with no ties (a permutation), spaced 1/size apart: central differences with h=1e-6
    never swap two entries, so max pooling is differentiable at the checked point."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape) - 0.5


@pytest.mark.parametrize("k,s,p,d", POOL_SETTINGS)
def test_max_pool_gradcheck_and_torch_parity(k, s, p, d):
    rng = np.random.default_rng(11)
    x = distinct(rng, (2, 3, 9, 8))
    report = nm.gradcheck(nm.max_pool2d, nm.max_pool2d_backward, x, kernel_size=k, stride=s, padding=p, dilation=d)
    assert report.passed and report.max_rel_error < 1e-7
    torch = pytest.importorskip("torch")
    y, cache = nm.max_pool2d(x, k, s, p, d)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, k, s, p, d)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    dout = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(nm.max_pool2d_backward(dout, cache), xt.grad.numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("k,s,p", [c[:3] for c in POOL_SETTINGS])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_gradcheck_and_torch_parity(k, s, p, count_include_pad):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 9, 8))
    report = nm.gradcheck(nm.avg_pool2d, nm.avg_pool2d_backward, x, kernel_size=k, stride=s, padding=p,
                          count_include_pad=count_include_pad)
    assert report.passed and report.max_rel_error < 1e-7
    torch = pytest.importorskip("torch")
    y, cache = nm.avg_pool2d(x, k, s, p, count_include_pad)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.avg_pool2d(xt, k, s, p, count_include_pad=count_include_pad)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-14)
    dout = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(nm.avg_pool2d_backward(dout, cache), xt.grad.numpy(), rtol=0, atol=1e-14)


def test_max_pool_ties_go_to_first_maximum_like_torch():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, :2, :2] = 1.0                      # a tie inside the first window
    y, cache = nm.max_pool2d(x, 2)
    g = nm.max_pool2d_backward(np.ones_like(y), cache)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    np.testing.assert_array_equal(g, xt.grad.numpy())
    assert g.sum() == y.size                  # each window sends its gradient to exactly one pixel


def test_pool_padding_limit_and_shapes():
    with pytest.raises(ValueError, match="at most half the kernel"):
        nm.max_pool2d(np.zeros((1, 1, 6, 6)), 2, padding=2)
    with pytest.raises(ValueError, match="at most half the kernel"):
        nm.avg_pool2d(np.zeros((1, 1, 6, 6)), 3, padding=2)
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got shape \(6, 6\)"):
        nm.max_pool2d(np.zeros((6, 6)), 2)
    y, cache = nm.max_pool2d(np.zeros((2, 3, 6, 6)), 2)
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(2, 3, 3, 3\)"):
        nm.max_pool2d_backward(np.zeros((3, 2, 3, 3)), cache)


# --- errors -------------------------------------------------------------------------------------------
def test_conv2d_errors_name_shapes():
    x, w = np.zeros((2, 3, 4, 4)), np.zeros((5, 3, 5, 5))
    with pytest.raises(ValueError, match=r"larger than the padded input 4x4: input shape \(2, 3, 4, 4\)"):
        nm.conv2d(x, w)
    nm.conv2d(x, w, padding=1)                                   # 6x6 padded: fits
    with pytest.raises(ValueError, match=r"spans 5x5.*padded input 4x4"):
        nm.conv2d(x, np.zeros((5, 3, 3, 3)), dilation=2)
    with pytest.raises(ValueError, match=r"x\.shape=\(2, 3, 4, 4\) \(axis 1 = 3\).*weight\.shape=\(5, 2, 3, 3\)"):
        nm.conv2d(x, np.zeros((5, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\).*got bias\.shape=\(3,\)"):
        nm.conv2d(x, np.zeros((5, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"weight must be 4-D \(C_out, C_in, kH, kW\), got shape \(3, 3\)"):
        nm.conv2d(x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        nm.conv2d(np.zeros((3, 4, 4)), np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"at least one output channel, got weight\.shape=\(0, 3, 3, 3\)"):
        nm.conv2d(x, np.zeros((0, 3, 3, 3)))                     # PyTorch refuses it too
    with pytest.raises(ValueError, match="stride must be >= 1"):
        nm.conv2d(x, np.zeros((5, 3, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nm.conv2d(x, np.zeros((5, 3, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        nm.conv2d(x, np.zeros((5, 3, 3, 3)), padding="full")
    _, cache = nm.conv2d(x, np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(2, 5, 2, 2\), got dout\.shape=\(2, 5, 4, 4\)"):
        nm.conv2d_backward(np.zeros((2, 5, 4, 4)), cache)


def test_extreme_inputs_are_finite_without_warnings():
    # pytest turns warnings into errors: large magnitudes, one pixel, an empty batch
    rng = np.random.default_rng(13)
    x, w, b = conv_inputs(rng, 5, 5, 3, 3)
    y, cache = nm.conv2d(1e150 * x, 1e-150 * w, b, padding=1)
    assert np.all(np.isfinite(y))
    assert all(np.all(np.isfinite(g)) for g in nm.conv2d_backward(np.ones_like(y), cache))
    y, _ = nm.conv2d(np.ones((1, 1, 1, 1)), np.full((2, 1, 1, 1), 2.0))
    np.testing.assert_array_equal(y.ravel(), [2.0, 2.0])
    y, cache = nm.conv2d(np.zeros((0, 3, 5, 5)), w, b)
    assert y.shape == (0, 4, 3, 3)
    dx, dw, db = nm.conv2d_backward(y, cache)
    assert dx.shape == (0, 3, 5, 5) and not dw.any() and not db.any()
    y, cache = nm.max_pool2d(np.full((1, 1, 4, 4), -1e308), 2, padding=1)
    assert np.all(y == -1e308)


def test_float32_stays_float32():
    rng = np.random.default_rng(14)
    x, w, b = (a.astype(np.float32) for a in conv_inputs(rng, 5, 5, 3, 3))
    y, cache = nm.conv2d(x, w, b)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in nm.conv2d_backward(np.ones_like(y), cache))


# --- modules ------------------------------------------------------------------------------------------
def test_conv2d_module_init_like_torch_and_gradcheck():
    rng = np.random.default_rng(15)
    layer = nm.Conv2d(3, 4, (3, 2), stride=2, padding=1, rng=rng)
    assert layer.weight.shape == (4, 3, 3, 2) and layer.bias.shape == (4,)
    bound = 1 / math.sqrt(3 * 3 * 2)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    big = nm.Conv2d(64, 64, 3, rng=rng)                 # U(-b, b) has std b/sqrt(3)
    np.testing.assert_allclose(big.weight.data.std(), 1 / math.sqrt(64 * 9) / math.sqrt(3), rtol=0.02)
    report = nm.gradcheck_module(layer, rng.standard_normal((2, 3, 7, 6)))
    assert report.passed and report.max_rel_error < 1e-7
    assert nm.Conv2d(3, 4, 3, bias=False, rng=rng).bias is None


def test_conv2d_module_accumulates_and_matches_torch_module():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(16)
    layer = nm.Conv2d(2, 3, 3, padding=1, dilation=1, rng=rng)
    ref = torch.nn.Conv2d(2, 3, 3, padding=1).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.data))
        ref.bias.copy_(torch.tensor(layer.bias.data))
    x = rng.standard_normal((2, 2, 5, 4))
    dout = rng.standard_normal((2, 3, 5, 4))
    for _ in range(2):  # two backward passes add up, as in PyTorch
        layer(x)
        layer.backward(dout)
        ref(torch.tensor(x)).backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=0, atol=1e-12)


def test_small_cnn_gradcheck_end_to_end():
    rng = np.random.default_rng(17)
    model = nm.Sequential(nm.Conv2d(1, 2, 3, padding=1, rng=rng), nm.Tanh(), nm.AvgPool2d(2),
                          nm.Conv2d(2, 3, 2, rng=rng), nm.MaxPool2d(2, stride=1), nm.Flatten(),
                          nm.Linear(3, 2, rng=rng))
    report = nm.gradcheck_module(model, rng.standard_normal((2, 1, 6, 6)))
    assert report.passed and report.max_rel_error < 1e-6


def test_pool_and_flatten_modules():
    rng = np.random.default_rng(18)
    x = distinct(rng, (2, 3, 6, 4))
    for layer in (nm.MaxPool2d(2), nm.AvgPool2d(3, stride=1, padding=1), nm.Flatten()):
        report = nm.gradcheck_module(layer, x)
        assert report.passed and report.max_rel_error < 1e-7
    assert nm.Flatten()(x).shape == (2, 72)
    assert nm.Flatten(0, 1)(x).shape == (6, 6, 4)
    with pytest.raises(ValueError, match="start_dim=2 comes after end_dim=1"):
        nm.Flatten(2, 1)(x)


# --- edge cases a PyTorch user hits --------------------------------------------------------------
@pytest.mark.parametrize("k,p,d", [(3, 1, 1), (2, 1, 1), (3, 1, 2), ((3, 2), (1, 1), 1)])
def test_max_pool_all_neg_inf_window_routes_to_first_real_pixel_like_torch(k, p, d, th):
    """A window whose real pixels are all -inf: the padding (-inf too) must not win the argmax."""
    x = np.full((1, 2, 5, 5), -np.inf)
    x[0, 1, 2:, 2:] = np.arange(9.0).reshape(3, 3)            # the second channel has real values too
    y, cache = nm.max_pool2d(x, k, 1, p, d)
    xt = th.T(x, grad=True)
    yt = th.F.max_pool2d(xt, k, 1, p, d)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    dout = np.random.default_rng(0).standard_normal(y.shape)
    yt.backward(th.T(dout))
    g = nm.max_pool2d_backward(dout, cache)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(g.sum(), dout.sum(), rtol=1e-12)   # no window's gradient is dropped


@pytest.mark.parametrize("c_in", [conv_mod._TAPWISE_MIN_CHANNELS - 1, conv_mod._TAPWISE_MIN_CHANNELS])
@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 1, 1), (1, "same", 2), (3, 0, 1), (2, 2, 2)])
def test_both_input_gradient_paths_match_the_loop(c_in, stride, padding, dilation, rng):
    """conv2d_backward forms col2im(w^T dout) per kernel tap from _TAPWISE_MIN_CHANNELS input
    channels on, as one product below: both equal the naive loop, and the tap-wise one gradchecks."""
    x, w, b = conv_inputs(rng, 7, 6, 3, 2, n=2, c_in=c_in, c_out=3)
    out, cache = nm.conv2d(x, w, b, stride, padding, dilation)
    _, naive_cache = nm.conv2d_naive(x, w, b, stride, padding, dilation)
    dout = rng.standard_normal(out.shape)
    for fast, slow in zip(nm.conv2d_backward(dout, cache), nm.conv2d_backward_naive(dout, naive_cache)):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    report = nm.gradcheck(nm.conv2d, nm.conv2d_backward, x, w, b, stride=stride, padding=padding,
                          dilation=dilation, fast=True)
    assert report.passed and report.max_rel_error < 1e-7, str(report)
