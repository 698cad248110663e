"""Parameters, modules and containers: the bookkeeping around the functional ops.

The math lives in pure functions (``out, cache = op(...)`` / ``grads = op_backward(dout, cache)``);
a :class:`Module` is a thin stateful wrapper in the spirit of ``torch.nn.Module``: it owns its
:class:`Parameter` objects, keeps the cache of its last ``forward`` and, in ``backward``,
*accumulates* (``+=``) parameter gradients until :meth:`Module.zero_grad` is called — exactly as
PyTorch does, which is what makes gradient accumulation over micro-batches work. Modules never own
an optimizer.

nnmath differs from PyTorch in one deliberate way: there is no tape. ``backward(dout)`` must be
called on the module that ran the matching ``forward``, with the gradient of the loss w.r.t. its
output, and returns the gradient w.r.t. its input(s).

Most layers are a :class:`FunctionalModule`: a functional pair plus the names of the parameters
it passes to the op. Its ``forward`` calls the op and keeps the cache; its ``backward`` calls the
op's backward, adds each parameter's gradient into ``.grad`` and returns the input gradient(s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_array

__all__ = ["Parameter", "Module", "FunctionalModule", "Sequential", "parameters_to_vector",
           "vector_to_parameters"]


class Parameter:
    """A trainable array and the gradient accumulated into it (like ``torch.nn.Parameter``).

    Parameters
    ----------
    data : array_like
        Initial value; copied and converted to floating point.

    Attributes
    ----------
    data : ndarray
        The current value, updated in place by optimizers.
    grad : ndarray
        Same shape as ``data``; zero at creation, summed into by every ``backward``.
    """

    def __init__(self, data: ArrayLike) -> None:
        self.data = np.array(as_array(data, "data"), copy=True)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to zero (in place)."""
        self.grad.fill(0.0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer: ``forward`` caches, ``backward`` accumulates.

    Subclasses implement ``forward(*inputs)`` (storing what ``backward`` needs on ``self``) and
    ``backward(dout)`` (returning the gradient w.r.t. each input — a tuple when there are several —
    and adding parameter gradients into ``Parameter.grad``). Parameters and sub-modules are found by
    looking at the instance's attributes (also inside lists and tuples), as PyTorch does.
    """

    training: bool = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    # --- traversal -----------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            if isinstance(value, (Module, Parameter)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Module, Parameter)):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in attribute order."""
        for _, value in self._members():
            if isinstance(value, Module):
                yield value

    def modules(self) -> Iterator[Module]:
        """This module and all its descendants, depth first, each once — a module reachable along
        two paths (shared, or held by a container and by its owner) is visited the first time only,
        as ``torch.nn.Module.modules`` does."""
        seen: set[int] = set()
        stack: list[Module] = [self]
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield m
            stack.extend(reversed(list(m.children())))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` pairs; a parameter shared by two modules appears once."""
        seen: set[int] = set()
        out: list[tuple[str, Parameter]] = []

        def visit(pfx: str, mod: Module) -> None:
            for name, value in mod._members():
                full = f"{pfx}{name}"
                if isinstance(value, Parameter):
                    if id(value) not in seen:
                        seen.add(id(value))
                        out.append((full, value))
                else:
                    visit(full + ".", value)

        visit(prefix, self)
        return iter(out)

    def parameters(self) -> list[Parameter]:
        """All parameters of this module and its descendants."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's accumulated gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Switch this module and its descendants to training (or evaluation) mode."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (``train(False)``), as in PyTorch."""
        return self.train(False)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        kids = list(self._members())
        mods = [(n, m) for n, m in kids if isinstance(m, Module)]
        if not mods:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, m in mods:
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        lines.append(")")
        return "\n".join(lines)

    def _require_cache(self, cache: Any) -> Any:
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return cache


class FunctionalModule(Module):
    """A module around a functional pair ``out, cache = op(*inputs, *params, **options)`` /
    ``grads = op_backward(dout, cache)`` — the math lives in the pair, this class only keeps the
    cache and routes the gradients.

    A subclass sets

    * ``_op`` and ``_op_backward`` (as static methods);
    * ``_params``: the names of its :class:`Parameter` attributes (or ``None``), passed to the op
      after the inputs and in the op's order — ``("weight", "bias")`` for ``linear(x, W, b)``;
    * ``_options``: attribute names passed to the op as keywords of the same name
      (override ``_kwargs`` for anything else).

    ``backward`` follows the package's convention: the op's backward returns one gradient per
    differentiable positional input — the inputs' first, then the parameters' (``None`` for an
    omitted one). The parameter gradients are added into ``.grad``; the input gradient is
    returned (a tuple when the module has several differentiable inputs).
    """

    _op: ClassVar[Callable[..., Any]]
    _op_backward: ClassVar[Callable[..., Any]]
    _params: ClassVar[tuple[str, ...]] = ()
    _options: ClassVar[tuple[str, ...]] = ()
    _cache: Any = None

    def _kwargs(self) -> dict[str, Any]:
        """The op's keyword arguments: the attributes named in ``_options``."""
        return {name: getattr(self, name) for name in self._options}

    def _param_values(self) -> list[np.ndarray | None]:
        return [None if p is None else p.data for p in (getattr(self, n) for n in self._params)]

    def forward(self, *inputs: Any) -> Any:
        out, self._cache = type(self)._op(*inputs, *self._param_values(), **self._kwargs())
        return out

    def backward(self, dout: ArrayLike) -> Any:
        grads = type(self)._op_backward(dout, self._require_cache(self._cache))
        if not self._params:
            return grads
        n_inputs = len(grads) - len(self._params)
        for name, g in zip(self._params, grads[n_inputs:]):
            p = getattr(self, name)
            if p is not None:
                p.grad += g
        return grads[0] if n_inputs == 1 else tuple(grads[:n_inputs])


class Sequential(Module):
    """Apply modules one after another; back-propagate through them in reverse.

    ``backward`` is the chain rule for a composition: the gradient w.r.t. the output of layer
    ``k`` is the gradient w.r.t. the input of layer ``k+1``.
    """

    def __init__(self, *layers: Module) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules, got {type(layer).__name__} at position {i}")
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)


def parameters_to_vector(parameters: Iterator[Parameter] | list[Parameter], grad: bool = False) -> np.ndarray:
    """Concatenate the parameters' values — or, with ``grad=True``, their gradients — into one
    flat vector, in order (``torch.nn.utils.parameters_to_vector``; ``grad`` is nnmath's addition,
    for measuring angles and norms of the whole gradient).

    Returns
    -------
    ndarray of shape (sum of the parameters' sizes,)
    """
    arrays = [(p.grad if grad else p.data).ravel() for p in parameters]
    return np.concatenate(arrays) if arrays else np.zeros(0)


def vector_to_parameters(vec: ArrayLike, parameters: Iterator[Parameter] | list[Parameter]) -> None:
    """Copy a flat vector into the parameters' values, in order (``torch.nn.utils.vector_to_parameters``)."""
    params = list(parameters)
    vec = as_array(vec, "vec")
    total = sum(p.size for p in params)
    if vec.shape != (total,):
        raise ValueError(f"vec must have shape ({total},) for parameters of sizes {[p.size for p in params]}, "
                         f"got vec.shape={vec.shape}")
    start = 0
    for p in params:
        p.data[...] = vec[start:start + p.size].reshape(p.shape)
        start += p.size
