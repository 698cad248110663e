"""Run the strict Sphinx build of the book from Python (used by the tests and the benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
        """Documents MyST-NB executed during this build (it logs one line per notebook run)."""
        return [line.split(":")[0] for line in self.log.splitlines() if "Executing notebook" in line]


def sphinx_env(**extra: str) -> dict[str, str]:
    """The environment ``make book`` uses: one BLAS thread per worker, the whole book."""
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYDEVD_DISABLE_FILE_VALIDATION="1", NO_COLOR="1")
    env.pop("NNBOOK_ONLY", None)
    env.update(extra)
    return env


def run_sphinx(srcdir: Path, outdir: Path, *, jobs: str = "auto", env: dict[str, str] | None = None) -> Build:
    """``sphinx-build -c conf -W -n --keep-going -j auto`` — the same strict command as ``make book``."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF), "-W", "-n", "--keep-going",
           "-j", jobs, str(srcdir), str(outdir)]
    # cwd outside the repository: "python -m" puts the cwd first on sys.path, which would shadow
    # a copy of nnmath put on PYTHONPATH (the cache tests edit such a copy).
    outdir.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or sphinx_env(), cwd=outdir.parent)
    return Build(outdir, proc.returncode, proc.stdout + proc.stderr)
