"""The PDF edition: ``make pdf``'s two steps (Sphinx's LaTeX builder, then latexmk with xelatex).

Built once per session next to the HTML build, so the chapters' executed notebooks come from the
same execution cache (nothing executes twice). Checked: the PDF exists; its text (pdftotext) has
every chapter's title and no "??" (an unresolved reference); every figure reached the LaTeX as a
vector graphic; the bibliography is there; the code of cells tagged ``hide-input`` is not printed.

Needs TeX Live (``latexmk``, ``xelatex``), ``rsvg-convert`` and ``pdftotext`` (``.ci/run`` installs
them; the README lists the Debian packages). Without them the test skips locally; in CI
(``CI=true``) it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import BOOK, CONF, Build, sphinx_env

pytestmark = [pytest.mark.build, pytest.mark.pdf]

TOOLS = ("latexmk", "xelatex", "rsvg-convert", "pdftotext", "pdfinfo")
NAME = "neural-network-mathematics"
SOURCES = sorted([*(BOOK / "chapters").glob("*.md"), *(BOOK / "appendix").glob("*.md")])


@dataclass
class Pdf:
    path: Path
    tex: str
    text: str
    pages: int
    seconds: float


def _tools_or_skip() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not missing:
        return
    msg = (f"no {', '.join(missing)}: apt-get install texlive-latex-recommended texlive-latex-extra "
           "texlive-fonts-recommended texlive-xetex latexmk tex-gyre fonts-freefont-otf librsvg2-bin "
           "poppler-utils")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {msg}")
    pytest.skip(f"{msg}; PDF checks skipped")


@pytest.fixture(scope="module")
def pdf(built_book: Build) -> Pdf:
    _tools_or_skip()
    start = time.perf_counter()
    latex = built_book.outdir.parent / "latex"
    cmd = [sys.executable, "-m", "sphinx", "-b", "latex", "-c", str(CONF), "-W", "-n", "--keep-going",
           "-j", "auto", str(BOOK), str(latex)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=sphinx_env(), cwd=latex.parent)
    assert proc.returncode == 0, f"LaTeX build failed:\n{(proc.stdout + proc.stderr)[-8000:]}"
    executed = [ln for ln in proc.stdout.splitlines() if "Executing notebook" in ln]
    assert not executed, f"the LaTeX build re-executed chapters: {executed}"
    tex = (latex / f"{NAME}.tex").read_text(encoding="utf-8")
    proc = subprocess.run(["latexmk", "-pdfxe", "-interaction=nonstopmode", "-halt-on-error",
                           "-file-line-error", "-quiet", f"{NAME}.tex"],
                          capture_output=True, text=True, cwd=latex)
    log = latex / f"{NAME}.log"
    assert proc.returncode == 0, (f"latexmk failed:\n{proc.stdout[-3000:]}\n"
                                  + "\n".join(ln for ln in log.read_text(errors="replace").splitlines()
                                              if ln.startswith("!") or ":" in ln[:80] and "error" in ln.lower())[-3000:])
    path = latex / f"{NAME}.pdf"
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    seconds = time.perf_counter() - start
    print(f"\nPDF: {pages} pages, built in {seconds:.0f} s (LaTeX builder + latexmk)")
    return Pdf(path, tex, text, pages, seconds)


def _words(s: str) -> str:
    s = s.replace("\u00ad", "").replace("ﬁ", "fi").replace("ﬂ", "fl").replace("’", "'")
    return re.sub(r"\s+", " ", re.sub(r"-\n", "", s)).strip().lower()


def test_pdf_exists_and_has_every_chapter_title(pdf: Pdf) -> None:
    assert pdf.path.is_file() and pdf.pages > 50
    text = _words(pdf.text)
    missing = []
    for src in SOURCES:
        title = next(ln[2:] for ln in src.read_text(encoding="utf-8").splitlines() if ln.startswith("# "))
        plain = _words(re.sub(r"\$[^$]*\$|[`*]", "", title))
        if plain not in text:
            missing.append(f"{src.name}: {title!r}")
    assert not missing, "chapter titles missing from the PDF text:\n" + "\n".join(missing)


def test_pdf_has_no_unresolved_reference(pdf: Pdf) -> None:
    hits = [pdf.text[max(0, m.start() - 60):m.end() + 20].replace("\n", " ")
            for m in re.finditer(r"\?\?", pdf.text)]
    assert not hits, f"{len(hits)} unresolved references (??) in the PDF:\n" + "\n".join(hits[:20])


def test_pdf_has_the_figures_as_vector_graphics_and_the_bibliography(pdf: Pdf, built_book: Build) -> None:
    html_figures = sum(len(re.findall(r"<figure\b", (built_book.outdir / f"{src.relative_to(BOOK).with_suffix('')}.html")
                                      .read_text(encoding="utf-8"))) for src in SOURCES)
    graphics = re.findall(r"\\sphinxincludegraphics(?:\[[^]]*\])?\{\{?([^}]+)\}", pdf.tex)
    assert len(graphics) >= html_figures, f"{len(graphics)} graphics in the LaTeX, {html_figures} figures on the web"
    raster = [g for g in graphics if not g.endswith(".pdf") and "." in g]
    assert not raster, f"figures that are not vector PDF: {raster[:5]}"
    assert "Figure size" not in pdf.text, "a figure printed as its text fallback (<Figure size ...>)"
    assert re.search(r"bibliography", pdf.text, re.I)
    assert "Ioffe" in pdf.text


def _cells(src: Path) -> list[tuple[bool, list[str]]]:
    """(hidden?, code lines) for every code cell of a chapter source."""
    lines = src.read_text(encoding="utf-8").splitlines()
    cells, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("```{code-cell}"):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = lines[i + 1:j]
        k, tags = 0, []
        if body and body[0].strip() == "---":             # the cell's YAML options
            k = next((n for n in range(1, len(body)) if body[n].strip() == "---"), len(body) - 1) + 1
            tags = (yaml.safe_load("\n".join(body[1:k - 1])) or {}).get("tags") or []
        while k < len(body) and re.match(r"^:[\w-]+:", body[k]):
            if body[k].startswith(":tags:"):
                tags = yaml.safe_load(body[k][len(":tags:"):]) or []
            k += 1
        hidden = bool({"hide-input", "remove-input"} & set(tags))
        code = [ln.strip() for ln in body[k:] if ln.strip() and not ln.strip().startswith("#")]
        cells.append((hidden, code))
        i = j + 1
    return cells


def test_pdf_does_not_print_hidden_cell_code(pdf: Pdf) -> None:
    text = _words(pdf.text)
    cells = [c for src in SOURCES for c in ((src.name, h, code) for h, code in _cells(src))]
    shown = {ln for _, hidden, code in cells if not hidden for ln in code}
    printed, checked = [], 0
    for name, hidden, code in cells:
        if not hidden:
            continue
        # a line of this cell that no visible cell has: it must not be in the PDF
        own = next((ln for ln in code if len(ln) > 30 and ln not in shown), None)
        if own is None:
            continue
        checked += 1
        if _words(own) in text:
            printed.append(f"{name}: {own[:70]}")
    assert not printed, f"code of hide-input cells printed in the PDF ({len(printed)} of {checked}):\n" + "\n".join(printed[:20])


def _visible(line: str) -> str:
    """A line of a Pygments ``sphinxVerbatim`` block as printed: escapes are one character each."""
    line = re.sub(r"\\PYGZ\w\w\{\}", "x", line)          # \PYGZus{} is "_", \PYGZob{} is "{", ...
    line = re.sub(r"\\PYG\{[\w+.-]+\}\{", "", line)       # the token wrappers \PYG{k}{...}
    line = re.sub(r"\\(sphinxhyphen|sphinxhref)\{\}", "-", line)
    return line.replace("{", "").replace("}", "")


def test_pdf_code_lines_fit_the_page(pdf: Pdf) -> None:
    """No line of code, of nnmath's listings or of printed output is wider than the code frame at
    the book's code size (a wider line would wrap with a continuation mark): measured on the LaTeX
    source with FreeMono's advance width. Nothing is shrunk to fit; every block is set at the same
    size."""
    sys.path.insert(0, str(CONF / "_ext"))
    from nnbook_pdf import CODE_EM_PER_CHAR, CODE_SIZE_PT, CODE_WIDTH_PT

    # the preamble's \fvset{fontsize=\footnotesize} is the one size; no block has its own
    assert "\\begingroup\\fvset{fontsize=" not in pdf.tex, "a code block is set in a size of its own"
    pieces = pdf.tex.split("\\begin{sphinxVerbatim}")
    too_wide, outputs = [], 0
    for before, block in zip(pieces, pieces[1:]):
        body = block.split("\n", 1)[1].split("\\end{sphinxVerbatim}")[0]
        outputs += "{cell_output}" in before[-300:].rsplit("\\end{sphinxuseclass}", 1)[-1]
        too_wide += [f"{len(t)} columns: {t[:70]}" for t in map(_visible, body.splitlines())
                     if len(t) * CODE_EM_PER_CHAR * CODE_SIZE_PT > CODE_WIDTH_PT]
    assert len(pieces) > 200, f"only {len(pieces) - 1} code blocks in the LaTeX"
    assert outputs > 50, f"only {outputs} printed outputs found: the output marker has changed"
    print(f"\nPDF code blocks: {len(pieces) - 1}, {outputs} of them printed outputs")
    assert not too_wide, f"{len(too_wide)} lines wrap in the PDF:\n" + "\n".join(too_wide[:20])
