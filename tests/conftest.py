"""Shared fixtures: a strict build of the whole book, built once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from book import BOOK, CONF, ROOT, Build, run_sphinx, sphinx_env  # noqa: E402

__all__ = ["BOOK", "CONF", "ROOT", "Build", "run_sphinx", "sphinx_env"]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The whole book, built from scratch with a fresh execution cache (slow: every chapter runs)."""
    out = tmp_path_factory.mktemp("book") / "html"
    build = run_sphinx(BOOK, out)
    assert build.returncode == 0, f"strict build failed:\n{build.log[-20000:]}"
    return build
