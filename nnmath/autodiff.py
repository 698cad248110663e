r"""A small reverse-mode automatic differentiation engine on NumPy arrays.

In the spirit of Karpathy's *micrograd*, but every node holds an **array**, so one node is one
vectorised operation. Each elementary operation on a :class:`Tensor` records

* its output value (``data``, float64),
* its parents (the tensors it was computed from) and the name of the operation (``op``),
* its vector-Jacobian product (VJP): given the gradient :math:`\bar y` of a scalar loss with
  respect to the output, the gradients :math:`\bar x_k = J_k^\top \bar y` with respect to each
  parent — the same contract as every ``<op>_backward(dout, cache)`` in nnmath,
* its Jacobian-vector product (JVP), the forward-mode counterpart, used by :func:`jvp` to
  compare the cost of forward and reverse mode.

:meth:`Tensor.backward` then applies the chain rule over the recorded graph in reverse
topological order, so every node's gradient is complete (all its consumers have contributed,
``+=``) before it is passed on to its parents. The topological order is computed with an
*iterative* depth-first search: a recursive one hits Python's recursion limit at a depth of about
1,000 nodes.

Conventions follow PyTorch where there is an equivalent: ``requires_grad`` is ``False`` unless
asked for; only graphs that involve a tensor requiring a gradient are recorded; ``.grad``
accumulates over calls to ``backward`` until :meth:`Tensor.zero_grad`; ``backward()`` without an
argument is only allowed for a single-element output; :meth:`Tensor.detach` cuts the graph. Where
nnmath differs: (1) *every* node of the graph keeps its ``.grad`` (PyTorch keeps it only for
leaves, unless ``retain_grad()`` is called) because the book draws gradients on intermediate
nodes; (2) reductions take NumPy's ``axis=``/``keepdims=`` rather than ``dim=``/``keepdim=``;
(3) the graph is never freed after ``backward`` (PyTorch frees it unless ``retain_graph=True``).

The composite functions at the end of this module (``sigmoid``, ``softmax``, ``cross_entropy``,
…) are built **only** from the elementary operations, so the tests can
check the engine against every hand-derived backward in :mod:`nnmath.activations`,
:mod:`nnmath.linear` and :mod:`nnmath.losses`. They take and return tensors and are reached as
``nm.autodiff.<name>``; ``import nnmath as nm`` exports only :class:`Tensor` and :func:`jvp`, so
they never shadow the functional ops. Drawing a recorded graph lives in :mod:`nnmath.plotting`
(:func:`~nnmath.plotting.export_graph`, :func:`~nnmath.plotting.draw_graph`).

:meth:`Tensor.apply` records a whole derived functional pair as one node — the bridge between this
engine and the hand-written backward passes of the rest of the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf as _erf

from ._checks import as_array

__all__ = ["Tensor", "jvp"]

Grad = np.ndarray | None
Vjp = Callable[[np.ndarray], Sequence[Grad]]
Jvp = Callable[[Sequence[Grad]], Grad]


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` down to ``shape``: the adjoint of NumPy broadcasting.

    Broadcasting copies an operand along new leading axes and along axes of length 1; each copy
    received its own gradient, and the chain rule adds them up.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _add_tangents(*ts: Grad) -> Grad:
    """Sum of the tangents that are not ``None`` (``None`` is a zero tangent)."""
    live = [t for t in ts if t is not None]
    if not live:
        return None
    out = live[0]
    for t in live[1:]:
        out = out + t
    return out


def _expand(g: np.ndarray, shape: tuple[int, ...], axis: int | tuple[int, ...] | None,
            keepdims: bool) -> np.ndarray:
    """Broadcast the gradient of a reduction over ``axis`` back to the input's ``shape``."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, _norm_axes(axis, len(shape)))
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return np.broadcast_to(g, shape)


def _norm_axes(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


def _count(shape: tuple[int, ...], axis: int | tuple[int, ...] | None) -> int:
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in _norm_axes(axis, len(shape)))


class Tensor:
    r"""An array that records the operations applied to it, for reverse-mode differentiation.

    Parameters
    ----------
    data : array_like
        The value; stored as a float64 ndarray (integers and booleans are converted).
    requires_grad : bool
        Record operations on this tensor and compute ``.grad`` for it (PyTorch's default is
        ``False``; parameters and inputs you differentiate with respect to set it to ``True``).
    name : str, optional
        A label for :func:`~nnmath.plotting.export_graph` and :func:`~nnmath.plotting.draw_graph`.

    Attributes
    ----------
    data : ndarray
        The value, in float64.
    grad : ndarray or None
        :math:`\partial L / \partial\,\mathtt{data}` after :meth:`backward`, same shape as ``data``;
        accumulated (``+=``) over calls until :meth:`zero_grad`.
    op : str
        The operation that produced this tensor (``""`` for a leaf).
    parents : tuple of Tensor
        The tensors this one was computed from (empty for a leaf).

    Examples
    --------
    >>> import nnmath as nm
    >>> a = nm.Tensor(2.0, requires_grad=True)
    >>> L = a * a + a          # a is used three times: every use contributes to a.grad
    >>> L.backward()
    >>> float(a.grad)
    5.0
    """

    # NumPy must not try to treat a Tensor as an array in ``ndarray * Tensor``: returning
    # NotImplemented from the ufunc machinery makes Python call Tensor.__rmul__ instead.
    __array_ufunc__ = None

    def __init__(self, data: ArrayLike, requires_grad: bool = False, name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, (int, float)) and not isinstance(data, bool):   # fast path for constants
            self.data: np.ndarray = np.array(float(data))
        else:
            self.data = np.array(as_array(data, "data"), dtype=np.float64)
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.grad: np.ndarray | None = None
        self.op = ""
        self.parents: tuple[Tensor, ...] = ()
        self._vjp: Vjp | None = None
        self._jvp: Jvp | None = None

    # --- construction of graph nodes ---------------------------------------------------------
    @staticmethod
    def _lift(x: Tensor | ArrayLike) -> Tensor:
        """Wrap a constant (number or array) as a leaf that does not require a gradient."""
        return x if isinstance(x, Tensor) else Tensor(x)

    @staticmethod
    def _node(data: np.ndarray, parents: Sequence[Tensor], op: str, vjp: Vjp, jvp_fn: Jvp) -> Tensor:
        """The output of one operation. The graph is recorded only if a parent requires a grad
        (as in PyTorch: arithmetic on constants costs no memory)."""
        out = Tensor.__new__(Tensor)
        out.data = np.asarray(data, dtype=np.float64)
        out.requires_grad = any(p.requires_grad for p in parents)
        out.name = None
        out.grad = None
        out.op = op
        if out.requires_grad:
            out.parents, out._vjp, out._jvp = tuple(parents), vjp, jvp_fn
        else:
            out.parents, out._vjp, out._jvp = (), None, None
        return out

    # --- array-like conveniences --------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (no recorded operation), as in PyTorch."""
        return self._vjp is None

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """The value (the array itself, not a copy, as ``torch.Tensor.numpy``)."""
        return self.data

    def detach(self) -> Tensor:
        """A new leaf with the same value and no history: gradients do not flow through it."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``, like PyTorch's ``set_to_none``)."""
        self.grad = None

    def __repr__(self) -> str:
        extra = f", op={self.op!r}" if self.op else ""
        extra += ", requires_grad=True" if self.requires_grad else ""
        extra += f", name={self.name!r}" if self.name else ""
        body = np.array2string(self.data, precision=4, separator=", ")
        return f"Tensor({body}{extra})"

    # --- arithmetic (broadcasting like NumPy; gradients are un-broadcast) --------------------
    def __add__(self, other: Tensor | ArrayLike) -> Tensor:
        b = Tensor._lift(other)
        a = self
        return Tensor._node(
            a.data + b.data, (a, b), "add",
            lambda g: (_unbroadcast(g, a.shape), _unbroadcast(g, b.shape)),
            lambda t: _add_tangents(*t))

    def __radd__(self, other: ArrayLike) -> Tensor:
        return Tensor._lift(other) + self

    def __neg__(self) -> Tensor:
        return Tensor._node(-self.data, (self,), "neg", lambda g: (-g,),
                            lambda t: None if t[0] is None else -t[0])

    def __sub__(self, other: Tensor | ArrayLike) -> Tensor:
        b = Tensor._lift(other)
        a = self
        return Tensor._node(
            a.data - b.data, (a, b), "sub",
            lambda g: (_unbroadcast(g, a.shape), _unbroadcast(-g, b.shape)),
            lambda t: _add_tangents(t[0], None if t[1] is None else -t[1]))

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return Tensor._lift(other) - self

    def __mul__(self, other: Tensor | ArrayLike) -> Tensor:
        # d(ab) = b da + a db: each operand's gradient is the upstream times the *other*
        # value, which is why both values are kept (the "cache" of this node).
        b = Tensor._lift(other)
        a = self
        return Tensor._node(
            a.data * b.data, (a, b), "mul",
            lambda g: (_unbroadcast(g * b.data, a.shape),
                       _unbroadcast(g * a.data, b.shape)),
            lambda t: _add_tangents(None if t[0] is None else t[0] * b.data,
                                    None if t[1] is None else a.data * t[1]))

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return Tensor._lift(other) * self

    def __truediv__(self, other: Tensor | ArrayLike) -> Tensor:
        b = Tensor._lift(other)
        a = self
        out = a.data / b.data
        # d(a/b) = da / b - (a/b) db / b
        return Tensor._node(
            out, (a, b), "div",
            lambda g: (_unbroadcast(g / b.data, a.shape), _unbroadcast(-g * out / b.data, b.shape)),
            lambda t: _add_tangents(None if t[0] is None else t[0] / b.data,
                                    None if t[1] is None else -out * t[1] / b.data))

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return Tensor._lift(other) / self

    def __pow__(self, p: float) -> Tensor:
        if isinstance(p, Tensor) or np.ndim(p) != 0:
            raise TypeError("Tensor ** p supports a scalar (number) exponent only")
        p = float(p)
        a = self
        local = p * a.data ** (p - 1.0)   # d x^p / dx = p x^(p-1)
        return Tensor._node(a.data ** p, (a,), f"pow{p:g}", lambda g: (g * local,),
                            lambda t: None if t[0] is None else t[0] * local)

    def __matmul__(self, other: Tensor | ArrayLike) -> Tensor:
        b = Tensor._lift(other)
        a = self
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(f"matmul shapes do not fit: {a.shape} @ {b.shape}")

        def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # Y = A B  =>  A_bar = Y_bar B^T,  B_bar = A^T Y_bar  (1-D operands promoted to matrices,
            # batch axes summed where an operand was broadcast)
            a2 = a.data[None, :] if a.ndim == 1 else a.data
            b2 = b.data[:, None] if b.ndim == 1 else b.data
            g2 = g
            if b.ndim == 1:   # restore the removed axes: first the column of b, then the row of a
                g2 = np.expand_dims(g2, -1)
            if a.ndim == 1:
                g2 = np.expand_dims(g2, -2)
            ga = _unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
            gb = _unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
            return ga, gb

        return Tensor._node(
            a.data @ b.data, (a, b), "matmul", vjp,
            lambda t: _add_tangents(None if t[0] is None else t[0] @ b.data,
                                    None if t[1] is None else a.data @ t[1]))

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return Tensor._lift(other) @ self

    # --- element-wise functions -------------------------------------------------------------
    def _unary(self, out: np.ndarray, local: np.ndarray, op: str) -> Tensor:
        """An element-wise op with derivative ``local``: the VJP and JVP are both ``* local``."""
        return Tensor._node(out, (self,), op, lambda g: (g * local,),
                            lambda t: None if t[0] is None else t[0] * local)

    def exp(self) -> Tensor:
        """:math:`e^x`; the derivative is the output itself (reused, not recomputed)."""
        out = np.exp(self.data)
        return self._unary(out, out, "exp")

    def log(self) -> Tensor:
        """Natural logarithm; derivative :math:`1/x`."""
        return self._unary(np.log(self.data), 1.0 / self.data, "log")

    def tanh(self) -> Tensor:
        """:math:`\\tanh x`; derivative :math:`1-\\tanh^2 x`, from the output."""
        out = np.tanh(self.data)
        return self._unary(out, 1.0 - out * out, "tanh")

    def erf(self) -> Tensor:
        """The error function; derivative :math:`\\tfrac{2}{\\sqrt\\pi} e^{-x^2}`."""
        x = self.data
        local = (2.0 / math.sqrt(math.pi)) * np.exp(-np.minimum(np.abs(x), 1e3) ** 2)  # no overflow
        return self._unary(_erf(x), local, "erf")

    def abs(self) -> Tensor:
        """:math:`|x|`; derivative :math:`\\operatorname{sign} x` (0 at 0, as PyTorch)."""
        return self._unary(np.abs(self.data), np.sign(self.data), "abs")

    def relu(self) -> Tensor:
        """:math:`\\max(x, 0)`; derivative :math:`\\mathbb 1[x > 0]` (0 at 0, 1 at NaN, as PyTorch)."""
        return self._unary(np.maximum(self.data, 0.0), (~(self.data <= 0)).astype(np.float64), "relu")

    def maximum(self, other: Tensor | ArrayLike) -> Tensor:
        """Element-wise maximum (broadcasting). At ties each operand receives half of the
        gradient, as ``torch.maximum`` does."""
        b = Tensor._lift(other)
        a = self
        wa = np.where(a.data > b.data, 1.0, np.where(a.data == b.data, 0.5, 0.0))
        wb = 1.0 - wa
        return Tensor._node(
            np.maximum(a.data, b.data), (a, b), "maximum",
            lambda g: (_unbroadcast(g * wa, a.shape), _unbroadcast(g * wb, b.shape)),
            lambda t: _add_tangents(None if t[0] is None else t[0] * wa,
                                    None if t[1] is None else t[1] * wb))

    # --- reductions and shape --------------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis``; the gradient is the upstream broadcast back to every summand."""
        a = self
        return Tensor._node(
            a.data.sum(axis=axis, keepdims=keepdims), (a,), "sum",
            lambda g: (_expand(g, a.shape, axis, keepdims).copy(),),
            lambda t: None if t[0] is None else t[0].sum(axis=axis, keepdims=keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``: the sum divided by the number of summands (also in the gradient)."""
        a = self
        n = _count(a.shape, axis)
        return Tensor._node(
            a.data.mean(axis=axis, keepdims=keepdims), (a,), "mean",
            lambda g: (_expand(g / n, a.shape, axis, keepdims).copy(),),
            lambda t: None if t[0] is None else t[0].mean(axis=axis, keepdims=keepdims))

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; the gradient is shared equally by tied maxima (``torch.amax``)."""
        a = self
        m = a.data.max(axis=axis, keepdims=True)
        mask = (a.data == m).astype(np.float64)
        mask /= mask.sum(axis=axis, keepdims=True)
        out = m if keepdims else (m.reshape(()) if axis is None else np.squeeze(m, _norm_axes(axis, a.ndim)))
        return Tensor._node(
            out, (a,), "max",
            lambda g: (_expand(g, a.shape, axis, keepdims) * mask,),
            lambda t: None if t[0] is None else (t[0] * mask).sum(axis=axis, keepdims=keepdims))

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Same values, new shape; the gradient is reshaped back."""
        new = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        a = self
        return Tensor._node(a.data.reshape(new), (a,), "reshape", lambda g: (g.reshape(a.shape),),
                            lambda t: None if t[0] is None else t[0].reshape(new))

    def transpose(self, *axes: int) -> Tensor:
        """Permute axes (reverse them when none are given, like ``ndarray.transpose``); the
        gradient is permuted back by the inverse permutation."""
        perm = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        perm = perm or tuple(reversed(range(self.ndim)))
        inv = tuple(np.argsort(perm))
        a = self
        return Tensor._node(a.data.transpose(perm), (a,), "transpose", lambda g: (g.transpose(inv),),
                            lambda t: None if t[0] is None else t[0].transpose(perm))

    @property
    def T(self) -> Tensor:
        """The transpose (all axes reversed)."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        """NumPy indexing (slices, integer arrays). The gradient is scattered back with
        ``np.add.at``, so an entry picked twice receives both contributions."""
        a = self

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            out = np.zeros_like(a.data)
            np.add.at(out, index, g)   # not out[index] += g: repeated indices would be lost
            return (out,)

        return Tensor._node(a.data[index], (a,), "index", vjp,
                            lambda t: None if t[0] is None else t[0][index])

    # --- a derived pair as one node ----------------------------------------------------------
    @staticmethod
    def apply(op: Callable[..., tuple[Any, Any]], op_backward: Callable[..., Any], *inputs: Any,
              **kwargs: Any) -> Tensor:
        r"""Record ``out, cache = op(*inputs, **kwargs)`` as **one** node whose VJP is
        ``op_backward(dout, cache)`` — a hand-derived functional pair of nnmath inside the graph.

        This is what ``jax.custom_vjp`` and tinygrad's ``Function.apply`` do: the engine does not
        see the elementary operations inside ``op``; it trusts the derived backward for the whole
        block. Every later chapter's backward pass is, in this sense, one node's VJP. ``inputs``
        may mix tensors and constants (arrays, ``None`` for an omitted optional input); the
        tensors become the node's parents and receive the gradients at their positions in the
        backward's result (the package's convention: one gradient per differentiable positional
        input, in order). Keyword arguments (masks, strides, ``eps``) are passed through.

        Forward mode is not available through such a node — a derived backward is a
        vector-Jacobian product, not a Jacobian-vector product — so :func:`jvp` raises
        ``NotImplementedError`` when a tangent reaches it, instead of treating the node as a
        constant.

        Examples
        --------
        >>> import numpy as np, nnmath as nm
        >>> x = nm.Tensor(np.ones((2, 3)), requires_grad=True)
        >>> W = nm.Tensor(np.full((3, 4), 0.5), requires_grad=True)
        >>> # linear_backward returns (dx, dW, None): no bias was given
        >>> y = nm.Tensor.apply(nm.linear, nm.linear_backward, x, W)
        >>> y.sum().backward()
        >>> W.grad[0].tolist()
        [2.0, 2.0, 2.0, 2.0]
        """
        name = getattr(op, "__name__", "apply")
        out, cache = op(*[x.data if isinstance(x, Tensor) else x for x in inputs], **kwargs)
        where = [i for i, x in enumerate(inputs) if isinstance(x, Tensor)]
        parents = [inputs[i] for i in where]

        def vjp(g: np.ndarray) -> list[Grad]:
            grads = op_backward(g, cache)
            grads = [grads] if isinstance(grads, (np.ndarray, np.generic)) else list(grads)
            picked = [grads[i] if i < len(grads) else None for i in where]
            for i, parent, pg in zip(where, parents, picked):
                if pg is None and parent.requires_grad:
                    raise ValueError(f"{getattr(op_backward, '__name__', 'op_backward')} returned no gradient "
                                     f"for input {i} of {name}, which requires a gradient")
            return picked

        def no_jvp(tangents: Sequence[Grad]) -> Grad:
            if all(t is None for t in tangents):
                return None       # no direction reaches this node: its tangent is zero
            raise NotImplementedError(
                f"jvp: the node {name!r} was recorded by Tensor.apply from a derived backward (a "
                "vector-Jacobian product) and has no forward-mode rule; build the function from "
                "elementary Tensor operations to differentiate it in forward mode")

        return Tensor._node(out, parents, name, vjp, no_jvp)

    # --- the chain rule ----------------------------------------------------------------------
    def backward(self, gradient: ArrayLike | None = None) -> None:
        r"""Back-propagate: add :math:`\partial L/\partial v` into ``v.grad`` for every
        node :math:`v` of the graph that requires a gradient.

        Parameters
        ----------
        gradient : array_like, optional
            :math:`\partial L/\partial\,\mathtt{self}` (same shape as ``self``).
            Omitted, it is 1, which is only allowed for a one-element tensor (as in
            PyTorch).

        Notes
        -----
        Within one call, gradients are collected in a dictionary and a node's VJP is
        applied only when it is reached in reverse topological order — after all of its
        consumers — so it sees the *sum* of their contributions. Only then is that sum
        added to ``node.grad``; so calling ``backward`` twice doubles every ``.grad``
        (accumulation) without double-counting inside one call.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require a gradient and "
                               "has no graph")
        if gradient is None:
            if self.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for "
                                   f"one-element outputs, got shape {self.shape}; "
                                   f"pass backward(gradient)")
            seed = np.ones_like(self.data)
        else:
            seed = np.array(as_array(gradient, "gradient"), dtype=np.float64)
            if seed.shape != self.shape:
                raise ValueError(f"gradient has shape {seed.shape} but the tensor has "
                                 f"shape {self.shape}")
        pending: dict[int, np.ndarray] = {id(self): seed}
        for node in reversed(_topological_order(self)):
            g = pending.pop(id(node), None)
            if g is None:
                continue
            node.grad = g.copy() if node.grad is None else node.grad + g
            if node._vjp is None:
                continue
            for parent, pg in zip(node.parents, node._vjp(g)):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                # a parent used by several nodes: sum the contributions (never in place:
                # ``pg`` may be the very array another node holds)
                pending[key] = pg if key not in pending else pending[key] + pg


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes of ``root``'s graph, every node after all of its parents (iterative DFS post-order).

    A node reached along two paths is visited once; an explicit stack replaces recursion, so the
    depth of the graph is limited only by memory.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))   # finish this node after its parents
        for parent in node.parents:
            if id(parent) not in seen:
                stack.append((parent, False))
    return order


def jvp(output: Tensor, tangents: Mapping[Tensor, ArrayLike]) -> np.ndarray:
    r"""Forward mode on a recorded graph: the directional derivative :math:`J\,u` of ``output``.

    Parameters
    ----------
    output : Tensor
        A tensor computed from the leaves in ``tangents``.
    tangents : mapping of Tensor to array_like
        The direction :math:`u`: one tangent per leaf, each of that leaf's shape; leaves that are
        not given have tangent zero.

    Returns
    -------
    ndarray, shape of ``output``
        :math:`\dot y = \sum_k J_k \dot x_k`, pushed forwards through the graph in topological
        order (each node applies its JVP to its parents' tangents).

    Notes
    -----
    One call costs about one forward pass (the values are already recorded), and yields the
    derivative along *one* direction. The full gradient of a scalar loss with respect to
    :math:`P` parameters takes :math:`P` calls in forward mode, against a single
    :meth:`Tensor.backward` in reverse mode — the reason neural networks are trained in reverse
    mode (Baydin et al., 2018). (Like ``torch.func.jvp`` in effect, but on a graph that
    was already recorded rather than by re-running the function with dual numbers.)
    """
    dots: dict[int, Grad] = {}
    for leaf, t in tangents.items():
        t = np.array(as_array(t, "tangent"), dtype=np.float64)
        if t.shape != leaf.shape:
            raise ValueError(f"tangent has shape {t.shape} but its tensor has shape {leaf.shape}")
        dots[id(leaf)] = t
    for node in _topological_order(output):
        if node._jvp is not None:
            dots[id(node)] = node._jvp([dots.get(id(p)) for p in node.parents])
    result = dots.get(id(output))
    return np.zeros_like(output.data) if result is None else np.asarray(result, dtype=np.float64)


# --- composite functions, built only from the elementary operations above ---------------------
# Each mirrors a functional op of nnmath (same name, same arguments) so that the tests can compare
# the engine's gradient with the hand-derived backward. They take and return Tensors.

def _t(x: Tensor | ArrayLike) -> Tensor:
    return Tensor._lift(x)


def sigmoid(x: Tensor) -> Tensor:
    r""":math:`\sigma(x) = \tfrac12(1 + \tanh(x/2))`: the same function as :math:`1/(1+e^{-x})`,
    written with ``tanh`` so that no ``exp`` can overflow at :math:`x = -1000`."""
    return 0.5 * ((_t(x) * 0.5).tanh() + 1.0)


def tanh(x: Tensor) -> Tensor:
    return _t(x).tanh()


def relu(x: Tensor) -> Tensor:
    return _t(x).relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    r""":math:`\mathrm{relu}(x) - s\,\mathrm{relu}(-x)`: slope 1 for :math:`x>0`, :math:`s` below."""
    x = _t(x)
    return x.relu() - negative_slope * (-x).relu()


def gelu(x: Tensor, approximate: Literal["none", "tanh"] = "none") -> Tensor:
    r""":math:`\tfrac12 x(1+\operatorname{erf}(x/\sqrt2))`, or the tanh approximation."""
    x = _t(x)
    if approximate == "none":
        return 0.5 * x * ((x * (1.0 / math.sqrt(2.0))).erf() + 1.0)
    if approximate == "tanh":
        u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (u.tanh() + 1.0)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    r""":math:`x - m - \log\sum_j e^{x_j - m}`. The shift :math:`m = \max_j x_j` is *detached*:
    the function does not depend on it (its derivative with respect to :math:`m` is
    :math:`-1 + \sum_j p_j = 0`), so no gradient needs to flow through it."""
    x = _t(x)
    shifted = x - x.detach().max(axis=axis, keepdims=True)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """:math:`e^{x - m} / \\sum_j e^{x_j - m}` (shift detached, as in ``log_softmax``)."""
    x = _t(x)
    e = (x - x.detach().max(axis=axis, keepdims=True)).exp()
    return e / e.sum(axis=axis, keepdims=True)


def linear(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """:math:`xW + b` with ``W`` of shape ``(in, out)``; broadcasting adds ``b`` to every row."""
    y = _t(x) @ _t(W)
    return y if b is None else y + b


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(input: Tensor, target: Tensor | ArrayLike, reduction: str = "mean") -> Tensor:
    """:math:`(\\hat y - y)^2`, reduced."""
    return _reduce((_t(input) - target) ** 2, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor | ArrayLike,
                                     reduction: str = "mean") -> Tensor:
    r""":math:`\max(z,0) - zy + \log(1 + e^{-|z|})`."""
    z = _t(input)
    return _reduce(z.relu() - z * target + ((-z.abs()).exp() + 1.0).log(), reduction)


def cross_entropy(input: Tensor, target: ArrayLike, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    r"""Softmax cross-entropy of logits ``(N, C)`` against class indices ``(N,)`` (picked with
    integer indexing) or probabilities ``(N, C)``; ``label_smoothing`` mixes in
    :math:`\varepsilon` times the uniform target's loss, :math:`-\operatorname{mean}_c \log p_c`."""
    logp = log_softmax(_t(input), axis=1)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.ndim == 1 and np.issubdtype(t.dtype, np.integer):
        losses = -logp[np.arange(len(t)), t]
    else:
        losses = -(logp * target).sum(axis=1)
    if label_smoothing:
        losses = (1.0 - label_smoothing) * losses - label_smoothing * logp.mean(axis=1)
    return _reduce(losses, reduction)
