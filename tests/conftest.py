"""Shared fixtures: a seeded ``rng``, the PyTorch helpers ``th`` for parity tests, and a strict build
of the whole book, built once per test session.

Test modules never import from this file (pytest injects fixtures by name); the build tests import
their helpers from ``tools/book.py``, which this file puts on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from book import BOOK, CONF, ROOT, Build, run_sphinx, sphinx_env  # noqa: E402

__all__ = ["BOOK", "CONF", "ROOT", "Build", "run_sphinx", "sphinx_env"]


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded generator per test: every test draws the same numbers whatever runs before it."""
    return np.random.default_rng(0)


class TorchHelpers:
    """PyTorch in float64 for parity tests: ``th.torch``, ``th.F``, ``th.T(array, grad=False)`` and
    ``th.close(ours, theirs)`` (relative 1e-12, absolute 1e-14 by default)."""

    RTOL, ATOL = 1e-12, 1e-14

    def __init__(self, torch: object) -> None:
        self.torch = torch
        self.F = torch.nn.functional  # type: ignore[attr-defined]

    def T(self, a: object, grad: bool = False):  # noqa: N802 - reads like a constructor
        return self.torch.tensor(np.asarray(a), dtype=self.torch.float64, requires_grad=grad)  # type: ignore[attr-defined]

    def close(self, ours: object, theirs: object, rtol: float = RTOL, atol: float = ATOL) -> None:
        theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=rtol, atol=atol)


@pytest.fixture
def th() -> TorchHelpers:
    """The PyTorch helpers; skips the test when torch is not installed."""
    return TorchHelpers(pytest.importorskip("torch"))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The whole book, built from scratch with a fresh execution cache (slow: every chapter runs)."""
    out = tmp_path_factory.mktemp("book") / "html"
    build = run_sphinx(BOOK, out)
    assert build.returncode == 0, f"strict build failed:\n{build.log[-20000:]}"
    return build
