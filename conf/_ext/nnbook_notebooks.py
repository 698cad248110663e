"""Notebooks for readers: the executed chapters as plain Jupyter notebooks.

The ``.ipynb`` that MyST-NB writes next to each page is the MyST source with outputs: JupyterLab or
Colab would show ``{glue:text}`…```, ``{eq}`…``, ``{cite:p}`…`` and ```` ```{exercise} ```` fences,
and its first cell would stop at ``from myst_nb import glue``. After the HTML build this extension
rewrites every chapter's downloadable notebook (``_sources/<doc>.ipynb``, the file the download
button, Colab, Binder and the ``notebooks`` branch offer) from the executed notebook:

* glued values and claims are substituted with their formatted values (MyST-NB's own formatting);
* ``{eq}`` → "Eq. (4.7)", ``{numref}`` → "Figure 4.2", ``{cite:p}`` → "(Ioffe and Szegedy, 2015)",
  ``{doc}``/``{ref}`` → their text; the numbers come from the Sphinx environment, so they are the
  ones the HTML shows;
* ```` ```{math} ```` blocks become ``$$…$$`` with ``\\tag{4.7}``; ``literalinclude`` becomes the
  included code; exercises become headings, solutions ``<details>``; figures get their caption;
* code cells lose ``from myst_nb import glue`` and every ``glue(...)`` statement; cells tagged
  ``remove-cell`` are dropped, ``hide-input`` cells are collapsed;
* a first cell installs what the notebook imports (nnmath at the build's commit, from the
  repository) when it is missing, and a last cell lists the references cited.

Anything MyST that the converter does not know is reported as a warning, which fails the strict
build — so a new directive cannot silently reach a reader as raw text.
"""

from __future__ import annotations

import ast
import codecs
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Import names that need a package of another name, or a package nnmath does not depend on.
PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "PyYAML"}
#: Provided by nnmath's own dependencies or by every Jupyter kernel.
PROVIDED = {"nnmath", "numpy", "scipy", "matplotlib", "mpl_toolkits", "IPython", "ipykernel"}
#: nnmath functions that need a package beyond nnmath's dependencies when called.
OPTIONAL_USES = {"sklearn": ("load_digits", "digits_cnn", "digits")}

OPEN = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\{([\w:-]+)\}\s*(.*?)\s*$")
PLAIN_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
ROLE = re.compile(r"\{([a-z][\w:-]*)\}`([^`]+)`")
LABEL_LINE = re.compile(r"^\s*\(([\w.:-]+)\)=\s*$")
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
               "error", "seealso", "admonition", "margin", "sidebar", "epigraph", "topic"}

INSTALL = '''\
# Installs what this notebook needs where it is missing (Colab, a fresh kernel); elsewhere it
# does nothing. nnmath is installed from the commit this notebook was built from.
import importlib.util
import subprocess
import sys

NEEDS = {needs}
missing = [spec for module, spec in NEEDS.items() if importlib.util.find_spec(module) is None]
if missing:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *missing])'''


# --- references -------------------------------------------------------------------------------------
class Resolver:
    """Turns the targets of MyST roles into the text the HTML shows, from the Sphinx environment."""

    def __init__(self, app: Sphinx) -> None:
        self.env = app.env
        self.config = app.config
        self.bib = _load_bib([Path(app.confdir) / f for f in app.config.bibtex_bibfiles])
        self.cited: list[str] = []

    def _number(self, docname: str, node_id: str) -> tuple[str, str] | None:
        for figtype, ids in self.env.toc_fignumbers.get(docname, {}).items():
            if node_id in ids:
                return figtype, ".".join(map(str, ids[node_id]))
        return None

    def eq(self, label: str) -> str:
        eqs = self.env.domaindata["math"]["objects"]
        if label not in eqs:
            raise KeyError(f"unknown equation {label!r}")
        docname, plain = eqs[label]
        found = self._number(docname, f"equation-{label}")
        return f"Eq. ({found[1] if found else plain})"

    def eq_number(self, docname: str, label: str) -> str:
        found = self._number(docname, f"equation-{label}")
        if found is None:
            raise KeyError(f"equation {label!r} has no number")
        return found[1]

    def numref(self, target: str, title: str | None = None) -> str:
        std = self.env.domaindata["std"]
        entry = std["anonlabels"].get(target)
        if entry is None:
            raise KeyError(f"unknown label {target!r}")
        docname, node_id = entry[0], entry[1]
        found = self._number(docname, node_id)
        if found is None:
            sec = self.env.toc_secnumbers.get(docname, {}).get("#" + node_id)
            if sec is None:
                raise KeyError(f"label {target!r} has no number")
            found = ("section", ".".join(map(str, sec)))
        figtype, number = found
        fmt = title or self.config.numfig_format.get(figtype, figtype.capitalize() + " %s")
        return fmt.replace("%s", number).replace("{number}", number)

    def ref(self, target: str) -> str:
        std = self.env.domaindata["std"]
        entry = std["labels"].get(target)
        if entry is None:
            raise KeyError(f"unknown label {target!r}")
        docname, node_id, title = entry
        if title and title not in ("Exercise", "Solution"):
            return title
        return self.numref(target)

    def doc(self, current: str, target: str) -> str:
        docname = _resolve_doc(current, target)
        if docname not in self.env.titles:
            raise KeyError(f"unknown document {target!r}")
        title = self.env.titles[docname].astext()
        sec = self.env.toc_secnumbers.get(docname, {}).get("")
        return f"Chapter {'.'.join(map(str, sec))}, {title}" if sec else title

    def cite(self, keys: str, textual: bool) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",")):
            if key not in self.bib:
                raise KeyError(f"unknown citation {key!r}")
            if key not in self.cited:
                self.cited.append(key)
            authors, year = self.bib[key]["short"], self.bib[key]["year"]
            parts.append(f"{authors} ({year})" if textual else f"{authors}, {year}")
        return "; ".join(parts) if textual else "(" + "; ".join(parts) + ")"


def _resolve_doc(current: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    base = current.rsplit("/", 1)[0] if "/" in current else ""
    parts = (base.split("/") if base else []) + target.split("/")
    out: list[str] = []
    for p in parts:
        if p == "..":
            out.pop()
        elif p not in ("", "."):
            out.append(p)
    return "/".join(out)


def _latex_text(s: str) -> str:
    try:
        s = codecs.decode(s, "ulatex")
    except Exception:  # noqa: BLE001 - plain text is good enough
        pass
    return re.sub(r"[{}]", "", s).strip()


def _load_bib(files: list[Path]) -> dict[str, dict[str, str]]:
    import latexcodec  # noqa: F401  (registers the "ulatex" codec)
    from pybtex.database import parse_file

    out: dict[str, dict[str, str]] = {}
    for f in files:
        for key, entry in parse_file(str(f)).entries.items():
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            last = [_latex_text(" ".join(p.prelast_names + p.last_names)) for p in persons]
            if len(last) == 1:
                short = last[0]
            elif len(last) == 2:
                short = f"{last[0]} and {last[1]}"
            else:
                short = f"{last[0]} et al."
            full = ", ".join(_latex_text(str(p)) for p in persons)
            fields = entry.fields
            link = ""
            if "doi" in fields:
                link = f"https://doi.org/{fields['doi']}"
            elif "eprint" in fields:
                link = f"https://arxiv.org/abs/{fields['eprint']}"
            elif "url" in fields:
                link = fields["url"]
            venue = fields.get("journal") or fields.get("booktitle") or fields.get("publisher") or ""
            out[key] = {"short": short, "year": fields.get("year", "n.d."), "authors": full,
                        "title": _latex_text(fields.get("title", "")), "venue": _latex_text(venue),
                        "link": link}
    return out


# --- markdown ---------------------------------------------------------------------------------------
class Converter:
    def __init__(self, resolver: Resolver, docname: str, glue: dict[str, Any], srcdir: Path,
                 warn: Callable[[str], None]) -> None:
        self.r = resolver
        self.docname = docname
        self.glue = glue
        self.srcdir = srcdir
        self.warn = warn

    # roles
    def role(self, m: re.Match[str]) -> str:
        name, content = m.group(1), m.group(2)
        try:
            text = self._role(name, content)
            before = m.string[max(0, m.start() - 80):m.start()]
            if name == "eq" and (re.search(r"(?i)\b(equations?|eqs?\.)\s*$", before)
                                 or re.search(r"\{eq\}`[^`]+`\s*(–|-|to|and|or|,)\s*$", before)):
                text = text.removeprefix("Eq. ")
            return text
        except KeyError as exc:
            self.warn(f"{{{name}}}`{content}`: {exc}")
            return content

    def _glue_value(self, content: str) -> str:
        from myst_nb.core.variables import format_plain_text

        key, _, fmt = content.partition(":") if ":" in content else (content, "", "")
        key = key.split("::")[-1]
        if key not in self.glue:
            raise KeyError(f"no glued value {key!r}")
        text = self.glue[key]["data"].get("text/plain", "")
        if isinstance(text, list):
            text = "".join(text)
        return format_plain_text(text, fmt)

    def _role(self, name: str, content: str) -> str:
        explicit = re.match(r"^(.*?)\s*<([^<>]+)>$", content, re.S)
        text, target = (explicit.group(1), explicit.group(2)) if explicit else (None, content)
        if name in ("glue:text", "glue", "glue:", "glue:any", "claim"):
            return self._glue_value(content)
        if name == "eq":
            return self.r.eq(target)    # "Eq. (4.7)"; after "Equation" or in a range just "(4.7)"
        if name == "numref":
            return self.r.numref(target, text)
        if name == "ref":
            return text or self.r.ref(target)
        if name == "doc":
            return text or self.r.doc(self.docname, target)
        if name in ("cite:p", "cite:t", "cite", "cite:ps", "cite:ts"):
            return self.r.cite(content, textual=name.startswith("cite:t"))
        if name == "math":
            return f"${content}$"
        if name in ("code", "samp", "file", "kbd", "command"):
            return f"`{content}`"
        if name in ("term", "abbr", "sub", "sup", "dfn"):
            return text or content
        if name in ("py:func", "py:class", "py:meth", "py:mod", "py:obj", "func", "class", "meth",
                    "mod", "obj", "attr", "py:attr"):
            return f"`{(text or target).lstrip('~')}`"
        raise KeyError(f"unknown role {name!r}")

    def number(self, label: str | None, default: str) -> str:
        """``numref`` text of a label ("Figure 4.2", "Exercise 4.1"), or ``default`` with a warning."""
        if not label:
            return default
        try:
            return self.r.numref(label)
        except KeyError as exc:
            self.warn(str(exc))
            return default

    def inline(self, text: str) -> str:
        return ROLE.sub(self.role, text)

    # blocks
    def block(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            m = OPEN.match(line)
            if m:
                end = _closing(lines, i + 1, m.group(2))
                ind = m.group(1)
                body = [ln[len(ind):] if ln.startswith(ind) else ln.lstrip() for ln in lines[i + 1:end]]
                rendered = "\n".join(self.directive(m.group(3), m.group(4), body)).split("\n")
                out += [(ind + ln) if ln else ln for ln in rendered]
                i = end + 1
                continue
            plain = PLAIN_FENCE.match(line)
            if plain:                                  # a code block: copied verbatim
                end = _closing(lines, i + 1, plain.group(2))
                out += lines[i:end + 1]
                i = end + 1
                continue
            if LABEL_LINE.match(line):                 # (label)= targets: the links became text
                i += 1
                continue
            j = i
            while j < len(lines) and not (OPEN.match(lines[j]) or PLAIN_FENCE.match(lines[j])
                                          or LABEL_LINE.match(lines[j])):
                j += 1
            out += self.inline("\n".join(lines[i:j])).split("\n")
            i = j
        return out

    def directive(self, name: str, arg: str, body: list[str]) -> list[str]:
        options, content = _options(body)
        if name == "math":
            return self.math(content, options.get("label"))
        if name == "exercise":
            label = options.get("label")
            number = self.number(label, "Exercise")
            title = f"{number}" + (f": {self.inline(arg)}" if arg else "")
            return ["", f"#### {title}", "", *self.block(content), ""]
        if name == "solution":
            head = "Solution" + (f" to {self.number(arg, 'the exercise')}" if arg else "")
            return ["", "<details>", f"<summary>{head}</summary>", "", *self.block(content), "",
                    "</details>", ""]
        if name == "solution-start":
            return ["", f"##### Solution to {self.number(arg, 'the exercise')}", "", *self.block(content)]
        if name == "solution-end":
            return []
        if name == "literalinclude":
            return self.literalinclude(arg, options)
        if name in ADMONITIONS:
            title = self.inline(arg) if (name == "admonition" or arg) else name.capitalize()
            inner = [f"**{title}.**", "", *self.block(content)]
            return ["", *[("> " + ln).rstrip() for ln in inner], ""]
        if name in ("dropdown", "toggle"):
            return ["", "<details>", f"<summary>{self.inline(arg) or 'Details'}</summary>", "",
                    *self.block(content), "", "</details>", ""]
        if name in ("toctree", "bibliography", "contents"):
            return []
        self.warn(f"directive {{{name}}} has no notebook rendering (add one in nnbook_notebooks.py)")
        return content

    def math(self, content: list[str], label: str | None) -> list[str]:
        text = "\n".join(content).strip()
        parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        tag = ""
        if label:
            try:
                tag = rf" \tag{{{self.r.eq_number(self.docname, label)}}}"
            except KeyError as exc:
                self.warn(str(exc))
        out = [""]
        for k, part in enumerate(parts):
            if "\\\\" in part and not re.search(r"\\begin\{", part):
                part = "\\begin{split}" + part + "\\end{split}"    # as Sphinx wraps it for MathJax
            out += ["$$", part + (tag if k == len(parts) - 1 else ""), "$$", ""]
        return out

    def literalinclude(self, arg: str, options: dict[str, str]) -> list[str]:
        from sphinx.pycode import ModuleAnalyzer

        path = (self.srcdir / self.docname).parent / arg
        lines = path.read_text(encoding="utf-8").splitlines()
        if "pyobject" in options:
            tags = ModuleAnalyzer.for_file(str(path), "").find_tags()
            if options["pyobject"] not in tags:
                self.warn(f"literalinclude {arg}: no object {options['pyobject']!r}")
                return []
            _, start, end = tags[options["pyobject"]]
            lines = lines[start - 1:end - 1]
            while lines and not lines[-1].strip():
                lines.pop()
        elif "lines" in options:
            keep: list[str] = []
            for span in options["lines"].split(","):
                a, _, b = span.partition("-")
                keep += lines[int(a) - 1:int(b or a)]
            lines = keep
        lang = options.get("language", "python")
        rel = path.resolve().relative_to(self.srcdir.parent.resolve()) if path.resolve().is_relative_to(
            self.srcdir.parent.resolve()) else path.name
        what = f", `{options['pyobject']}`" if "pyobject" in options else ""
        return ["", f"*From `{rel}`{what}:*", "", f"```{lang}", *lines, "```", ""]


def _closing(lines: list[str], start: int, fence: str) -> int:
    char, n = fence[0], len(fence)
    for j in range(start, len(lines)):
        s = lines[j].strip()
        if len(s) >= n and set(s) == {char}:
            return j
    return len(lines)


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    import yaml

    options: dict[str, str] = {}
    i = 0
    if body and body[0].strip() == "---":
        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), None)
        if end is not None:
            options = {k: str(v) for k, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
            i = end + 1
    while i < len(body) and (m := re.match(r"^:([\w-]+):\s*(.*)$", body[i])):
        options[m.group(1)] = m.group(2)
        i += 1
    return options, body[i:]


# --- code -------------------------------------------------------------------------------------------
def _is_glue_call(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "glue")


def _glue_only(stmt: ast.stmt) -> bool:
    if _is_glue_call(stmt):
        return True
    if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module.startswith("myst_nb"):
        return True
    bodies = [getattr(stmt, f) for f in ("body", "orelse") if getattr(stmt, f, None)]
    if isinstance(stmt, (ast.For, ast.While, ast.If, ast.With)) and bodies:
        return all(_glue_only(s) for b in bodies for s in b)
    return False


def strip_glue(source: str) -> str:
    """``source`` without ``from myst_nb import glue`` and without the statements that only glue."""
    if "glue" not in source and "myst_nb" not in source:
        return source
    tree = ast.parse(source)
    drop: list[tuple[int, int]] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if _glue_only(stmt):
                drop.append((stmt.lineno, stmt.end_lineno or stmt.lineno))
            else:
                for f in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, f, None)
                    if inner and isinstance(inner, list) and isinstance(inner[0], ast.stmt):
                        visit(inner)
                for h in getattr(stmt, "handlers", []) or []:
                    visit(h.body)

    visit(tree.body)
    lines = source.split("\n")
    for a, b in sorted(drop, reverse=True):
        del lines[a - 1:b]
    out = "\n".join(lines).strip("\n")
    out = re.sub(r"\n{3,}", "\n\n", out)
    leftover = [n for n in ast.walk(ast.parse(out)) if isinstance(n, ast.Name) and n.id == "glue"]
    if leftover:
        raise ValueError("a glue(...) call is nested in code that does more than glue")
    return out


def third_party_imports(sources: list[str]) -> set[str]:
    mods: set[str] = set()
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m not in PROVIDED}


def install_needs(sources: list[str], nnmath_spec: str) -> dict[str, str]:
    needs = {"nnmath": nnmath_spec}
    mods = third_party_imports(sources)
    joined = "\n".join(sources)
    for mod, uses in OPTIONAL_USES.items():
        if any(re.search(rf"\b{u}\(", joined) for u in uses):     # nm.load_digits(, nm.data.load_digits(
            mods.add(mod)
    for m in sorted(mods):
        needs[m] = PIP_NAMES.get(m, m)
    return needs


# --- notebook ---------------------------------------------------------------------------------------
def merge_streams(outputs: list[Any]) -> list[Any]:
    """One stream output per stream name, as the book's pages show them (``nb_merge_streams``).

    MyST-NB merges by appending the later stream texts to the first stream output *in place* and
    renders the merged list, but the executed notebook it saves keeps the later outputs too, so
    their text would appear twice. Later streams already contained in the first are dropped;
    otherwise they are appended to it.
    """
    first: dict[str, Any] = {}
    later: dict[str, list[str]] = {}
    out = []
    for o in outputs:
        if o.get("output_type") != "stream":
            out.append(o)
        elif o["name"] not in first:
            first[o["name"]] = o
            out.append(o)
        else:
            later.setdefault(o["name"], []).append("".join(o["text"]))
    for name, texts in later.items():
        head, more = "".join(first[name]["text"]), "".join(texts)
        first[name]["text"] = head if head.endswith(more) else head + more
    return out


def convert(nb: nbformat.NotebookNode, conv: Converter, nnmath_spec: str) -> nbformat.NotebookNode:
    cells: list[nbformat.NotebookNode] = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            text = "\n".join(conv.block(cell.source.split("\n"))).strip("\n")
            text = re.sub(r"\n{3,}", "\n\n", text)
            if text:
                cells.append(nbformat.v4.new_markdown_cell(text))
            continue
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        try:
            source = strip_glue(cell.source)
        except (SyntaxError, ValueError) as exc:
            conv.warn(f"code cell {cell.source[:40]!r}: {exc}")
            source = cell.source
        outputs = merge_streams([o for o in cell.get("outputs", []) if "scrapbook" not in o.get("metadata", {})])
        if "remove-output" in tags:
            outputs = []
        if not source.strip() and not outputs:
            continue
        meta: dict[str, Any] = {}
        if tags:
            meta["tags"] = sorted(tags)
        if tags & {"hide-input", "remove-input"}:
            meta["jupyter"] = {"source_hidden": True}
        new = nbformat.v4.new_code_cell(source, metadata=meta, outputs=outputs,
                                        execution_count=cell.get("execution_count"))
        cells.append(new)
        fig = cell.get("metadata", {}).get("mystnb", {}).get("figure")
        if fig and fig.get("caption"):
            label = fig.get("name")
            number = conv.number(label, "Figure")
            caption = conv.inline(str(fig["caption"]))
            cells.append(nbformat.v4.new_markdown_cell(f"**{number}.** {caption}"))
    code = [c.source for c in cells if c.cell_type == "code"]
    needs = install_needs(code, nnmath_spec)
    install = nbformat.v4.new_code_cell(INSTALL.format(needs=json.dumps(needs, indent=4)),
                                        metadata={"tags": ["install"]})
    cells.insert(0, install)
    if conv.r.cited:
        refs = ["## References", ""]
        for key in conv.r.cited:
            b = conv.r.bib[key]
            link = f" <{b['link']}>" if b["link"] else ""
            venue = f" *{b['venue']}*." if b["venue"] else ""
            refs.append(f"- {b['authors']} ({b['year']}). {b['title']}.{venue}{link}")
        cells.append(nbformat.v4.new_markdown_cell("\n".join(refs)))
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    for i, c in enumerate(out.cells):
        c["id"] = f"cell-{i}"                       # deterministic ids: identical builds
    return out


def git_commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "main"


def nnmath_spec(app: Sphinx) -> str:
    org_repo = "/".join(app.config.repository_url.rstrip("/").split("/")[-2:])
    return f"nnmath @ git+https://github.com/{org_repo}@{git_commit(Path(app.srcdir).parent)}"


def _store(app: Sphinx) -> Path:
    return Path(app.doctreedir) / "nnbook-executed"


def keep_executed_notebook(app: Sphinx, doctree: Any) -> None:
    """Keep this build's executed notebook of the document just read.

    MyST-NB writes it to ``jupyter_execute/``, which the HTML and the LaTeX build share (both live
    under the same build directory); a later LaTeX build rewrites those files. The reader
    notebooks are made from the HTML build's own copy.
    """
    if app.builder.format != "html":
        return
    docname = app.env.docname
    src = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    if not src.is_file():
        return
    dest = _store(app) / f"{docname}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    glue = src.with_name(f"{src.stem}.glue.json")
    target = dest.with_name(f"{dest.stem}.glue.json")
    if glue.is_file():
        shutil.copyfile(glue, target)
    elif target.is_file():
        target.unlink()


def write_reader_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = _store(app)
    spec = nnmath_spec(app)
    resolver = Resolver(app)
    for docname in sorted(app.env.found_docs):
        src = executed / f"{docname}.ipynb"
        dest = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        if not src.is_file() or not dest.is_file():
            continue
        glue_file = executed / f"{docname}.glue.json"
        glue = json.loads(glue_file.read_text()) if glue_file.is_file() else {}
        resolver.cited = []

        def warn(msg: str, docname: str = docname) -> None:
            logger.warning(f"reader notebook: {msg}", location=docname, type="nnbook", subtype="notebook")

        nb = nbformat.read(src, as_version=4)
        reader = convert(nb, Converter(resolver, docname, glue, Path(app.srcdir), warn), spec)
        nbformat.write(reader, dest)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", keep_executed_notebook)
    app.connect("build-finished", write_reader_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
