"""The book as a product: a strict build from scratch, then checks over the HTML it produced.

These tests build the whole book once per session (``built_book`` in conftest.py), so they are the
slow part of ``make test``. What they guarantee: the published site has every chapter, no error
output, no broken image or link, alt text and a caption on every figure, math on every chapter
page, and nothing loaded from another host.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup

from book import BOOK, ROOT, Build

ROOT_DIR = ROOT

pytestmark = pytest.mark.build

CHAPTERS = sorted(p.relative_to(BOOK).with_suffix("") for p in (BOOK / "chapters").glob("*.md"))
APPENDIX = sorted(p.relative_to(BOOK).with_suffix("") for p in (BOOK / "appendix").glob("*.md"))
NOTEBOOK_PAGES = CHAPTERS + APPENDIX


def pages(build: Build) -> list[Path]:
    return sorted(p for p in build.outdir.rglob("*.html") if "_static" not in p.parts)


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_strict_build_has_no_warnings(built_book: Build) -> None:
    warnings = [ln for ln in built_book.log.splitlines() if "WARNING" in ln and "IPKernelApp" not in ln]
    assert not warnings, "\n".join(warnings)
    assert "build succeeded" in built_book.log


def test_every_chapter_page_exists(built_book: Build) -> None:
    assert CHAPTERS, "no chapters found"
    for doc in NOTEBOOK_PAGES + [Path("index"), Path("bibliography"), Path("api"), Path("status")]:
        assert (built_book.outdir / doc).with_suffix(".html").is_file(), f"{doc}.html missing"


def test_every_chapter_is_downloadable_as_executed_ipynb(built_book: Build) -> None:
    import json

    for doc in NOTEBOOK_PAGES:
        nb_path = (built_book.outdir / "_sources" / doc).with_suffix(".ipynb")
        assert nb_path.is_file(), f"{nb_path} missing"
        nb = json.loads(nb_path.read_text())
        # the reader notebook's first cell installs what is missing; it does not run in the build
        code = [c for c in nb["cells"]
                if c["cell_type"] == "code" and "install" not in c["metadata"].get("tags", [])]
        assert code and all(c.get("execution_count") for c in code), f"{doc}: not an executed notebook"


@pytest.mark.parametrize("doc", [str(d) for d in NOTEBOOK_PAGES])
def test_chapter_has_math_and_no_error_output(built_book: Build, doc: str) -> None:
    page = soup((built_book.outdir / doc).with_suffix(".html"))
    main = page.find("main") or page
    assert main.select(".math, div.math, span.math"), f"{doc}: no math on the page"
    bad = main.select(".output.traceback, .output.error, .output.stderr")
    assert not bad, f"{doc}: error/stderr output in a cell:\n{bad[0].get_text()[:2000]}"
    text = main.get_text()
    assert "Traceback (most recent call last)" not in text, f"{doc}: a traceback is shown"


@pytest.mark.parametrize("doc", [str(d) for d in NOTEBOOK_PAGES])
def test_launch_buttons_open_the_ipynb(built_book: Build, doc: str) -> None:
    html = (built_book.outdir / doc).with_suffix(".html").read_text()
    launch = re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]*)"', html)
    assert launch, f"{doc}: no launch buttons"
    for url in launch:
        assert url.endswith(".ipynb") and ".md" not in url, f"{doc}: launch button points at {url}"


def test_images_resolve_and_have_alt_text(built_book: Build) -> None:
    problems = []
    for path in pages(built_book):
        for img in soup(path).find_all("img"):
            src = img.get("src", "")
            if src.startswith("data:"):
                continue
            if urlparse(src).scheme:
                problems.append(f"{path.name}: external image {src}")
                continue
            target = (path.parent / unquote(urlparse(src).path)).resolve()
            if not target.is_file():
                problems.append(f"{path.name}: missing image {src}")
            in_content = img.find_parent("main") is not None and "logo" not in " ".join(img.get("class", []))
            if in_content and not img.get("alt", "").strip():
                problems.append(f"{path.name}: image without alt text {src}")
    assert not problems, "\n".join(problems)


def test_figures_are_numbered_and_captioned(built_book: Build) -> None:
    count = 0
    for doc in NOTEBOOK_PAGES:
        page = soup((built_book.outdir / doc).with_suffix(".html"))
        for fig in page.select("main figure"):
            if not fig.find("img"):
                continue
            count += 1
            cap = fig.find("figcaption")
            assert cap is not None and cap.get_text(strip=True), f"{doc}: figure without caption"
            assert cap.select_one(".caption-number"), f"{doc}: figure without a number"
            assert fig.get("id"), f"{doc}: figure without a label to cross-reference"
    assert count > 0


def test_cell_images_are_figures_with_alt_text(built_book: Build) -> None:
    """Every plot a cell emits is a captioned figure (bare outputs would have no alt text)."""
    for doc in NOTEBOOK_PAGES:
        page = soup((built_book.outdir / doc).with_suffix(".html"))
        for img in page.select("main .cell_output img"):
            assert img.find_parent("figure") is not None, f"{doc}: an uncaptioned plot ({img.get('src')})"


def test_local_links_resolve(built_book: Build) -> None:
    problems = []
    ids_cache: dict[Path, set[str]] = {}
    for path in pages(built_book):
        for a in soup(path).find_all("a", href=True):
            url = urlparse(a["href"])
            if url.scheme or a["href"].startswith(("mailto:", "javascript:")):
                continue
            target = path if not url.path else (path.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{path.relative_to(built_book.outdir)}: broken link {a['href']}")
                continue
            if url.fragment and target.suffix == ".html":
                if target not in ids_cache:
                    ids_cache[target] = {t["id"] for t in soup(target).find_all(id=True)}
                if url.fragment not in ids_cache[target]:
                    problems.append(f"{path.relative_to(built_book.outdir)}: missing anchor {a['href']}")
    assert not problems, "\n".join(problems[:50])


def test_no_third_party_scripts_styles_or_fonts(built_book: Build) -> None:
    problems = []
    for path in pages(built_book):
        page = soup(path)
        for tag in page.find_all("script", src=True):
            if urlparse(tag["src"]).scheme:
                problems.append(f"{path.name}: script {tag['src']}")
        for tag in page.find_all("link", href=True):
            rel = " ".join(tag.get("rel", []))
            if urlparse(tag["href"]).scheme and any(r in rel for r in ("stylesheet", "preload", "icon", "preconnect")):
                problems.append(f"{path.name}: {rel} {tag['href']}")
    for css in (built_book.outdir / "_static").rglob("*.css"):
        for url in re.findall(r"url\((['\"]?)(https?://[^)'\"]+)", css.read_text(errors="ignore")):
            problems.append(f"{css.name}: {url[1]}")
    assert not problems, "\n".join(problems[:50])


def test_mathjax_is_served_locally(built_book: Build) -> None:
    assert (built_book.outdir / "_static" / "mathjax" / "tex-chtml.js").is_file()
    fonts = built_book.outdir / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), "MathJax fonts are not in the site"


def test_execution_status_page_lists_every_chapter(built_book: Build) -> None:
    text = soup(built_book.outdir / "status.html").get_text()
    for doc in NOTEBOOK_PAGES:
        assert doc.as_posix() in text, f"{doc} missing from the execution-status table"


def test_api_reference_documents_every_public_module(built_book: Build) -> None:
    import importlib

    text = (built_book.outdir / "api.html").read_text()
    for f in sorted((BOOK.parent / "nnmath").glob("*.py")):
        if f.stem.startswith("_"):
            continue
        mod = importlib.import_module(f"nnmath.{f.stem}")
        for name in getattr(mod, "__all__", []):
            assert f'id="nnmath.{f.stem}.{name}"' in text, f"nnmath.{f.stem}.{name} missing from the API page"


LITERALINCLUDE = re.compile(r"```\{literalinclude\} \.\./\.\./nnmath/(\w+)\.py\s*\n:pyobject: ([\w.]+)")


def test_api_entries_link_back_to_the_section_that_derives_them(built_book: Build) -> None:
    """Every public object whose code a chapter shows has, on the API page, a "Derived in" link to
    that chapter's section, and the link's anchor exists."""
    import importlib

    page = soup(built_book.outdir / "api.html")
    expected: dict[str, set[str]] = {}
    for doc in NOTEBOOK_PAGES:
        for module, obj in LITERALINCLUDE.findall((BOOK / doc).with_suffix(".md").read_text()):
            name = obj.split(".")[0]
            if name in getattr(importlib.import_module(f"nnmath.{module}"), "__all__", []):
                expected.setdefault(f"nnmath.{module}.{name}", set()).add(f"{doc.as_posix()}.html")
    assert len(expected) >= 30, f"only {len(expected)} public objects shown in the chapters"
    for target, pages in sorted(expected.items()):
        entry = page.find(id=target)
        assert entry is not None, f"{target} has no API entry"
        derived = entry.find_parent("dl").select_one("dd > p.nnbook-derived-in")
        assert derived is not None, f"{target}: no 'Derived in' link on the API page"
        hrefs = [a["href"] for a in derived.find_all("a")]
        assert pages <= {h.split("#")[0] for h in hrefs}, f"{target}: links {hrefs}, expected {pages}"
        for href in hrefs:
            path, anchor = href.split("#")
            assert soup(built_book.outdir / path).find(id=anchor), f"{target}: {href} has no target"


def test_no_change_rebuild_reads_and_executes_nothing(built_book: Build) -> None:
    """A rebuild without a change executes no chapter and reads no page again (the claims page is
    written again only when a chapter was read: ``tests/test_cache.py``)."""
    from book import run_sphinx

    index = (built_book.outdir / "searchindex.js").read_bytes()
    again = run_sphinx(BOOK, built_book.outdir)
    assert again.returncode == 0, again.log[-5000:]
    # the search index is written again: it must keep every entry (the API's index entries)
    assert (built_book.outdir / "searchindex.js").read_bytes() == index
    assert again.executed == [], f"re-executed without a change: {again.executed}"
    assert "0 added, 0 changed, 0 removed" in again.log, again.log[-3000:]
    assert "no targets are out of date" in again.log, again.log[-3000:]


# --- claims ------------------------------------------------------------------------------------------
def claims_rows(build: Build) -> list[dict[str, str]]:
    page = soup(build.outdir / "claims.html")
    tables = page.select("main table.claims-table")
    assert len(tables) == 2, "the claims page needs its reproductions table and its claims table"
    header = [th.get_text(strip=True) for th in tables[1].select("thead th")]
    return [dict(zip(header, (td.get_text(" ", strip=True) for td in tr.find_all("td"))))
            for tr in tables[1].select("tbody tr")]


def test_claims_page_lists_every_chapters_claims_and_all_pass(built_book: Build) -> None:
    rows = claims_rows(built_book)
    assert len(rows) >= 100, f"only {len(rows)} claims in the whole book"
    assert all(r["status"] == "pass" for r in rows), [r for r in rows if r["status"] != "pass"]
    titles = {r["chapter"] for r in rows}
    for doc in CHAPTERS:
        title = soup((built_book.outdir / doc).with_suffix(".html")).find("h1").get_text(strip=True)
        title = title.rstrip("#").strip()
        assert any(t and (t in title or title.endswith(t)) for t in titles), f"{doc}: no claim on the claims page"
    repro = soup(built_book.outdir / "claims.html").select("main table.claims-table")[0]
    assert len(repro.select("tbody tr")) >= 10, "fewer than ten reproduced paper results"


def test_every_claim_mark_links_to_its_row_and_says_what_was_checked(built_book: Build) -> None:
    row_ids = {t["id"] for t in soup(built_book.outdir / "claims.html").find_all(id=True)}
    marks = 0
    for doc in NOTEBOOK_PAGES:
        for a in soup((built_book.outdir / doc).with_suffix(".html")).select("main a.claim-mark"):
            marks += 1
            assert a["href"].split("#")[1] in row_ids, f"{doc}: claim mark {a['href']} has no row"
            assert "Checked" in a.get("title", "") and "margin" in a["title"], f"{doc}: mark without summary"
    assert marks >= 100, f"only {marks} claimed values are marked in the text"


def test_printed_output_fits_88_columns(built_book: Build) -> None:
    """Printed text is held to the code cells' width: a wider line scrolls sideways on a laptop
    and wraps in the PDF (figures and tables are not text output)."""
    long = []
    for doc in NOTEBOOK_PAGES:
        for pre in soup((built_book.outdir / doc).with_suffix(".html")).select("main .cell_output pre"):
            long += [f"{doc}: {len(line)} columns: {line[:60]}…"
                     for line in pre.get_text().splitlines() if len(line) > 88]
    assert not long, f"{len(long)} printed lines wider than 88 columns:\n" + "\n".join(long)


def test_no_output_shows_a_memory_address_date_or_build_path(built_book: Build) -> None:
    patterns = [re.compile(r" at 0x[0-9a-fA-F]{6,}"), re.compile(str(ROOT_DIR)),
                re.compile(r"\b20[2-9]\d-\d\d-\d\d[ T]\d\d:\d\d")]
    for doc in NOTEBOOK_PAGES:
        page = soup((built_book.outdir / doc).with_suffix(".html"))
        for out in page.select("main .cell_output"):
            text = out.get_text()
            for p in patterns:
                assert not p.search(text), f"{doc}: output contains {p.pattern!r}: {text[:300]}"
