"""Claims in the text, and the "Claims and reproductions" page.

A chapter records each checked statement with ``nm.claim(name, measured, ...)`` (see
``nnmath/claims.py``): the check runs in the kernel (a failing claim fails its cell, and so the
build), and the record is glued into the notebook under ``name`` with the MIME type
``application/vnd.nnbook.claim+json``. This extension

1. provides the role ``{claim}`name:fmt```, which renders the measured value like
   ``{glue:text}`name:fmt``` followed by a small mark; in HTML the mark links to the claim's row on
   the claims page and its tooltip says what the value was checked against;
2. collects every claim of every document (from MyST-NB's glue data, so cached executions keep
   their claims) into the environment, parallel-safe;
3. fills the directives ``{claims-table}`` and ``{reproductions-table}`` on the claims page with one
   row per claim (chapter, where the text uses it, measured, expectation, kind, margin, status) and
   one row per reproduced paper result;
4. gives the downloadable notebooks deterministic cell ids;
5. warns — fatal under ``-W`` — for a claim recorded as failed, a ``{claim}`` naming no claim, and a
   claims page that lists nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

logger = logging.getLogger(__name__)

MIME_TYPE = "application/vnd.nnbook.claim+json"   # = nnmath.claims.MIME_TYPE
CLAIMS_DOC = "claims"


# --- data ----------------------------------------------------------------------------------------
def _env_claims(env: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """``{docname: {claim name: record}}``; each record gains ``anchors`` (ids in the text)."""
    if not hasattr(env, "nnbook_claims"):
        env.nnbook_claims = {}
    return env.nnbook_claims


def _glue_records(app: Sphinx, docname: str) -> dict[str, dict[str, Any]]:
    """The claim records that MyST-NB glued while reading ``docname`` (empty for plain pages)."""
    from myst_nb.sphinx_ext import OUTPUT_FOLDER

    meta = getattr(app.env, "nb_metadata", {}).get(docname, {})
    if not meta.get("glue"):
        return {}
    path = Path(app.outdir).parent.joinpath(OUTPUT_FOLDER, *docname.split("/"))
    path = path.with_name(path.name + ".glue.json")
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf8"))
    return {key: dict(entry["data"][MIME_TYPE]) for key, entry in data.items()
            if MIME_TYPE in entry.get("data", {}) and key in meta["glue"]}


def _anchor(docname: str, name: str) -> str:
    return "claim-" + re.sub(r"[^a-z0-9]+", "-", f"{docname.split('/')[-1]}-{name}".lower()).strip("-")


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _summary(rec: dict[str, Any]) -> str:
    """One line for a tooltip: what was measured and what it was checked against."""
    parts = [f"Checked when this page was made: {_fmt(rec['measured'])}, {rec['criterion'].replace('m', 'measured', 1)}",
             f"{rec['kind']}: {rec['against']}"]
    if rec.get("interval"):
        lo, hi = rec["interval"]
        parts.append(f"interval over {rec.get('seeds')} seeds [{_fmt(lo)}, {_fmt(hi)}]")
    parts.append(f"margin {rec['margin']:.0%}")
    return " · ".join(parts)


# --- the role --------------------------------------------------------------------------------------
class claim_mark(nodes.Inline, nodes.TextElement):
    """The mark after a claimed value; resolved into a link when the page is written."""


class ClaimRole(SphinxRole):
    """``{claim}`name:fmt``` — the measured value of claim ``name``, formatted, plus the mark."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        from myst_nb.core.variables import RetrievalError, format_plain_text
        from myst_nb.ext.glue.utils import retrieve_glue_data

        name, _, fmt = self.text.partition(":")
        name = name.strip()
        try:
            data = retrieve_glue_data(self.inliner.document, name)
        except RetrievalError:
            msg = self.inliner.reporter.warning(
                f"{{claim}} names no claim recorded in this chapter: {name!r}", line=self.lineno)
            return [], [msg]
        rec = data.data.get(MIME_TYPE)
        if rec is None:
            msg = self.inliner.reporter.warning(
                f"{{claim}}: {name!r} is glued but is not a claim (use nm.claim)", line=self.lineno)
            return [], [msg]
        try:
            text = format_plain_text(data.data["text/plain"], fmt or "s")
        except Exception as exc:  # a bad format spec
            msg = self.inliner.reporter.warning(f"{{claim}}`{self.text}`: {exc}", line=self.lineno)
            return [], [msg]
        docname = self.env.docname
        used = self.env.temp_data.setdefault("nnbook_claim_uses", {})
        n = used[name] = used.get(name, 0) + 1
        anchor = _anchor(docname, name) + ("" if n == 1 else f"-{n}")
        node = nodes.inline("", "", classes=["claim"], ids=[anchor])
        node += nodes.inline(text, text, classes=["pasted-text"])
        node += claim_mark("", "", claim=name, summary=_summary(rec), passed=bool(rec.get("passed")))
        self.set_source_info(node)
        _env_claims(self.env).setdefault(docname, {}).setdefault(name, dict(rec, anchors=[]))
        _env_claims(self.env)[docname][name]["anchors"].append(anchor)
        return [node], []


# --- collection ------------------------------------------------------------------------------------
def _purge(app: Sphinx, env: Any, docname: str) -> None:
    _env_claims(env).pop(docname, None)


def _merge(app: Sphinx, env: Any, docnames: list[str], other: Any) -> None:
    claims = _env_claims(env)
    for doc in docnames:
        if doc in _env_claims(other):
            claims[doc] = _env_claims(other)[doc]


def _doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    """Add every glued claim of the document, including those the text never quotes."""
    docname = app.env.docname
    records = _glue_records(app, docname)
    mine = _env_claims(app.env).setdefault(docname, {})
    for name, rec in records.items():
        anchors = mine.get(name, {}).get("anchors", [])
        mine[name] = dict(rec, anchors=anchors)
        if not rec.get("passed"):
            logger.warning(f"claim {name!r} failed: measured {rec['measured']:.6g}, expected "
                           f"{rec['criterion']} ({rec['kind']}: {rec['against']})",
                           location=docname, type="nnbook", subtype="claim")
    if not mine:
        _env_claims(app.env).pop(docname, None)


def _note_removed(app: Sphinx, env: Any, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    app._nnbook_removed = set(removed)   # type: ignore[attr-defined]
    return []


def _note_read(app: Sphinx, env: Any, docnames: list[str]) -> None:
    app._nnbook_read = set(docnames)     # type: ignore[attr-defined]


def follow_the_chapters(app: Sphinx, docname: str) -> None:
    """Register a page that summarises the others (the claims page, the API page's back-links)."""
    if not hasattr(app, "_nnbook_summaries"):
        app._nnbook_summaries = set()   # type: ignore[attr-defined]
    app._nnbook_summaries.add(docname)  # type: ignore[attr-defined]


def _summaries_follow_the_chapters(app: Sphinx, env: Any) -> list[str]:
    """A summary page is written again whenever another page was read or removed in this build.
    Its content is filled from the environment when it is written (``_fill_tables``), so it never
    needs re-reading, and a rebuild without a change reads nothing."""
    pages = getattr(app, "_nnbook_summaries", set())
    touched = (getattr(app, "_nnbook_read", set()) - pages) | getattr(app, "_nnbook_removed", set())
    return sorted(p for p in pages if p in env.found_docs) if touched else []


# --- the claims page -----------------------------------------------------------------------------
class claims_table(nodes.General, nodes.Element):
    pass


class reproductions_table(nodes.General, nodes.Element):
    pass


class ClaimsTable(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        return [claims_table("")]


class ReproductionsTable(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        return [reproductions_table("")]


def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["claims-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    thead = nodes.thead()
    group += thead
    row = nodes.row()
    for h in header:
        row += nodes.entry("", nodes.paragraph(text=h))
    thead += row
    tbody = nodes.tbody()
    group += tbody
    for cells in rows:
        row = nodes.row()
        for c in cells:
            entry = nodes.entry()
            para = nodes.paragraph()
            para += nodes.Text(c) if isinstance(c, str) else c
            entry += para
            row += entry
        tbody += row
    return table


def _doc_title(env: Any, docname: str) -> str:
    title = env.titles.get(docname)
    return title.astext() if title is not None else docname


def _link(app: Sphinx, fromdoc: str, todoc: str, anchor: str, text: str) -> nodes.Node:
    if app.builder.format != "html":
        return nodes.Text(text)
    uri = app.builder.get_relative_uri(fromdoc, todoc) + (f"#{anchor}" if anchor else "")
    return nodes.reference("", text, refuri=uri, internal=True)


def _sorted_docs(app: Sphinx) -> list[str]:
    order = {d: i for i, d in enumerate(app.env.toctree_includes.get(app.config.root_doc, []))}
    return sorted(_env_claims(app.env), key=lambda d: (order.get(d, len(order)), d))


def _status(rec: dict[str, Any]) -> str:
    return "pass" if rec.get("passed") else "FAIL"


def _fill_tables(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    # the marks after claimed values, on every page
    for mark in list(doctree.findall(claim_mark)):
        name, summary = mark["claim"], mark["summary"]
        if app.builder.format == "html":
            anchor = _anchor(docname, name) + "-row"
            uri = app.builder.get_relative_uri(docname, CLAIMS_DOC) + f"#{anchor}"
            ref = nodes.reference("", "✓", refuri=uri, internal=True, reftitle=summary,
                                  classes=["claim-mark"] + ([] if mark["passed"] else ["claim-failed"]))
            mark.replace_self(ref)
        else:
            mark.replace_self([])

    tables = list(doctree.findall(claims_table)) + list(doctree.findall(reproductions_table))
    if not tables:
        return
    env = app.env
    claim_rows, repro_rows = [], []
    for doc in _sorted_docs(app):
        for name, rec in sorted(_env_claims(env)[doc].items()):
            anchors = rec.get("anchors") or []
            where = (_link(app, docname, doc, anchors[0], "in the text") if anchors
                     else _link(app, docname, doc, "", "(not quoted)"))
            target = nodes.inline("", "", ids=[_anchor(doc, name) + "-row"])
            target += nodes.literal(text=name)
            interval = ""
            if rec.get("interval"):
                lo, hi = rec["interval"]
                interval = f" [{_fmt(lo)}, {_fmt(hi)}], {rec.get('seeds')} seeds"
            claim_rows.append([_link(app, docname, doc, "", _doc_title(env, doc)), target, where,
                               _fmt(rec["measured"]) + interval, rec["criterion"],
                               f"{rec['kind']}: {rec['against']}", f"{rec['margin']:.0%}", _status(rec)])
            if rec.get("paper"):
                repro_rows.append([rec.get("against", ""), rec.get("paper_item", ""),
                                   rec.get("paper_value", ""), _fmt(rec["measured"]) + interval,
                                   rec["criterion"], _status(rec), _link(app, docname, doc,
                                   anchors[0] if anchors else "", _doc_title(env, doc))])
    for node in doctree.findall(claims_table):
        if not claim_rows:
            logger.warning("the claims page lists no claim", location=docname)
        node.replace_self(_table(["chapter", "claim", "where", "measured", "expected", "compared with",
                                  "margin", "status"], claim_rows, [14, 12, 8, 10, 12, 30, 7, 7]))
    for node in doctree.findall(reproductions_table):
        node.replace_self(_table(["paper", "result", "paper's value", "this build", "matches when",
                                  "status", "chapter"], repro_rows, [22, 12, 18, 12, 14, 7, 15]))


def _count(app: Sphinx, env: Any) -> None:
    """Expose counts for tests and the status page."""
    claims = [rec for doc in _env_claims(env).values() for rec in doc.values()]
    env.nnbook_claim_counts = {"claims": len(claims), "papers": sum(1 for r in claims if r.get("paper")),
                               "failed": sum(1 for r in claims if not r.get("passed"))}


def _deterministic_notebook_ids(app: Sphinx, exception: Exception | None) -> None:
    """Give the executed notebooks offered for download cell ids that do not change between builds
    (nbformat draws random ones when MyST-NB converts a chapter), so two builds are byte-identical."""
    if exception is not None or app.builder.format != "html":
        return
    import hashlib

    # Sphinx appends ?v=<checksum> to a stylesheet or script only if the file was already copied
    # when the page was written, which depends on the order of writing (-j): drop it everywhere
    import re

    for page in sorted(Path(app.outdir).rglob("*.html")):
        text = page.read_text(encoding="utf8")
        fixed = re.sub(r'(\.(?:css|js))\?v=[0-9a-f]{8}"', r'\1"', text)
        if fixed != text:
            page.write_text(fixed, encoding="utf8")
    # the search index lists the pages of one index entry in the order the documents were merged
    # (-j decides it): sort those lists, and the keys
    index = Path(app.outdir) / "searchindex.js"
    if index.is_file():
        text = index.read_text(encoding="utf8")
        head, body = text[:text.index("(") + 1], text[text.index("(") + 1:text.rindex(")")]
        data = json.loads(body)
        for entry, pages in data.get("indexentries", {}).items():
            data["indexentries"][entry] = sorted(pages, key=json.dumps)
        index.write_text(head + json.dumps(data, separators=(",", ":"), ensure_ascii=False,
                                           sort_keys=True) + text[text.rindex(")"):], encoding="utf8")
    for path in sorted((Path(app.outdir) / "_sources").rglob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf8"))
        rel = path.relative_to(app.outdir).as_posix()
        for i, cell in enumerate(nb.get("cells", [])):
            if "id" in cell:
                cell["id"] = hashlib.sha256(f"{rel}:{i}".encode()).hexdigest()[:8]
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_role("claim", ClaimRole())
    app.add_node(claim_mark)
    app.add_node(claims_table)
    app.add_node(reproductions_table)
    app.add_directive("claims-table", ClaimsTable)
    app.add_directive("reproductions-table", ReproductionsTable)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-get-outdated", _note_removed)
    app.connect("env-before-read-docs", _note_read)
    app.connect("env-get-updated", _summaries_follow_the_chapters)
    follow_the_chapters(app, CLAIMS_DOC)
    app.connect("doctree-resolved", _fill_tables)
    app.connect("env-updated", _count)
    app.connect("build-finished", _deterministic_notebook_ids)
    app.add_css_file("nnbook_claims.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}

