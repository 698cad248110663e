r"""Weight initialization with PyTorch's names and semantics (``torch.nn.init``).

Every initializer fills its argument **in place** and returns it, like PyTorch's trailing-underscore
functions. The argument is a :class:`~nnmath.module.Parameter` (its ``data`` is overwritten) or a
floating-point ndarray. Random draws come from a NumPy ``Generator``: pass ``rng=``, or omit it to
use the package generator seeded by :func:`~nnmath.rng.manual_seed` (PyTorch's keyword is
``generator``).

The scale of each scheme follows from keeping the variance of activations (forward) or of
back-propagated gradients (backward) constant from layer to layer (see the vanishing-gradients
chapter). For a layer with ``fan_in`` inputs and ``fan_out`` outputs per unit,

.. math::

    \begin{aligned}
    &\text{Xavier/Glorot:}\\
    &\operatorname{Var}[w] = \text{gain}^2\,\frac{2}{\mathrm{fan\_in}+\mathrm{fan\_out}},\\
    &\text{Kaiming/He:}\\
    &\operatorname{Var}[w] = \frac{\text{gain}^2}{\mathrm{fan\_mode}},
    \end{aligned}

and a uniform distribution :math:`U(-a, a)` has variance :math:`a^2/3`, so its bound is
:math:`a = \sqrt3\,\text{std}`.

**Layout, and the one place nnmath differs from PyTorch.** nnmath's
:class:`~nnmath.linear.Linear` stores its weight as ``(in_features, out_features)`` (so that the
code reads :math:`y = xW`), the transpose of ``torch.nn.Linear.weight``. The fans of a 2-D array
are therefore ``fan_in = shape[0]``, ``fan_out = shape[1]`` — the opposite of PyTorch's, so that
each initializer gives an nnmath ``Linear`` exactly the distribution PyTorch gives the
corresponding ``torch.nn.Linear``. Arrays with three or more axes are convolution kernels in
PyTorch's layout ``(out_channels, in_channels, *kernel)``, and the fans are PyTorch's:
``fan_in = shape[1]·prod(kernel)``, ``fan_out = shape[0]·prod(kernel)``. See
:func:`calculate_fan_in_and_fan_out`.

The random *streams* differ (NumPy's PCG64 versus PyTorch's Mersenne Twister), so the same seed
does not give the same numbers; the distributions — bounds, standard deviations, orthogonality —
are identical, and the tests check them against ``torch.nn.init``.
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar

import numpy as np

from .module import Parameter
from .rng import get_rng

__all__ = [
    "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "constant_", "zeros_", "ones_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
]

T = TypeVar("T", Parameter, np.ndarray)
FanMode = Literal["fan_in", "fan_out"]

_LINEAR_NAMES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    =================  ===========================================
    nonlinearity       gain
    =================  ===========================================
    linear, conv*d     :math:`1`
    sigmoid            :math:`1`
    tanh               :math:`5/3`
    relu               :math:`\sqrt2`
    leaky_relu         :math:`\sqrt{2/(1+a^2)}`, ``a = param`` (default 0.01)
    selu               :math:`3/4`
    =================  ===========================================

    The ReLU and leaky-ReLU gains are derived (He et al., 2015): a rectifier passes on average
    :math:`(1+a^2)/2` of its input's second moment, and the gain undoes that. The tanh value 5/3 and
    the SELU value 3/4 are empirical choices made by PyTorch, not derivations; sigmoid gets 1 even
    though its slope at 0 is only 1/4.

    Parameters
    ----------
    nonlinearity : str
        A ``torch.nn.functional`` name (see the table).
    param : float, optional
        The negative slope for ``'leaky_relu'``.

    Returns
    -------
    float
    """
    if nonlinearity in _LINEAR_NAMES:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:  # bool is an int in Python: reject it explicitly, as PyTorch does
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{', '.join(_LINEAR_NAMES + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def _shape_of(tensor: Parameter | np.ndarray | tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(tensor, Parameter):
        return tensor.data.shape
    if isinstance(tensor, np.ndarray):
        return tensor.shape
    return tuple(int(s) for s in tensor)


def calculate_fan_in_and_fan_out(tensor: Parameter | np.ndarray | tuple[int, ...]
                                 ) -> tuple[int, int]:
    r"""``(fan_in, fan_out)`` of a weight in nnmath's layouts.

    ======================================  =====================  =====================
    layout                                  fan_in                 fan_out
    ======================================  =====================  =====================
    2-D ``Linear`` weight ``(in, out)``     ``shape[0]``           ``shape[1]``
    conv kernel ``(out, in, k1, k2, ...)``  ``shape[1]·k1·k2···``  ``shape[0]·k1·k2···``
    ======================================  =====================  =====================

    The 2-D rule is the transpose of ``torch.nn.init._calculate_fan_in_and_fan_out``
    because nnmath's ``Linear`` weight is the transpose of PyTorch's; the convolution
    rule is PyTorch's. Either way ``fan_in`` is the number of inputs summed into one
    output unit.

    Parameters
    ----------
    tensor : Parameter, ndarray or tuple of int
        The weight, or just its shape.

    Raises
    ------
    ValueError
        For fewer than two axes (a bias has no fan-out).
    """
    shape = _shape_of(tensor)
    if len(shape) < 2:
        raise ValueError(f"fan_in and fan_out need an array with at least 2 "
                         f"dimensions, got shape {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor: Parameter | np.ndarray, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _target(tensor: Parameter | np.ndarray) -> np.ndarray:
    """The array to overwrite: ``Parameter.data`` or the ndarray itself (must be floating)."""
    arr = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"initializers work in place on a Parameter or an ndarray, got {type(tensor).__name__}")
    if not np.issubdtype(arr.dtype, np.floating):
        # writing random floats into an integer array would silently truncate them
        raise TypeError(f"in-place initialization needs a floating-point array, got dtype={arr.dtype}")
    return arr


def _fill(tensor: T, values: np.ndarray) -> T:
    _target(tensor)[...] = values
    return tensor


def uniform_(tensor: T, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None) -> T:
    r"""Fill with :math:`U(a, b)` (``torch.nn.init.uniform_``)."""
    arr = _target(tensor)
    return _fill(tensor, get_rng(rng).uniform(a, b, size=arr.shape))


def normal_(tensor: T, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None) -> T:
    r"""Fill with :math:`\mathcal N(\text{mean}, \text{std}^2)` (``torch.nn.init.normal_``)."""
    arr = _target(tensor)
    return _fill(tensor, get_rng(rng).normal(mean, std, size=arr.shape))


def constant_(tensor: T, val: float) -> T:
    """Fill with ``val`` (``torch.nn.init.constant_``)."""
    _target(tensor).fill(val)
    return tensor


def zeros_(tensor: T) -> T:
    """Fill with 0 (``torch.nn.init.zeros_``); the usual initial value of a bias."""
    return constant_(tensor, 0.0)


def ones_(tensor: T) -> T:
    """Fill with 1 (``torch.nn.init.ones_``); the usual initial value of a normalization scale."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: T, gain: float = 1.0, rng: np.random.Generator | None = None) -> T:
    r"""Glorot & Bengio (2010) "normalized" initialization, :math:`U(-a, a)` with

    .. math:: a = \text{gain}\sqrt{\frac{6}{\mathrm{fan\_in} + \mathrm{fan\_out}}},

    i.e. :math:`\operatorname{Var}[w] = \text{gain}^2 \cdot 2/(\mathrm{fan\_in}+\mathrm{fan\_out})`, the
    compromise between keeping forward (:math:`\mathrm{fan\_in}\operatorname{Var}[w]=1`) and backward
    (:math:`\mathrm{fan\_out}\operatorname{Var}[w]=1`) variances. As ``torch.nn.init.xavier_uniform_``;
    fans from :func:`calculate_fan_in_and_fan_out` (nnmath's ``(in, out)`` layout for 2-D).
    A zero-size array is left unchanged.
    """
    arr = _target(tensor)
    if arr.size == 0:
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(arr)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # U(-a, a) has variance a^2/3
    return _fill(tensor, get_rng(rng).uniform(-bound, bound, size=arr.shape))


def xavier_normal_(tensor: T, gain: float = 1.0, rng: np.random.Generator | None = None) -> T:
    r"""Glorot & Bengio (2010) with a normal distribution:
    :math:`\mathcal N\bigl(0,\ \text{gain}^2 \cdot 2/(\mathrm{fan\_in}+\mathrm{fan\_out})\bigr)`
    (``torch.nn.init.xavier_normal_``). A zero-size array is left unchanged."""
    arr = _target(tensor)
    if arr.size == 0:
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(arr)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, get_rng(rng).normal(0.0, std, size=arr.shape))


def kaiming_uniform_(tensor: T, a: float = 0.0, mode: FanMode = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None) -> T:
    r"""He et al. (2015) initialization, uniform: :math:`U(-b, b)` with

    .. math::

        \begin{aligned}
        b &= \text{gain}\sqrt{\frac{3}{\mathrm{fan\_mode}}},\\
        \text{gain} &= \mathtt{calculate\_gain}(\\
        &\qquad \text{nonlinearity}, a),
        \end{aligned}

    so :math:`\operatorname{Var}[w] = \text{gain}^2/\mathrm{fan\_mode}` — :math:`2/\mathrm{fan\_in}` for
    ReLU. ``mode='fan_in'`` (default) preserves the variance of activations in the forward pass,
    ``'fan_out'`` that of gradients in the backward pass. Defaults as ``torch.nn.init.kaiming_uniform_``
    (``a=0, mode='fan_in', nonlinearity='leaky_relu'``, hence gain :math:`\sqrt2`).

    Unlike PyTorch, a 2-D nnmath weight needs no transposing: its fans are read in the ``(in, out)``
    layout (see :func:`calculate_fan_in_and_fan_out`). ``torch.nn.Linear``'s default initialization
    is ``kaiming_uniform_(w, a=math.sqrt(5))``, a bound of :math:`1/\sqrt{\mathrm{fan\_in}}`, which
    is what :class:`~nnmath.linear.Linear` draws. A zero-size array is left unchanged (PyTorch
    warns).
    """
    arr = _target(tensor)
    if arr.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(arr, mode))
    bound = math.sqrt(3.0) * std
    return _fill(tensor, get_rng(rng).uniform(-bound, bound, size=arr.shape))


def kaiming_normal_(tensor: T, a: float = 0.0, mode: FanMode = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None) -> T:
    r"""He et al. (2015) initialization, normal: :math:`\mathcal N(0, \text{std}^2)`
    with :math:`\text{std} = \text{gain}/\sqrt{\mathrm{fan\_mode}}`
    (``torch.nn.init.kaiming_normal_``; same arguments and defaults as
    :func:`kaiming_uniform_`). With ``nonlinearity='relu'`` this is the
    :math:`\operatorname{Var}[w] = 2/n_\text{in}` of the paper. A zero-size array is
    left unchanged."""
    arr = _target(tensor)
    if arr.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(arr, mode))
    return _fill(tensor, get_rng(rng).normal(0.0, std, size=arr.shape))


def orthogonal_(tensor: T, gain: float = 1.0, rng: np.random.Generator | None = None) -> T:
    r"""A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2014; ``torch.nn.init.orthogonal_``).

    PyTorch's algorithm, step by step: view the array as ``rows = shape[0]`` by
    ``cols = size/rows`` (trailing axes flattened), draw a standard normal matrix of that shape,
    take the QR decomposition of it (of its transpose when ``rows < cols``) and multiply each column
    of :math:`Q` by the sign of the matching diagonal entry of :math:`R`. Without that sign fix,
    :math:`Q` would not be uniformly (Haar) distributed (Mezzadri, 2007). The result has orthonormal
    columns when ``rows >= cols`` (:math:`Q^\top Q = I`) and orthonormal rows otherwise
    (:math:`QQ^\top = I`), so every singular value equals ``gain``.

    Fed the same normal draws, it returns PyTorch's matrix (up to rounding). Applied to an nnmath
    ``(in, out)`` weight the result is the transpose-distributed twin of PyTorch's, which is the same
    distribution: the transpose of a Haar semi-orthogonal matrix is one.

    Raises
    ------
    ValueError
        For fewer than two axes.
    """
    arr = _target(tensor)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_ needs an array with at least 2 dimensions, got shape {arr.shape}")
    if arr.size == 0:
        return tensor
    rows = arr.shape[0]
    cols = arr.size // rows
    flat = np.asarray(get_rng(rng).standard_normal((rows, cols)), dtype=np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)                     # reduced QR: q is (max, min) with orthonormal columns
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # sign(0) would zero a column; Gaussian R has no zeros a.s.
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(arr.shape))
