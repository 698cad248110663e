"""How long the book takes to build, and what the cache saves. Prints ratios measured in one run.

    .venv/bin/python benchmarks/build_time.py [--jobs auto]

1. cold build: a copy of ``book/`` into an empty output directory (every chapter executes);
2. no-change rebuild: the same command again (nothing may execute);
3. one-chapter rebuild: a code cell appended to one chapter (only that chapter may execute);
4. plain execution: every chapter's code run as a plain Python script, one fresh process each,
   one after another (``tools/run_chapter.py``) — the cost of the code without Sphinx or kernels.

Ratios: cold build / plain execution (the overhead of building), rebuild / cold build.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from book import BOOK, run_sphinx, sphinx_env  # noqa: E402


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="auto", help="sphinx-build -j (default auto)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "book"
        shutil.copytree(BOOK, src)
        (Path(tmp) / "nnmath").symlink_to(ROOT / "nnmath")   # chapters literalinclude ../../nnmath/*.py
        out = Path(tmp) / "_build" / "html"

        cold, t_cold = timed(lambda: run_sphinx(src, out, jobs=args.jobs))
        assert cold.returncode == 0, cold.log[-5000:]
        warm, t_warm = timed(lambda: run_sphinx(src, out, jobs=args.jobs))
        assert warm.returncode == 0 and not warm.executed, warm.executed

        chapters = sorted((src / "chapters").glob("*.md"))
        edited = chapters[len(chapters) // 2]
        edited.write_text(edited.read_text() + "\n```{code-cell} ipython3\n_ = 1 + 1\n```\n")
        one, t_one = timed(lambda: run_sphinx(src, out, jobs=args.jobs))
        assert one.returncode == 0, one.log[-5000:]

        plain: dict[str, float] = {}
        notebooks = sorted((BOOK / "chapters").glob("*.md")) + sorted((BOOK / "appendix").glob("*.md"))
        for nb in notebooks:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "tools" / "run_chapter.py"), str(nb)], check=True,
                           capture_output=True, env=sphinx_env(MPLBACKEND="Agg"))
            plain[nb.stem] = time.perf_counter() - t0
        t_plain = sum(plain.values())

    print(f"{'build':<34}{'seconds':>10}  executed")
    print(f"{'cold (every chapter executes)':<34}{t_cold:>10.1f}  {len(cold.executed)}")
    print(f"{'no-change rebuild':<34}{t_warm:>10.1f}  {len(warm.executed)}")
    print(f"{'one chapter edited (' + edited.stem + ')':<34}{t_one:>10.1f}  {len(one.executed)}")
    print(f"{'plain Python, all chapters':<34}{t_plain:>10.1f}  {len(plain)}")
    print()
    for name, t in plain.items():
        print(f"  plain {name:<30}{t:>8.1f}")
    print()
    print(f"cold build / plain execution : {t_cold / t_plain:.2f}")
    print(f"no-change rebuild / cold     : {t_warm / t_cold:.3f}")
    print(f"one-chapter rebuild / cold   : {t_one / t_cold:.3f}")
    if len(one.executed) != 1:
        sys.exit(f"expected exactly one chapter to re-execute, got {one.executed}")


if __name__ == "__main__":
    main()
