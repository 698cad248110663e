"""Book machinery that Sphinx and MyST-NB do not provide out of the box.

1. **Never-stale figures.** MyST-NB's execution cache is keyed on cell source only, so editing
   ``nnmath`` would leave old outputs in place. We hash nnmath's source files (which include the
   plotting style) into the config value ``nnbook_source_hash``. It is an *env-rebuilding* value,
   so when it changes Sphinx re-reads every chapter, and the execution cache lives in a directory
   named after the hash, so every chapter re-executes. With no change, nothing is re-read and
   nothing executes.
2. **Offline math.** MathJax 3 is copied from the ``django-static-mathjax`` wheel into
   ``_static/mathjax``; ``mathjax_path`` in ``conf.py`` points there. No CDN request.
3. **Launch buttons that work.** sphinx-book-theme points Colab/Binder at the chapter's ``.md``,
   which Colab cannot open. We rewrite them to the executed ``.ipynb`` that the deploy workflow
   publishes on the ``notebooks`` branch (the same file the download button offers).
4. **Outputs that do not depend on timing.** The kernel sends printed text in chunks cut by a
   0.2 s flush timer, so one ``print`` can arrive as two stream messages, split mid-line, on one
   run and as one on the next; MyST-NB's ``nb_merge_streams`` then puts a newline at the cut
   (it strips and re-terminates every chunk). Right after execution, :func:`join_streams` joins
   adjacent chunks of one stream exactly, so the stored notebook and the page are the same
   whatever the timing. And output that arrives late fails the build (``raise_on_iopub_timeout``)
   instead of being dropped from the page with only a log line (nbclient's default).
5. **A search index that survives a rebuild.** Sphinx 9.0 keeps the index entries of
   ``searchindex.js`` (here: every API entry) only in memory for the pages it writes, and its
   ``IndexBuilder.load`` restores titles and terms from the previous ``searchindex.js`` but not
   those entries: a rebuild that writes no page empties ``indexentries`` (and a rebuild after a
   page was deleted would fail on its stale entries). :func:`_install_persistent_index_entries`
   restores them on load and prunes them with the pages, so a rebuild gives the same file as a
   clean build.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

NOTEBOOKS_BRANCH = "notebooks"


def nnmath_dir() -> Path:
    """The directory of the ``nnmath`` package that the chapters' kernels will import."""
    spec = importlib.util.find_spec("nnmath")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nnmath is not importable: install it (make book does) before building")
    return Path(next(iter(spec.submodule_search_locations)))


CONSTRAINTS = Path(__file__).resolve().parents[2] / "requirements" / "constraints.txt"


def source_hash(package: Path | None = None, constraints: Path | None = CONSTRAINTS) -> str:
    """SHA-256 over the relative paths and contents of every ``.py`` file in nnmath, and of the
    pinned versions (``requirements/constraints.txt``): a pin bump (a new NumPy) re-executes every
    chapter too, instead of keeping outputs computed with the old versions."""
    package = package or nnmath_dir()
    h = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(f.relative_to(package).as_posix().encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    if constraints is not None and constraints.is_file():
        h.update(b"constraints.txt\0" + constraints.read_bytes() + b"\0")
    return h.hexdigest()


def _config_inited(app: Sphinx, config: Config) -> None:
    digest = source_hash()
    config.nnbook_source_hash = digest
    cache_root = Path(app.outdir).parent / ".jupyter_cache"
    config.nb_execution_cache_path = str(cache_root / digest[:16])
    # Drop caches keyed on older nnmath versions: they can never be hit again.
    if cache_root.is_dir():
        for old in cache_root.iterdir():
            if old.name != digest[:16]:
                shutil.rmtree(old, ignore_errors=True)
    # Create the cache database here, in the main process: with -j, parallel readers would
    # otherwise race to create its tables ("table settings already exists").
    if config.nb_execution_mode == "cache":
        from jupyter_cache import get_cache

        get_cache(config.nb_execution_cache_path).db  # noqa: B018 (creates the sqlite file)


def _failed_chapters_are_outdated(app: Sphinx, env: Any, added: set[str], changed: set[str],
                                  removed: set[str]) -> list[str]:
    """Re-read every chapter whose last execution failed.

    Without this, a build after a failed one would not re-read the unchanged chapter, report no
    warning, and exit 0 while the site still shows the error.
    """
    metadata = getattr(env, "nb_metadata", {})
    return [doc for doc, data in metadata.items()
            if doc in env.found_docs and (data.get("exec_data") or {}).get("succeeded") is False]


def join_streams(outputs: list[Any]) -> list[Any]:
    """Adjacent stream outputs of one name (``stdout``, ``stderr``) joined into one, text exact.

    Only *adjacent* chunks are joined: a figure displayed between two prints stays between them
    (the kernel flushes its streams before it publishes a display, so that order is fixed).
    """
    joined: list[Any] = []
    for out in outputs:
        prev = joined[-1] if joined else None
        if (out.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
            text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
            before = prev["text"] if isinstance(prev["text"], str) else "".join(prev["text"])
            prev["text"] = before + text
        else:
            joined.append(out)
    return joined


#: Seconds nbclient waits, after a cell's reply, for the rest of its output; then the build fails.
IOPUB_TIMEOUT = 120


def _deterministic_execute(execute: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(execute)
    def run(nb: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("iopub_timeout", IOPUB_TIMEOUT)
        kwargs.setdefault("raise_on_iopub_timeout", True)
        try:
            return execute(nb, *args, **kwargs)
        finally:   # also when a cell failed: the error report shows the same outputs every time
            for cell in nb.cells:
                if cell.get("cell_type") == "code":
                    cell["outputs"] = join_streams(cell.get("outputs", []))
    run.nnbook_deterministic = True  # type: ignore[attr-defined]
    return run


def _install_deterministic_execution() -> None:
    """Wrap the executor that MyST-NB's ``cache`` and ``force`` modes call (jupyter-cache's)."""
    from jupyter_cache.executors import utils

    if not getattr(utils.executenb, "nnbook_deterministic", False):
        utils.executenb = _deterministic_execute(utils.executenb)


def _restore_index_entries(indexer: Any, frozen: dict[str, Any]) -> None:
    """Put the ``indexentries`` of a loaded ``searchindex.js`` back into ``indexer`` per page, in
    the form :meth:`IndexBuilder.feed` stores them (``freeze`` lower-cases the entry, as here)."""
    docnames = frozen["docnames"]
    per_page: dict[str, set[tuple[str, str, str]]] = {}
    for entry, hits in frozen.get("indexentries", {}).items():
        for doc, target, main in hits:
            per_page.setdefault(docnames[doc], set()).add((entry, target, "main" if main else ""))
    for docname in docnames:     # the file is newer than the pickled environment's copy
        indexer._index_entries[docname] = sorted(per_page.get(docname, ()))


def _install_persistent_index_entries() -> None:
    """Wrap ``IndexBuilder.load`` (restore the index entries) and ``prune`` (drop them with their
    page) — the two places where Sphinx 9.0 forgets them."""
    from sphinx.search import IndexBuilder

    if getattr(IndexBuilder.load, "nnbook_persistent", False):
        return
    load, prune = IndexBuilder.load, IndexBuilder.prune

    class _Loaded:                       # a "format" whose load() returns what we already read
        def __init__(self, frozen: Any) -> None:
            self.frozen = frozen

        def load(self, stream: Any) -> Any:
            return self.frozen

    @functools.wraps(load)
    def load_with_entries(self: Any, stream: Any, format: Any) -> None:
        fmt = self.formats[format] if isinstance(format, str) else format
        frozen = fmt.load(stream)
        load(self, stream, _Loaded(frozen))          # raises ValueError for an old format
        _restore_index_entries(self, frozen)

    @functools.wraps(prune)
    def prune_with_entries(self: Any, docnames: Any) -> None:
        keep = set(docnames)
        prune(self, keep)
        for docname in [d for d in self._index_entries if d not in keep]:
            del self._index_entries[docname]

    load_with_entries.nnbook_persistent = True       # type: ignore[attr-defined]
    IndexBuilder.load, IndexBuilder.prune = load_with_entries, prune_with_entries


def mathjax_source() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("django-static-mathjax is not installed (it ships MathJax 3 for offline math)")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax not found at {es5}")
    return es5


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / "mathjax"
    src = mathjax_source()
    marker = dest / ".source"
    if marker.is_file() and marker.read_text() == str(src):
        return
    shutil.copytree(src, dest, dirs_exist_ok=True)
    marker.write_text(str(src))


def _rewrite_url(url: str, pagename: str, org_repo: str) -> str:
    if "colab.research.google.com" in url:
        return f"https://colab.research.google.com/github/{org_repo}/blob/{NOTEBOOKS_BRANCH}/{pagename}.ipynb"
    if "mybinder.org" in url:
        return f"https://mybinder.org/v2/gh/{org_repo}/{NOTEBOOKS_BRANCH}?urlpath=lab/tree/{pagename}.ipynb"
    return url


def _fix_launch_buttons(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                        doctree: Any) -> None:
    org_repo = "/".join(app.config.repository_url.rstrip("/").split("/")[-2:])

    def walk(buttons: list[dict[str, Any]]) -> None:
        for b in buttons:
            if "url" in b:
                b["url"] = _rewrite_url(b["url"], pagename, org_repo)
            if isinstance(b.get("buttons"), list):
                walk(b["buttons"])

    walk(context.get("header_buttons", []))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("nnbook_source_hash", "", "env")
    _install_deterministic_execution()
    _install_persistent_index_entries()
    _register_api_directive(app)
    app.add_config_value("repository_url", "", "html")
    app.connect("config-inited", _config_inited)
    app.connect("env-get-outdated", _failed_chapters_are_outdated)
    app.connect("build-finished", _copy_mathjax)
    # after sphinx-book-theme has built its launch buttons (default priority 500)
    app.connect("html-page-context", _fix_launch_buttons, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


# --- API reference: one automodule per public nnmath module ---------------------------------------
from docutils import nodes  # noqa: E402
from docutils.statemachine import StringList  # noqa: E402
from sphinx.util.docutils import SphinxDirective  # noqa: E402


def public_modules() -> list[str]:
    """``nnmath.<name>`` for every non-private module file, in alphabetical order."""
    return [f"nnmath.{f.stem}" for f in sorted(nnmath_dir().glob("*.py"))
            if not f.stem.startswith("_")]


class NnmathModules(SphinxDirective):
    """``.. nnmath-modules::`` expands to a section with ``automodule`` for each public module,
    so a new module appears in the API reference without editing the page."""

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for mod in public_modules():
            lines += [mod, "-" * len(mod), "", f".. automodule:: {mod}", "   :members:", "", ""]
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(lines, source="nnmath-modules"), self.content_offset, container,
                                match_titles=True)
        return container.children


def _register_api_directive(app: Sphinx) -> None:
    app.add_directive("nnmath-modules", NnmathModules)
