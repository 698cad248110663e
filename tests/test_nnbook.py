"""Unit tests of the book extension (conf/_ext/nnbook.py): the cache key and the launch links."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from book import CONF, ROOT

sys.path.insert(0, str(CONF / "_ext"))
import nnbook  # noqa: E402


def test_source_hash_tracks_every_python_file(tmp_path: Path) -> None:
    pkg = tmp_path / "nnmath"
    shutil.copytree(ROOT / "nnmath", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    h0 = nnbook.source_hash(pkg)
    assert h0 == nnbook.source_hash(pkg)                       # deterministic
    (pkg / "__pycache__").mkdir(exist_ok=True)
    (pkg / "__pycache__" / "x.py").write_text("ignored")
    assert nnbook.source_hash(pkg) == h0                       # bytecode caches do not count
    style = pkg / "plotting.py"
    style.write_text(style.read_text() + "\n# a comment\n")
    h1 = nnbook.source_hash(pkg)
    assert h1 != h0                                            # the plotting style is part of the key
    (pkg / "new_module.py").write_text("")
    assert nnbook.source_hash(pkg) != h1                       # so is a new module


def test_installed_nnmath_is_the_one_hashed() -> None:
    assert nnbook.nnmath_dir().resolve() == (ROOT / "nnmath").resolve()


def test_launch_links_point_at_the_notebooks_branch_ipynb() -> None:
    colab = "https://colab.research.google.com/github/o/r/blob/main/book/chapters/01_x.md"
    binder = "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/book/chapters/01_x.md"
    assert nnbook._rewrite_url(colab, "chapters/01_x", "o/r") == \
        "https://colab.research.google.com/github/o/r/blob/notebooks/chapters/01_x.ipynb"
    assert nnbook._rewrite_url(binder, "chapters/01_x", "o/r") == \
        "https://mybinder.org/v2/gh/o/r/notebooks?urlpath=lab/tree/chapters/01_x.ipynb"
    assert nnbook._rewrite_url("https://github.com/o/r", "x", "o/r") == "https://github.com/o/r"


def test_every_public_module_is_listed_for_the_api_page() -> None:
    mods = nnbook.public_modules()
    assert "nnmath.activations" in mods and "nnmath.conv" in mods
    assert not any(m.split(".")[-1].startswith("_") for m in mods)


def test_source_hash_tracks_the_pinned_versions(tmp_path: Path) -> None:
    """A pin bump (requirements/constraints.txt) must re-execute the chapters like an nnmath edit."""
    pkg = tmp_path / "nnmath"
    shutil.copytree(ROOT / "nnmath", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    pins = tmp_path / "constraints.txt"
    pins.write_text("numpy==2.4.6\n")
    h0 = nnbook.source_hash(pkg, pins)
    pins.write_text("numpy==2.4.7\n")
    assert nnbook.source_hash(pkg, pins) != h0
    assert nnbook.CONSTRAINTS == ROOT / "requirements" / "constraints.txt" and nnbook.CONSTRAINTS.is_file()
    assert nnbook.source_hash(pkg) == nnbook.source_hash(pkg, nnbook.CONSTRAINTS)


def stream(name: str, text: str) -> dict[str, str]:
    return {"output_type": "stream", "name": name, "text": text}


def test_join_streams_joins_adjacent_chunks_exactly() -> None:
    figure = {"output_type": "display_data", "data": {"text/plain": "<Figure>"}, "metadata": {}}
    outputs = [stream("stdout", "{0: 4.48} "), stream("stdout", "limit = 4.0\n"),
               stream("stderr", "warn\n"), stream("stdout", "x"), figure, stream("stdout", "y\n")]
    assert nnbook.join_streams(outputs) == [
        stream("stdout", "{0: 4.48} limit = 4.0\n"),   # cut mid-line: no newline at the cut
        stream("stderr", "warn\n"), stream("stdout", "x"), figure, stream("stdout", "y\n")]


def test_a_print_cut_by_a_flush_reads_the_same_on_the_page() -> None:
    """A line that reaches the notebook in two stream messages — what the kernel's flush timer
    does at random — is stored, and rendered by MyST-NB's stream merge, as the one line it is."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution
    from myst_nb.core.utils import coalesce_streams

    nnbook._install_deterministic_execution()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys\nprint('one', end=' ')\nsys.stdout.flush()\nprint('line')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    result = single_nb_execution(nb, cwd=None, timeout=60, allow_errors=False)
    assert result.err is None, result.exc_string
    outputs = nb.cells[0].outputs
    assert [(o.output_type, o.name, o.text) for o in outputs] == [("stream", "stdout", "one line\n")]
    assert coalesce_streams(outputs)[0]["text"] == "one line\n"


def test_late_output_fails_instead_of_vanishing() -> None:
    seen: dict[str, object] = {}

    def execute(nb: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return nb

    class Nb:
        cells: list[dict[str, object]] = []

    nnbook._deterministic_execute(execute)(Nb(), timeout=5)
    assert seen == {"timeout": 5, "iopub_timeout": nnbook.IOPUB_TIMEOUT,
                    "raise_on_iopub_timeout": True}


# --- the search index keeps its index entries across rebuilds ------------------------------------
def _index_entries(out: Path) -> dict[str, list]:
    import json

    text = (out / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])["indexentries"]


def _tiny_project(src: Path, patched: bool) -> None:
    src.mkdir()
    install = "import nnbook; nnbook._install_persistent_index_entries()" if patched else "pass"
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(CONF / '_ext')!r})\n"
        f"def setup(app):\n    {install}\n")
    (src / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   a\n   b\n")
    (src / "a.rst").write_text("A\n=\n\n.. index:: single: Widget\n\n.. py:function:: frob()\n\n   Frobs.\n")
    (src / "b.rst").write_text("B\n=\n\nText.\n")


def _sphinx(src: Path, out: Path) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", str(src), str(out)],
                   check=True, capture_output=True)


def test_a_rebuild_keeps_the_search_index_entries(tmp_path: Path) -> None:
    # Without the fix, Sphinx 9.0 empties them on a rebuild that writes no page (if this control
    # ever fails, Sphinx has fixed it and the workaround can go).
    _tiny_project(tmp_path / "plain", patched=False)
    _sphinx(tmp_path / "plain", tmp_path / "plain_out")
    assert _index_entries(tmp_path / "plain_out")
    _sphinx(tmp_path / "plain", tmp_path / "plain_out")
    assert _index_entries(tmp_path / "plain_out") == {}

    src, out = tmp_path / "src", tmp_path / "out"
    _tiny_project(src, patched=True)
    _sphinx(src, out)
    clean, entries = (out / "searchindex.js").read_bytes(), _index_entries(out)
    assert "widget" in entries and any("frob()" in e for e in entries), entries
    _sphinx(src, out)                                        # nothing changed: nothing written
    assert (out / "searchindex.js").read_bytes() == clean
    (src / "b.rst").write_text("B\n=\n\nOther text.\n")       # another page is written again
    _sphinx(src, out)
    assert _index_entries(out) == entries
    (src / "a.rst").unlink()                                  # the page with the entries goes
    (src / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   b\n")
    _sphinx(src, out)
    assert _index_entries(out) == {}
