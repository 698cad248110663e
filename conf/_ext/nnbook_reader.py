"""Reader surfaces of the book: dark-mode figures, the chapter map, the status page, previews.

1. **Figures for the reader's theme.** Every SVG figure a chapter draws (light: white background,
   the book's palette) gets a dark twin, derived at build time by one deterministic colour map:
   lightness is inverted between the dark page's background and its text colour, hue and
   saturation are kept (so "blue" is still blue, light greys become dark greys), embedded raster
   images are mapped the same way. The page shows ``only-light``/``only-dark`` images
   (pydata-sphinx-theme hides the other one and switches live with the theme toggle).
2. ``{chapter-map}`` on the front page: one line per chapter — its number and title, a line of
   what it derives and reproduces (from the directive's content, keyed by chapter number; a chapter
   without a line falls back to the first sentence of its introduction) and its first figure.
3. ``{nnbook-status}`` on the status page: the commit, the date of that commit (not the build
   time), the versions of Python, NumPy, Sphinx and MyST-NB, and every chapter with its
   execution status — no run times or execution dates, so two builds of one commit are identical.
4. Hover previews come from sphinx-tippy, kept offline (``conf.py``); its per-page script name
   carries a random UUID, replaced here by a hash of the page name so builds are reproducible.
5. Accessibility fixes to generated markup: the bibliography's ``role="list"`` container gets
   ``role="listitem"`` children (axe ``aria-required-children``).
"""

from __future__ import annotations

import base64
import colorsys
import io
import os
import pickle
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: Lightness of the dark page's background (pydata-sphinx-theme's #14181e) and of its text.
DARK_BG_L = 0.10
DARK_FG_L = 0.88

HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
IMG = re.compile(r'<img\b[^>]*?\bsrc="([^"]*?_images/([^"/]+)\.svg)"[^>]*>')
SUMMARY = re.compile(r"<summary>.*?</summary>", re.S)
DATA_PNG = re.compile(r'(xlink:href|href)="data:image/png;base64,([^"]+)"')


# --- dark figures -----------------------------------------------------------------------------------
def dark_lightness(lightness: float) -> float:
    """Invert lightness onto the dark page: white → the background, black → the text colour."""
    return DARK_FG_L - (DARK_FG_L - DARK_BG_L) * lightness


def dark_hex(match: re.Match[str]) -> str:
    h = match.group(1)
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    r, g, b = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
    hue, light, sat = colorsys.rgb_to_hls(r, g, b)
    r, g, b = colorsys.hls_to_rgb(hue, dark_lightness(light), sat)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _dark_png(b64: str) -> str:
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    mode = img.mode
    arr = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255
    rgb, alpha = arr[..., :3], arr[..., 3:]
    mx, mn = rgb.max(-1), rgb.min(-1)
    light = (mx + mn) / 2
    # HLS → keep hue and saturation: scale the chroma around the new lightness
    new_l = dark_lightness(light)
    old_c = mx - mn
    max_c_old = 1 - np.abs(2 * light - 1)
    max_c_new = 1 - np.abs(2 * new_l - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(max_c_old > 1e-9, max_c_new / max_c_old, 0.0)
    new_c = old_c * ratio
    mid = (mx + mn) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(old_c[..., None] > 1e-9, (rgb - mid[..., None]) / old_c[..., None], 0.0)
    out = new_l[..., None] + unit * new_c[..., None]
    out = np.clip(np.concatenate([out, alpha], axis=-1), 0, 1)
    res = Image.fromarray((out * 255 + 0.5).astype(np.uint8), "RGBA")
    if mode != "RGBA":
        res = res.convert("RGB") if "A" not in mode else res
    buf = io.BytesIO()
    res.save(buf, format="PNG", optimize=False)
    return base64.b64encode(buf.getvalue()).decode()


def dark_svg(svg: str) -> str:
    """The dark rendering of a light SVG figure (deterministic)."""
    svg = DATA_PNG.sub(lambda m: f'{m.group(1)}="data:image/png;base64,{_dark_png(m.group(2))}"', svg)
    svg = HEX.sub(dark_hex, svg)
    # SVG's default fill is black, and matplotlib leaves black text (legend labels) at the default:
    # make the default the mapped black, the dark page's text colour.
    black = dark_hex(HEX.match("#000000"))  # type: ignore[arg-type]
    return re.sub(r"<svg\b", f'<svg fill="{black}"', svg, count=1)


def _image_sources(app: Sphinx) -> dict[str, Path]:
    cache = getattr(app, "_nnbook_image_sources", None)
    if cache is None:
        cache = {}
        for src, (_docs, unique) in app.env.images.items():
            cache[Path(unique).stem] = Path(app.srcdir, src)
        app._nnbook_image_sources = cache  # type: ignore[attr-defined]
    return cache


def _dark_figures(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                  doctree: Any) -> None:
    body = context.get("body")
    if not body or "_images/" not in body:
        return
    sources = _image_sources(app)
    out_dir = Path(app.outdir) / "_images"

    def twin(m: re.Match[str]) -> str:
        tag, src, stem = m.group(0), m.group(1), m.group(2)
        source = sources.get(stem)
        if source is None or not source.is_file():
            return tag
        dest = out_dir / f"{stem}.dark.svg"
        if not dest.is_file():
            out_dir.mkdir(parents=True, exist_ok=True)
            # parallel writers may render the same figure (a chapter and the chapter map): write
            # to a private file and rename, so no one sees a half-written SVG
            tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
            tmp.write_text(dark_svg(source.read_text(encoding="utf-8")), encoding="utf-8")
            tmp.replace(dest)
        light = _add_class(tag, "only-light")
        dark = _add_class(tag, "only-dark").replace(src, src[:-4] + ".dark.svg")
        return light + dark

    context["body"] = IMG.sub(twin, body)


def _add_class(tag: str, cls: str) -> str:
    if ' class="' in tag:
        return tag.replace(' class="', f' class="{cls} ', 1)
    return tag.replace("<img ", f'<img class="{cls}" ', 1)


# --- the PDF edition in the download menu -----------------------------------------------------------
def _pdf_button(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    pdf = app.config.nnbook_pdf
    if not pdf:
        return
    url = context["pathto"](Path(pdf).name, 1)
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons" and isinstance(button.get("buttons"), list):
            button["buttons"].append({"type": "link", "url": url, "text": "PDF of the book",
                                      "tooltip": "The whole book as one PDF", "icon": "fas fa-file-pdf",
                                      "label": "download-book-pdf-button"})


# --- accessibility fixes ----------------------------------------------------------------------------
def _fix_markup(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    body = context.get("body")
    if body and 'role="list"' in body:
        # sphinxcontrib-bibtex: <div class="citation" role="doc-biblioentry"> inside role="list"
        context["body"] = body = body.replace('role="doc-biblioentry"', 'role="listitem"')
    if body and 'summary aria-label="Toggle hidden content"' in body:
        # MyST-NB's fold of a hide-input cell: its aria-label "Toggle hidden content" hides the
        # visible "Show code cell source" from speech input (axe label-content-name-mismatch)
        context["body"] = body = body.replace('<summary aria-label="Toggle hidden content">', "<summary>")
    if body and "<summary>" in body:
        # sphinx-codeautolink's "Expand for references to <a>name</a>": a link inside the
        # <summary> toggle is an interactive element nested in another (axe nested-interactive)
        context["body"] = SUMMARY.sub(lambda m: re.sub(r"</?a\b[^>]*>", "", m.group(0)), body)


# --- git and versions ---------------------------------------------------------------------------------
def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                              env={**os.environ, "TZ": "UTC"}).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


class status_placeholder(nodes.General, nodes.Element):  # noqa: N801 (docutils naming)
    pass


class chapter_map_placeholder(nodes.General, nodes.Element):  # noqa: N801
    pass


class NnbookStatus(SphinxDirective):
    """``{nnbook-status}``: replaced by the build facts and the chapter list when the page is written."""

    def run(self) -> list[nodes.Node]:
        return [status_placeholder()]


class ChapterMap(SphinxDirective):
    """``{chapter-map}`` with content lines ``NN: what is derived; which result is reproduced``, keyed
    by the chapter file's two-digit number (a chapter without a line shows its first sentence)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        lines: dict[str, str] = {}
        for line in self.content:
            if ":" in line:
                key, _, text = line.partition(":")
                lines[key.strip()] = text.strip()
        node = chapter_map_placeholder()
        node["lines"] = lines
        return [node]


def _chapters(app: Sphinx) -> list[str]:
    env = app.env
    docs = [d for d in env.found_docs if d.startswith(("chapters/", "appendix/"))]
    return sorted(docs, key=lambda d: (d.startswith("appendix/"), d))


def _title(app: Sphinx, doc: str) -> str:
    env = app.env
    sec = env.toc_secnumbers.get(doc, {}).get("")
    title = env.titles[doc].astext() if doc in env.titles else doc
    return (".".join(map(str, sec)) + " " if sec else "") + title


def _status(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    import docutils
    import myst_nb
    import numpy
    import sphinx

    root = Path(app.srcdir).parent
    commit = _git(root, "rev-parse", "HEAD") or "unknown"
    date = _git(root, "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%d %H:%M UTC") or "unknown"
    facts = [("Commit", commit), ("Date of that commit", date),
             ("Python", platform.python_version()), ("NumPy", numpy.__version__),
             ("Sphinx", sphinx.__version__), ("MyST-NB", myst_nb.__version__),
             ("docutils", docutils.__version__)]
    nb_meta = getattr(app.env, "nb_metadata", {})
    for node in list(doctree.findall(status_placeholder)):
        facts_table = _table(["", ""], facts, header=False)
        rows = []
        for doc in _chapters(app):
            exec_data = (nb_meta.get(doc) or {}).get("exec_data") or {}
            ok = exec_data.get("succeeded")
            status = "executed, no errors" if ok else ("failed" if ok is False else "no code")
            ref = nodes.reference("", _title(app, doc), internal=True,
                                  refuri=app.builder.get_relative_uri(docname, doc))
            rows.append(([ref, nodes.literal("", doc)], status))
        chapter_table = _table(["Chapter", "Status"], [(r[0], r[1]) for r in rows], header=True)
        node.replace_self([facts_table, chapter_table])


def _table(head: list[str], rows: list[tuple[Any, Any]], header: bool) -> nodes.table:
    table = nodes.table(classes=["nnbook-status"])
    group = nodes.tgroup(cols=2)
    table += group
    group += [nodes.colspec(colwidth=1), nodes.colspec(colwidth=3)]
    if header:
        thead = nodes.thead()
        row = nodes.row()
        for h in head:
            row += nodes.entry("", nodes.paragraph(text=h))
        thead += row
        group += thead
    tbody = nodes.tbody()
    for a, b in rows:
        row = nodes.row()
        for cell in (a, b):
            para = nodes.paragraph()
            if isinstance(cell, list):
                for k, part in enumerate(cell):
                    if k:
                        para += nodes.Text(" ")
                    para += part
            elif isinstance(cell, nodes.Node):
                para += cell
            else:
                para += nodes.Text(str(cell))
            row += nodes.entry("", para)
        tbody += row
    group += tbody
    return table


def _first_figure(app: Sphinx, doc: str) -> tuple[str, str] | None:
    """(image uri, alt text) of the first figure image in a chapter."""
    try:
        tree = app.env.get_doctree(doc)
    except Exception:  # noqa: BLE001 - a chapter that failed to build
        return None
    for fig in tree.findall(nodes.figure):
        for img in fig.findall(nodes.image):
            if img.get("uri"):
                return img["uri"], img.get("alt", "")
    return None


def _intro_sentence(app: Sphinx, doc: str) -> str:
    try:
        tree = app.env.get_doctree(doc)
    except Exception:  # noqa: BLE001
        return ""
    for para in tree.findall(nodes.paragraph):
        text = para.astext().replace("\n", " ")
        if len(text) > 40:
            return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return ""


def _chapter_map(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(chapter_map_placeholder)):
        lines: dict[str, str] = node["lines"]
        items = nodes.bullet_list(classes=["nnbook-chapter-map"])
        for doc in _chapters(app):
            if not doc.startswith("chapters/") or doc.endswith("00_preface"):
                continue
            number = doc.split("/")[-1][:2]
            item = nodes.list_item(classes=["nnbook-chapter"])
            fig = _first_figure(app, doc)
            if fig is not None:
                uri, alt = fig
                image = nodes.image(uri=uri, alt=f"The first figure of the chapter: {alt}"
                                    if alt else "", classes=["nnbook-chapter-thumb"])
                image["candidates"] = {"*": uri}
                item += image
            para = nodes.paragraph()
            para += nodes.reference("", "", nodes.strong(text=_title(app, doc)), internal=True,
                                    refuri=app.builder.get_relative_uri(docname, doc))
            para += nodes.Text(" — " + (lines.get(number) or _intro_sentence(app, doc)))
            item += para
            items += item
        node.replace_self(items)


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if any(True for _ in doctree.findall(status_placeholder)):
        _status(app, doctree, docname)
    if any(True for _ in doctree.findall(chapter_map_placeholder)):
        _chapter_map(app, doctree, docname)


def _visit_skip(self: Any, node: nodes.Node) -> None:
    raise nodes.SkipNode


# --- sphinx-tippy: deterministic file names ----------------------------------------------------------
def _deterministic_tippy(app: Sphinx) -> None:
    try:
        import sphinx_tippy
    except ImportError:
        return

    # sphinx-tippy names each page's script "<page>.<uuid4>.js" (a cache buster); a fixed
    # name makes two builds of one commit byte-identical.
    sphinx_tippy.uuid4 = lambda: "tips"  # type: ignore[attr-defined]


# --- sphinx-codeautolink: sections without a title, titles outside sections -----------------------
def _patch_codeautolink() -> None:
    """sphinx-codeautolink keeps a stack of section titles (to name the section in an API entry's
    list of examples) and pops it once per section; MyST-NB and sphinx-exercise produce sections
    without a title and titles outside sections (exercises, figures), which empties or corrupts
    the stack ("pop from empty list"). Track the stack depth per section instead."""
    try:
        from sphinx_codeautolink.extension.block import CodeBlockAnalyser
    except ImportError:
        return
    if getattr(CodeBlockAnalyser, "_nnbook_patched", False):
        return
    visit_title, visit_section = CodeBlockAnalyser.visit_title, CodeBlockAnalyser.visit_section

    def title(self: Any, node: nodes.Node) -> None:
        if isinstance(node.parent, nodes.section):
            visit_title(self, node)

    def section(self: Any, node: nodes.Node) -> None:
        self.__dict__.setdefault("_nnbook_marks", []).append(len(self.title_stack))
        if node["ids"]:
            visit_section(self, node)

    def depart(self: Any, node: nodes.Node) -> None:
        del self.title_stack[self._nnbook_marks.pop():]

    CodeBlockAnalyser.visit_title = title
    CodeBlockAnalyser.visit_section = section
    CodeBlockAnalyser.depart_section = depart
    CodeBlockAnalyser._nnbook_patched = True


_patch_codeautolink()


def _tippy_store(app: Sphinx) -> Path:
    return Path(app.doctreedir) / "nnbook-tippy"


def _save_tippy_page(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """sphinx-tippy collects each page's tips in html-page-context and writes every page's script at
    the end of the build, from data kept in the environment. With ``-j`` pages are written by worker
    processes, whose environment is thrown away, so the tips of those pages would be lost (and
    declaring the extension unsafe for parallel writing is a warning, fatal under -W). Each page's
    data is saved to a file here, in whichever process writes the page, and merged back below."""
    data = getattr(app.env, "tippy_data", {}).get("pages", {}).get(pagename)
    if data is None:
        return
    store = _tippy_store(app)
    store.mkdir(parents=True, exist_ok=True)
    (store / (pagename.replace("/", "__") + ".pickle")).write_bytes(pickle.dumps(data))


def _merge_tippy_pages(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or "sphinx_tippy" not in app.extensions:
        return
    from sphinx_tippy import get_tippy_data

    pages = get_tippy_data(app)["pages"]
    store = _tippy_store(app)
    for f in sorted(store.glob("*.pickle")) if store.is_dir() else []:
        name = f.stem.replace("__", "/")
        if name in app.env.found_docs:
            pages.setdefault(name, pickle.loads(f.read_bytes()))
    # the tips are written in the order of these sets, which varies with Python's string hashing
    # between processes: sorted, two builds write the same scripts
    for data in pages.values():
        data["refs_in_page"] = sorted(data["refs_in_page"], key=lambda r: (r[0] or "", r[1] or ""))
        for key in ("custom_in_page", "wiki_titles", "dois", "rtd_urls"):
            data[key] = sorted(data[key])


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _save_tippy_page, priority=460)   # after sphinx-tippy (450)
    app.connect("build-finished", _merge_tippy_pages, priority=400)    # before it writes (500)
    app.add_node(status_placeholder, html=(_visit_skip, None), latex=(_visit_skip, None),
                 text=(_visit_skip, None))
    app.add_node(chapter_map_placeholder, html=(_visit_skip, None), latex=(_visit_skip, None),
                 text=(_visit_skip, None))
    app.add_config_value("nnbook_pdf", "", "html")
    app.connect("html-page-context", _pdf_button, priority=901)   # after the theme's buttons
    app.add_directive("nnbook-status", NnbookStatus)
    app.add_directive("chapter-map", ChapterMap)
    app.connect("doctree-resolved", _resolve)
    app.connect("html-page-context", _dark_figures, priority=400)   # before sphinx-tippy (450)
    app.connect("html-page-context", _fix_markup, priority=400)
    app.connect("builder-inited", _deterministic_tippy)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

