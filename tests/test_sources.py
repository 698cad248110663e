"""Source checks on the chapters that need no build: code cells fit the page.

A code cell wider than 88 columns scrolls sideways on a laptop, is cut on a phone and runs off the
page in the PDF. The check reads the MyST sources (``book/chapters/*.md``, ``book/appendix/*.md``)
and reports every offending line with its file and line number. The nnmath source the chapters
show with ``{literalinclude}`` and ``:pyobject:`` is held to the same width, object by object.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "book" / "chapters").glob("*.md")) + sorted((ROOT / "book" / "appendix").glob("*.md"))
MAX_COLUMNS = 88

FENCE = re.compile(r"^(`{3,}|~{3,})\s*\{code-cell\}")


def code_cell_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` for every source line inside a ``{code-cell}`` fence (its YAML
    options block and ``:key: value`` option lines excluded: they are not shown as code)."""
    out: list[tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group(1)
        i += 1
        # options: a --- YAML block or leading :key: lines
        if i < len(lines) and lines[i].strip() == "---":
            i += 1
            while i < len(lines) and lines[i].strip() != "---":
                i += 1
            i += 1
        while i < len(lines) and re.match(r"^:[\w-]+:", lines[i]):
            i += 1
        while i < len(lines) and not (lines[i].startswith(fence[0] * len(fence))
                                      and lines[i].strip() == lines[i].strip()[0] * len(lines[i].strip())):
            out.append((i + 1, lines[i]))
            i += 1
        i += 1
    return out


def test_sources_found() -> None:
    assert SOURCES, "no chapter sources"
    assert any(code_cell_lines(p) for p in SOURCES), "no code cells found: the parser is broken"


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_code_cell_lines_fit_88_columns(path: Path) -> None:
    long = [(n, len(text)) for n, text in code_cell_lines(path) if len(text) > MAX_COLUMNS]
    assert not long, (f"{path.relative_to(ROOT)}: {len(long)} code-cell lines longer than {MAX_COLUMNS} "
                      f"columns (line: length) " + ", ".join(f"{n}: {w}" for n, w in long))


def cell_options(path: Path) -> list[tuple[int, dict]]:
    """``(line number, options)`` of every code cell that has a ``---`` YAML options block."""
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if FENCE.match(line) and i + 1 < len(lines) and lines[i + 1].strip() == "---":
            end = next(k for k in range(i + 2, len(lines)) if lines[k].strip() == "---")
            out.append((i + 1, yaml.safe_load("\n".join(lines[i + 2:end])) or {}))
    return out


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_cell_tags_are_top_level_options(path: Path) -> None:
    """``tags`` indented under ``mystnb:`` is silently ignored: the cell is not folded on the web,
    and its code is printed in the PDF. Tags belong at the top level of the cell's options."""
    nested = [n for n, opts in cell_options(path) if isinstance(opts.get("mystnb"), dict) and "tags" in opts["mystnb"]]
    assert not nested, (f"{path.relative_to(ROOT)}: 'tags' nested under 'mystnb:' (ignored) in the "
                        f"code cells at lines {nested}; write it at the top level of the options")


INCLUDE = re.compile(r"^(`{3,}|~{3,})\s*\{literalinclude\}\s+(\S+)\s*$")


def shown_objects() -> list[tuple[Path, str]]:
    """``(source file, object name)`` for every ``{literalinclude}`` with a ``:pyobject:`` option in
    ``book/**/*.md``; the path is relative to the Markdown file, the name may be ``Class.method``."""
    found: set[tuple[Path, str]] = set()
    for md in sorted((ROOT / "book").glob("**/*.md")):
        if any(part.startswith(".") for part in md.relative_to(ROOT).parts):
            continue
        lines = md.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = INCLUDE.match(line)
            if not m:
                continue
            k = i + 1
            while k < len(lines) and re.match(r"^:[\w-]+:", lines[k]):
                option = re.match(r"^:pyobject:\s*(\S+)", lines[k])
                if option:
                    found.add(((md.parent / m.group(2)).resolve(), option.group(1)))
                k += 1
    return sorted(found)


def object_lines(path: Path, name: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of the object ``name`` (``Class.method`` allowed) of ``path``, from
    its first decorator to its last line: what the book's ``:pyobject:`` listing shows."""
    source = path.read_text(encoding="utf-8")
    body = ast.parse(source).body
    node: ast.AST | None = None
    for part in name.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        assert node is not None, f"{path.relative_to(ROOT)}: the book shows {name!r}, which is not defined"
        body = node.body
    start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    return [(n, text) for n, text in enumerate(source.splitlines()[start - 1:node.end_lineno], start)]


def test_source_shown_in_the_book_fits_88_columns() -> None:
    """The ``{literalinclude}`` listings of nnmath's source are code on the page too: an object
    the book shows with ``:pyobject:`` keeps every line within 88 columns (the rest of the package
    may be wider)."""
    objects = shown_objects()
    assert objects, "no literalinclude :pyobject: listings found: the parser is broken"
    long = sorted({(path, n, len(text)) for path, name in objects for n, text in object_lines(path, name)
                   if len(text) > MAX_COLUMNS})
    assert not long, (f"{len(long)} lines of the source shown in the book are longer than {MAX_COLUMNS} "
                      f"columns:\n" + "\n".join(f"{p.relative_to(ROOT)}:{n}: {w} columns" for p, n, w in long))
