r"""Counting what a piece of Python actually executes: the cost of a loop, measured without a clock.

The convolution chapter compares a loop reference (``nnmath.conv2d_naive``) with the vectorised
im2col path. Their wall-clock ratio depends on the machine; the number of *Python-level loop
iterations* each one runs does not, and neither do the multiply-adds. :func:`count_lines` runs a
call under ``sys.settrace`` and counts how many times each source line of the watched functions
was executed — the innermost statement of a loop nest executes once per iteration — so the book can
check a count derived from the shapes (``N C_out H_out W_out`` iterations for the loop reference,
``k_h k_w`` for col2im) against what the interpreter did.

Tracing slows the call down by a large factor and replaces any tracer already installed (a
debugger, coverage) for its duration; it is restored afterwards. Use it on small inputs.
"""

from __future__ import annotations

import inspect
import sys
from collections import Counter
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import Any, Callable

__all__ = ["LineCounts", "count_lines"]


@dataclass(frozen=True)
class LineCounts:
    """How often each line of the watched functions ran during one call.

    ``counts[(function name, line number)]`` is the number of times the line started executing
    (a ``for`` header also counts once when its loop is exhausted).
    """

    counts: dict[tuple[str, int], int]
    sources: dict[tuple[str, int], str]

    def total(self) -> int:
        """All line executions in the watched functions."""
        return sum(self.counts.values())

    def containing(self, text: str) -> int:
        """The summed count of every watched line whose source contains ``text`` (0 if none)."""
        return sum(self.counts.get(key, 0) for key, line in self.sources.items() if text in line)

    def of(self, function: Callable[..., Any], contains: str) -> int:
        """The count of the one line of ``function`` whose source contains ``contains``.

        Raises
        ------
        ValueError
            If no line, or more than one line, of ``function`` contains the text.
        """
        name = function.__qualname__
        keys = [key for key, text in self.sources.items() if key[0] == name and contains in text]
        if len(keys) != 1:
            raise ValueError(f"{len(keys)} lines of {name} contain {contains!r}; expected exactly one")
        return self.counts.get(keys[0], 0)


def count_lines(watch: Callable[..., Any] | ModuleType | list[Callable[..., Any]],
                call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, LineCounts]:
    """Run ``call(*args, **kwargs)`` and count the lines executed inside the ``watch`` functions.

    Parameters
    ----------
    watch : function, list of functions, or module
        Plain Python functions whose lines are counted (nested calls of them count too); a module
        stands for every function defined in it. Lines of every other function are not traced.
    call : callable
        What to run, e.g. ``nm.conv2d_naive``; it may call the watched functions indirectly.

    Returns
    -------
    result
        ``call``'s return value.
    counts : LineCounts
        Per-line execution counts of the watched functions.
    """
    if isinstance(watch, ModuleType):
        functions = [f for _, f in inspect.getmembers(watch, inspect.isfunction)
                     if f.__module__ == watch.__name__]
    else:
        functions = watch if isinstance(watch, list) else [watch]
    codes = {}
    sources: dict[tuple[str, int], str] = {}
    for f in functions:
        f = inspect.unwrap(f)
        code = getattr(f, "__code__", None)
        if code is None:
            raise TypeError(f"watch must be Python functions, got {f!r}")
        codes[code] = f.__qualname__
        lines, first = inspect.getsourcelines(f)
        for offset, text in enumerate(lines):
            sources[(f.__qualname__, first + offset)] = text.strip()
    counter: Counter[tuple[str, int]] = Counter()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            counter[(codes[frame.f_code], frame.f_lineno)] += 1
        return local

    def global_(frame: FrameType, event: str, arg: Any) -> Any:
        return local if event == "call" and frame.f_code in codes else None

    previous = sys.gettrace()
    sys.settrace(global_)
    try:
        result = call(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, LineCounts(dict(counter), sources)
