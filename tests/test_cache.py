"""The execution cache: never stale, never wasted, and deterministic.

MyST-NB's cache is keyed on cell source only. ``conf/_ext/nnbook.py`` adds nnmath's source hash,
so editing nnmath re-executes every chapter. These tests prove it on a two-chapter book built with
the real configuration against a *copy* of nnmath (so the test can edit it), which keeps them fast.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from book import ROOT, Build, run_sphinx, sphinx_env

pytestmark = pytest.mark.build

HEADER = """---
jupytext:
  text_representation: {{extension: .md, format_name: myst, format_version: 0.13}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---
"""

CHAPTER = HEADER + """
# Chapter {n}

$$e^{{i\\pi}} + 1 = 0$$

```{{code-cell}} ipython3
import matplotlib.pyplot as plt
import nnmath as nm
nm.plotting.use_book_style()
print("palette", nm.plotting.PALETTE[0], "chapter {n}")
```

```{{code-cell}} ipython3
---
mystnb:
  figure: {{caption: A line., name: fig-line-{n}}}
  image: {{alt: A straight line.}}
---
fig, ax = plt.subplots()
ax.plot([0, 1], [0, {n}])
plt.show()
```
"""


@pytest.fixture
def mini(tmp_path: Path) -> dict[str, Path]:
    """A two-chapter book and a private copy of nnmath that shadows the installed one."""
    src = tmp_path / "book"
    (src / "chapters").mkdir(parents=True)
    (src / "index.md").write_text("# Mini\n\n```{toctree}\n:glob:\n\nchapters/*\n```\n")
    for n in (1, 2):
        (src / "chapters" / f"0{n}_c.md").write_text(CHAPTER.format(n=n))
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "nnmath", pkg / "nnmath", ignore=shutil.ignore_patterns("__pycache__"))
    return {"src": src, "pkg": pkg, "tmp": tmp_path}


def build(m: dict[str, Path], out: str = "out") -> Build:
    env = sphinx_env(PYTHONPATH=str(m["pkg"]))
    b = run_sphinx(m["src"], m["tmp"] / out / "html", env=env)
    assert b.returncode == 0, b.log[-8000:]
    return b


def test_cache_is_keyed_on_nnmath_source(mini: dict[str, Path]) -> None:
    cold = build(mini)
    assert len(cold.executed) == 2, cold.log

    # No change: nothing is re-read, nothing executes.
    warm = build(mini)
    assert warm.executed == [], warm.log

    # Edit one chapter: only that chapter executes again.
    ch2 = mini["src"] / "chapters" / "02_c.md"
    ch2.write_text(ch2.read_text().replace("chapter 2", "chapter two"))
    one = build(mini)
    assert len(one.executed) == 1 and "02_c" in one.executed[0], one.log

    # Edit nnmath (the plotting style): every chapter executes again and shows the new value.
    style = mini["pkg"] / "nnmath" / "plotting.py"
    style.write_text(style.read_text().replace('"#0072B2"', '"#123456"', 1))
    edited = build(mini)
    assert len(edited.executed) == 2, edited.log
    for n in (1, 2):
        html = (mini["tmp"] / "out" / "html" / "chapters" / f"0{n}_c.html").read_text()
        assert "#123456" in html and "#0072B2" not in html, "stale output after editing nnmath"


def test_failed_chapter_fails_every_build_until_fixed(mini: dict[str, Path]) -> None:
    bad = mini["src"] / "chapters" / "02_c.md"
    bad.write_text(bad.read_text() + "\n```{code-cell} ipython3\nraise ValueError('boom in cell')\n```\n")
    env = sphinx_env(PYTHONPATH=str(mini["pkg"]))
    first = run_sphinx(mini["src"], mini["tmp"] / "out" / "html", env=env)
    assert first.returncode != 0
    assert "02_c.md" in first.log and "boom in cell" in first.log and "raise ValueError" in first.log
    # An incremental build must not hide the failure behind the cached environment.
    second = run_sphinx(mini["src"], mini["tmp"] / "out" / "html", env=env)
    assert second.returncode != 0 and "boom in cell" in second.log


def test_two_clean_builds_are_identical(mini: dict[str, Path]) -> None:
    a, b = build(mini, "a"), build(mini, "b")
    for sub in ("chapters", "_images"):
        da, db = a.outdir / sub, b.outdir / sub
        names = sorted(p.name for p in da.iterdir())
        assert names == sorted(p.name for p in db.iterdir())
        _, mismatch, errors = filecmp.cmpfiles(da, db, names, shallow=False)
        assert not mismatch and not errors, f"{sub}: differ between clean builds: {mismatch + errors}"


CLAIM_CELL = """
```{{code-cell}} ipython3
nm.claim("mini_value", {value}, expected={value}, atol=1e-12, kind="derived", against="itself, for the test")
```

The value is {{claim}}`mini_value:.1f`.
"""


def test_claims_page_follows_its_chapters_and_a_no_change_rebuild_reads_nothing(
        mini: dict[str, Path]) -> None:
    (mini["src"] / "claims.md").write_text("# Claims\n\n```{claims-table}\n```\n")
    (mini["src"] / "index.md").write_text(
        "# Mini\n\n```{toctree}\n:glob:\n\nchapters/*\nclaims\n```\n")
    ch1 = mini["src"] / "chapters" / "01_c.md"
    original = ch1.read_text()
    ch1.write_text(original + CLAIM_CELL.format(value=1.5))
    page = mini["tmp"] / "out" / "html" / "claims.html"
    build(mini)
    assert "1.5" in page.read_text()

    # No change: no page is read again (the claims page included), nothing executes.
    warm = build(mini)
    assert warm.executed == [] and "0 added, 0 changed, 0 removed" in warm.log, warm.log[-3000:]

    # A chapter's claim changes: the claims page is written again and shows the new value.
    ch1.write_text(original + CLAIM_CELL.format(value=2.5))
    edited = build(mini)
    assert len(edited.executed) == 1, edited.log[-3000:]
    text = page.read_text()
    assert "2.5" in text and "1.5" not in text, "the claims page kept a chapter's old claim"
