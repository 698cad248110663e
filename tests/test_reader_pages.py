"""The reader-facing pages of the built site (HTML checks, no browser).

* the status page gives the commit, that commit's date and the tool versions, lists every chapter
  with its status, and carries no run time or execution date (two builds of one commit must give
  the same pages);
* the front page's chapter map has one line per chapter, each with a small figure;
* every SVG figure has a dark twin, and the page carries both with the theme classes;
* names of nnmath in code cells link to their API entry, and API entries link back to the
  chapters that use them; one search box per page; hover-preview scripts are local.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from bs4 import BeautifulSoup

from conftest import BOOK, ROOT, Build

pytestmark = pytest.mark.build

CHAPTERS = sorted(p.relative_to(BOOK).with_suffix("").as_posix() for p in (BOOK / "chapters").glob("[0-9][0-9]_*.md")
                  if not p.name.startswith("00_"))


def soup(build: Build, rel: str) -> BeautifulSoup:
    return BeautifulSoup((build.outdir / rel).read_text(encoding="utf-8"), "html.parser")


def test_status_page_has_commit_date_versions_and_no_run_times(built_book: Build) -> None:
    import myst_nb
    import numpy
    import sphinx

    main = soup(built_book, "status.html").find("main")
    text = main.get_text(" ", strip=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if commit:
        assert commit in text, "the status page does not name the commit"
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text), "no commit date"
    for name, version in (("NumPy", numpy.__version__), ("Sphinx", sphinx.__version__),
                          ("MyST-NB", myst_nb.__version__), ("Python", None)):
        assert name in text and (version is None or version in text), f"{name} {version} missing"
    for doc in CHAPTERS:
        assert doc in text, f"{doc} missing from the status page"
    assert not re.search(r"\b\d+(\.\d+)?\s*(s|sec|seconds)\b", text), "a run time on the status page"
    assert "executed, no errors" in text


def test_front_page_chapter_map_has_a_line_and_a_figure_per_chapter(built_book: Build) -> None:
    page = soup(built_book, "index.html")
    items = page.select("main ul.nnbook-chapter-map > li")
    links = [li.find("a")["href"] for li in items]
    assert len(items) == len(CHAPTERS), f"{len(items)} chapter-map lines for {len(CHAPTERS)} chapters"
    for doc, li, href in zip(CHAPTERS, items, links, strict=True):
        assert href.startswith(doc), (doc, href)
        assert len(li.get_text(" ", strip=True)) > 60, f"{doc}: no line of what it derives"
        img = li.find("img", class_="only-light")
        assert img is not None and img.get("alt"), f"{doc}: no figure in the chapter map"


def test_every_svg_figure_has_a_dark_twin(built_book: Build) -> None:
    problems = []
    for doc in CHAPTERS:
        page = soup(built_book, f"{doc}.html")
        for fig in page.select("main figure"):
            light = fig.select("img.only-light")
            dark = fig.select("img.only-dark")
            if not fig.find("img"):
                continue
            if len(light) != 1 or len(dark) != 1:
                problems.append(f"{doc} {fig.get('id')}: {len(light)} light, {len(dark)} dark images")
                continue
            target = (built_book.outdir / doc).parent / dark[0]["src"]
            if not target.resolve().is_file():
                problems.append(f"{doc}: missing {dark[0]['src']}")
            if dark[0].get("alt") != light[0].get("alt"):
                problems.append(f"{doc}: the dark twin's alt text differs")
    assert not problems, "\n".join(problems[:30])


def test_code_links_to_the_api_and_the_api_links_back(built_book: Build) -> None:
    linked = 0
    for doc in CHAPTERS:
        page = soup(built_book, f"{doc}.html")
        links = page.select("main .cell_input a.sphinx-codeautolink-a")
        assert links, f"{doc}: no code→API links in its code cells"
        linked += len(links)
        for a in links[:50]:
            assert a["href"].startswith(("../api.html#nnmath.", "../api.html#module-nnmath")), a["href"]
    api = soup(built_book, "api.html")
    backrefs = api.select("main details table a[href*='chapters/']")
    assert backrefs, "no API entry links back to a chapter"
    assert linked > 100


def test_one_search_box_and_local_preview_scripts(built_book: Build) -> None:
    for rel in ["index.html", f"{CHAPTERS[0]}.html"]:
        page = soup(built_book, rel)
        fields = page.select("button.search-button-field")
        buttons = page.select("button.search-button__button:not(.search-button-field)")
        assert len(fields) + len(buttons) <= 2 and not fields, f"{rel}: {len(fields)} search fields, {len(buttons)} buttons"
        scripts = [s["src"] for s in page.find_all("script", src=True)]
        assert any("tippy" in s and "/vendor/" in s for s in scripts), f"{rel}: no local Tippy"
        assert not any(s.startswith(("http:", "https:")) for s in scripts)


def test_reader_notebooks_are_what_the_download_button_offers(built_book: Build) -> None:
    html = (built_book.outdir / f"{CHAPTERS[0]}.html").read_text(encoding="utf-8")
    assert f"_sources/{CHAPTERS[0]}.ipynb" in html
    nb = (built_book.outdir / "_sources" / f"{CHAPTERS[0]}.ipynb").read_text(encoding="utf-8")
    assert "{glue" not in nb and '"install"' in nb


def test_dark_twin_files_are_valid_svg(built_book: Build) -> None:
    darks = sorted((built_book.outdir / "_images").glob("*.dark.svg"))
    assert darks
    for f in darks[:5]:
        text = f.read_text(encoding="utf-8")
        assert text.lstrip().startswith("<?xml") and "</svg>" in text
        assert "#ffffff" not in text.lower(), f"{f.name}: white left in the dark rendering"
