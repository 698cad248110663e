"""Rules every chapter's source obeys, checked without building the book.

* No clock: a chapter's cells never read the time (a claim or a sentence that depends on the
  machine's load breaks at random). A cell may show a timing for illustration only if it carries the
  tag ``machine-dependent``; nothing may be claimed from it.
* Claims, not asserts: a check in a chapter goes through ``nm.claim`` (named, with an independent
  expectation, listed on the claims page), not a bare ``assert``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "book" / "chapters").glob("*.md")) + sorted((ROOT / "book" / "appendix").glob("*.md"))
CLOCK_MODULES = {"time", "timeit", "datetime"}
CLOCK_NAMES = {"perf_counter", "perf_counter_ns", "process_time", "process_time_ns", "monotonic",
               "monotonic_ns", "time_ns", "timeit", "default_timer", "now", "utcnow", "today"}


def code_cells(path: Path) -> list[tuple[int, str, list[str]]]:
    nb = jupytext.read(path)
    return [(i, c.source, list(c.metadata.get("tags", []))) for i, c in enumerate(nb.cells)
            if c.cell_type == "code"]


def clock_reads(source: str) -> list[str]:
    """Names in ``source`` that import or call a clock."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in CLOCK_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in CLOCK_MODULES:
            found.append(node.module or "")
        elif isinstance(node, ast.Attribute) and node.attr in CLOCK_NAMES:
            found.append(node.attr)   # time.perf_counter, datetime.now, ... (a bare name can only
                                      # be a clock if it was imported, which is caught above)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_no_chapter_cell_reads_a_clock(path: Path) -> None:
    bad = [(i, clock_reads(src)) for i, src, tags in code_cells(path) if "machine-dependent" not in tags]
    bad = [(i, names) for i, names in bad if names]
    assert not bad, f"{path.name}: cells read a clock outside a 'machine-dependent' cell: {bad}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_checks_are_claims_not_asserts(path: Path) -> None:
    bad = []
    for i, src, _ in code_cells(path):
        lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        if any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse("\n".join(lines)))):
            bad.append(i)
    assert not bad, f"{path.name}: cells {bad} use assert; record the check with nm.claim"


def test_the_rules_catch_what_they_forbid() -> None:
    assert clock_reads("import time\nt = time.perf_counter()") == ["time", "perf_counter"]
    assert clock_reads("from timeit import timeit") == ["timeit"]
    assert clock_reads("x = np.tanh(1.0)") == []
    assert clock_reads("now = [1]; prev = now") == []          # a variable, not a clock
