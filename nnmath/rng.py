"""One seeded random generator for the whole package (like ``torch.manual_seed``).

Every constructor that draws random numbers takes an optional ``rng`` (a NumPy ``Generator``);
when it is omitted the package-wide generator below is used, so ``nm.manual_seed(0)`` at the top of
a chapter makes everything after it reproducible.
"""

from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "get_rng"]

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reset the package-wide generator to ``seed``.

    Returns nothing (unlike ``torch.manual_seed``, which returns the generator), so that a
    notebook cell ending in this call prints no object repr with a memory address; use
    :func:`get_rng` for the generator itself.
    """
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | None = None) -> np.random.Generator:
    """Return ``rng`` if given, else the package-wide generator."""
    return _rng if rng is None else rng
