"""Shared fixtures: a strict build of the whole book (once per session) and a Sphinx runner."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CONF = ROOT / "conf"


@dataclass
class Build:
    outdir: Path
    returncode: int
    log: str

    @property
    def executed(self) -> list[str]:
        """Documents MyST-NB executed during this build (one log line per notebook run)."""
        return [line.split(":")[0] for line in self.log.splitlines() if "Executing notebook" in line]


def sphinx_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYDEVD_DISABLE_FILE_VALIDATION="1", NO_COLOR="1")
    env.pop("NNBOOK_ONLY", None)
    env.update(extra)
    return env


def run_sphinx(srcdir: Path, outdir: Path, *, jobs: str = "auto", env: dict[str, str] | None = None) -> Build:
    """``sphinx-build -c conf -W -n --keep-going`` — the same strict command as ``make book``."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF), "-W", "-n", "--keep-going",
           "-j", jobs, str(srcdir), str(outdir)]
    # cwd outside the repository: "python -m" puts the cwd first on sys.path, which would shadow
    # the copy of nnmath that the cache tests put on PYTHONPATH.
    outdir.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or sphinx_env(), cwd=outdir.parent)
    return Build(outdir, proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The whole book, built from scratch with a fresh execution cache (slow: every chapter runs)."""
    out = tmp_path_factory.mktemp("book") / "html"
    build = run_sphinx(BOOK, out)
    assert build.returncode == 0, f"strict build failed:\n{build.log[-20000:]}"
    return build
