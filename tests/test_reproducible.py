"""Two clean builds of the whole book give the same site, byte for byte — even when the second is
built on one worker (``-j 1``) while other processes keep every core busy.

This is the guarantee behind "every number comes from the code": no output depends on the clock,
the machine's load, the order in which chapters execute, a memory address or a random id. The first
build is the session's ``built_book``; the second runs here, from scratch, under load.
"""

from __future__ import annotations

import difflib
import filecmp
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BOOK, Build, run_sphinx

pytestmark = pytest.mark.build

#: Files that legitimately differ: Sphinx's pickled doctrees and environment (not published).
IGNORED_PARTS = {".doctrees"}


def site_files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")
            if p.is_file() and not IGNORED_PARTS.intersection(p.relative_to(root).parts)}


@pytest.fixture(scope="module")
def loaded_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """A clean strict build with ``-j 1`` while one busy process per core competes for the CPU."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        out = tmp_path_factory.mktemp("loaded") / "html"
        build = run_sphinx(BOOK, out, jobs="1")
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    yield build


def test_strict_build_passes_on_one_worker_with_the_cpu_saturated(loaded_build: Build) -> None:
    assert loaded_build.returncode == 0, f"strict build under load failed:\n{loaded_build.log[-20000:]}"
    warnings = [ln for ln in loaded_build.log.splitlines() if "WARNING" in ln and "IPKernelApp" not in ln]
    assert not warnings, "\n".join(warnings)


def test_two_clean_builds_are_byte_identical(built_book: Build, loaded_build: Build) -> None:
    assert loaded_build.returncode == 0
    a, b = site_files(built_book.outdir), site_files(loaded_build.outdir)
    assert a == b, f"different files: only first {sorted(a - b)[:10]}, only second {sorted(b - a)[:10]}"
    names = sorted(p.as_posix() for p in a)
    _, mismatch, errors = filecmp.cmpfiles(built_book.outdir, loaded_build.outdir, names, shallow=False)
    assert not mismatch and not errors, (
        f"files differ between two clean builds: {mismatch[:20]}\n"
        + "\n".join(first_differences(built_book.outdir, loaded_build.outdir, mismatch[:5])))


def first_differences(a: Path, b: Path, names: list[str], lines: int = 30) -> list[str]:
    """The start of a unified diff of each differing text file (what to look at when this fails)."""
    out = []
    for name in names:
        try:
            left = (a / name).read_text(encoding="utf-8").splitlines()
            right = (b / name).read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            out.append(f"--- {name}: binary")
            continue
        if name.endswith(".js") and len(left) == len(right) == 1:   # one long line: cut it up
            left, right = left[0].split(","), right[0].split(",")
        diff = difflib.unified_diff(left, right, f"first/{name}", f"second/{name}", n=1, lineterm="")
        out.extend(line[:300] for line in list(diff)[:lines])
    return out
