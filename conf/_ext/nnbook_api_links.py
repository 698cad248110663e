"""API entries link back to the section that derives them.

A chapter derives an operation and then shows nnmath's code for it with
``literalinclude`` + ``:pyobject:``. While the chapters are read, every code block whose source is a
file of ``nnmath`` is traced to the public object it shows (a function, a class, or a class whose
method is shown) and to the section it stands in. On the API page each such entry then opens with
"Derived in: <chapter> / <section>", linked, before its docstring. (sphinx-codeautolink adds, at the
end of every entry, the list of every section whose code *uses* the name.)
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

from nnbook_claims import follow_the_chapters

API_DOC = "api"
_DEF = re.compile(r"^\s*(?:async\s+)?(def|class)\s+(\w+)", re.MULTILINE)


def _links(env: Any) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """``{docname: {"nnmath.mod.Name": [(section id, section title), ...]}}``."""
    if not hasattr(env, "nnbook_derived"):
        env.nnbook_derived = {}
    return env.nnbook_derived


def _public_object(module: str, name: str, code: str) -> str | None:
    """``nnmath.<module>.<name>`` if that is public; for a method, the public class whose source
    contains the listing."""
    try:
        mod = importlib.import_module(f"nnmath.{module}")
    except ImportError:
        return None
    public = set(getattr(mod, "__all__", []))
    if name in public:
        return f"nnmath.{module}.{name}"
    for cls_name in sorted(public):
        cls = getattr(mod, cls_name, None)
        if inspect.isclass(cls) and cls.__module__ == mod.__name__ and name in vars(cls) \
                and code.strip() in inspect.getsource(cls):
            return f"nnmath.{module}.{cls_name}"
    return None


def _doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    if docname == API_DOC:
        return
    found: dict[str, list[tuple[str, str]]] = {}
    for block in doctree.findall(nodes.literal_block):
        source = Path(block.get("source", ""))
        if source.suffix != ".py" or source.parent.name != "nnmath":
            continue
        match = _DEF.search(block.astext())
        target = match and _public_object(source.stem, match.group(2), block.astext())
        section = block.parent
        while section is not None and not isinstance(section, nodes.section):
            section = section.parent
        if target and section is not None and section["ids"]:
            place = (section["ids"][0], section[0].astext())
            if place not in found.setdefault(target, []):
                found[target].append(place)
    if found:
        _links(app.env)[docname] = found


def _purge(app: Sphinx, env: Any, docname: str) -> None:
    _links(env).pop(docname, None)


def _merge(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    _links(env).update({doc: links for doc, links in _links(other).items() if doc in docnames})


def _api_back_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if docname != API_DOC or app.builder.format != "html":
        return
    derived: dict[str, list[tuple[str, str, str]]] = {}
    for doc in sorted(_links(app.env)):
        for target, places in _links(app.env)[doc].items():
            derived.setdefault(target, []).extend((doc, anchor, title) for anchor, title in places)
    for desc in doctree.findall(addnodes.desc):
        signature = next(iter(desc.findall(addnodes.desc_signature)), None)
        content = next(iter(desc.findall(addnodes.desc_content)), None)
        if signature is None or content is None or not signature["ids"]:
            continue
        places = derived.get(signature["ids"][0])
        if not places:
            continue
        para = nodes.paragraph(classes=["nnbook-derived-in"])
        para += nodes.strong("", "Derived in: ")
        for i, (doc, anchor, title) in enumerate(places):
            if i:
                para += nodes.Text("; ")
            uri = app.builder.get_relative_uri(docname, doc) + f"#{anchor}"
            chapter = app.env.titles[doc].astext() if doc in app.env.titles else doc
            para += nodes.reference("", f"{chapter} / {title}", refuri=uri, internal=True)
        content.insert(0, para)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("nnbook_claims")
    follow_the_chapters(app, API_DOC)     # written again whenever a chapter was read
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-resolved", _api_back_links)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
