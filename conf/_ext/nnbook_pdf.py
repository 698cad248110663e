"""What the LaTeX (PDF) edition of the book does differently from the web pages.

* **Hidden cells stay hidden.** On the web a ``hide-input`` cell's code is folded behind a toggle;
  paper has no toggle, so the PDF shows only such a cell's output (``remove-input`` and
  ``remove-cell`` are already dropped by MyST-NB).
* **Reproducible title page**: dated with the date of the commit built, not the day of the build.
* **Code fits the page** without shrinking: code cells, nnmath's listings and printed outputs are
  written to at most 88 columns (tests/test_sources.py, tests/test_book.py), and at the book's
  footnote-sized code a line of :data:`CODE_WIDTH_PT` / (:data:`CODE_EM_PER_CHAR` *
  :data:`CODE_SIZE_PT`) = 101 characters fits the frame; tests/test_pdf.py measures every line.
* **Interactive-only pieces are left out**: the launch/download chrome does not exist in LaTeX, and
  the chapter map's thumbnails (small copies of figures that follow in full) are dropped.

``make pdf`` runs ``sphinx-build -b latex`` and ``latexmk`` (xelatex); the figures are SVG, which
``sphinxcontrib.rsvgconverter`` turns into vector PDF with Debian's ``rsvg-convert``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

HIDDEN_INPUT_TAGS = {"hide-input", "remove-input"}


def _cell_tags(node: nodes.Element) -> set[str]:
    meta = node.get("cell_metadata") or {}
    return set(meta.get("tags") or [])


def _drop_hidden_inputs(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "latex":
        return
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code":
            continue
        if not _cell_tags(cell) & HIDDEN_INPUT_TAGS:
            continue
        for child in list(cell.children):
            if isinstance(child, nodes.Element) and child.get("nb_element") == "cell_code_source":
                cell.remove(child)
    for img in list(doctree.findall(nodes.image)):
        if "nnbook-chapter-thumb" in img.get("classes", []):
            img.parent.remove(img)


#: The code's monospace font (Sphinx's xelatex default, FreeMono scaled 0.9) advances 0.54 em per
#: character, and a code frame leaves about 440 pt of the A4 text width (450 pt) for the text.
CODE_EM_PER_CHAR, CODE_WIDTH_PT, CODE_SIZE_PT = 0.54, 440.0, 8.0   # 8 pt: \footnotesize


def _commit_date(app: Sphinx) -> None:
    if app.builder.format != "latex" or app.config.today:
        return
    try:
        app.config.today = subprocess.run(
            ["git", "log", "-1", "--format=%cd", "--date=format-local:%d %B %Y"], cwd=Path(app.srcdir).parent,
            capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"}).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _commit_date)
    app.connect("doctree-resolved", _drop_hidden_inputs, priority=600)   # after the chapter map
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
