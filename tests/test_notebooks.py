"""The notebooks a reader downloads (or opens in Colab/Binder) are plain Jupyter notebooks.

Built by ``conf/_ext/nnbook_notebooks.py`` into ``_sources/<doc>.ipynb``. Checked here:

* no raw MyST is left in any markdown cell (roles, directive fences, ``(label)=`` targets,
  directive options), code blocks excepted;
* no code cell needs the book's build tools (``myst_nb``), and the first cell is the install cell;
* every notebook executes top to bottom with nbclient in a **fresh virtual environment** that
  holds only nnmath (installed from this checkout, as the install cell would install it from the
  repository), what the notebook's install cell lists, and ipykernel to be a Jupyter kernel at
  all — and every number it prints equals the number in the book's executed notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import BOOK, ROOT, Build

sys.path.insert(0, str(ROOT / "conf" / "_ext"))
from nnbook_notebooks import merge_streams, strip_glue  # noqa: E402
from prepare_notebooks import install_needs as needs  # noqa: E402  (tools/ is on the path)

DOCS = sorted(p.relative_to(BOOK).with_suffix("").as_posix()
              for p in [*(BOOK / "chapters").glob("*.md"), *(BOOK / "appendix").glob("*.md")])

RAW_MYST = re.compile(r"\{[a-z][\w:-]*\}`|^\s*(?:`{3,}|~{3,}|:{3,})\s*\{|^\s*\([\w.:-]+\)=\s*$"
                      r"|^\s*:(?:label|class|name|tags|pyobject|caption|alt):", re.M)
CODE_BLOCK = re.compile(r"^(\s*)(`{3,}|~{3,})(?!\s*\{)[^\n]*\n.*?^\1\2\s*$", re.M | re.S)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def raw_myst(markdown: str) -> list[str]:
    """Raw MyST constructs in a markdown cell, fenced code blocks excepted."""
    text = CODE_BLOCK.sub("", markdown)
    return [text[max(0, m.start() - 30):m.end() + 30].replace("\n", " ") for m in RAW_MYST.finditer(text)]


def reader_notebook(build: Build, doc: str) -> dict:
    return json.loads((build.outdir / "_sources" / f"{doc}.ipynb").read_text(encoding="utf-8"))


# --- no build needed ---------------------------------------------------------------------------------
def test_strip_glue_drops_imports_calls_and_glue_only_loops() -> None:
    src = textwrap.dedent("""\
        import numpy as np
        from myst_nb import glue

        x = 2.0
        glue("x", float(x), display=False)
        for k, v in {"a": 1}.items():
            glue(k, v, display=False)
        for k in range(2):
            y = k
            glue(f"y{k}", y, display=False)
        print(x)""")
    out = strip_glue(src)
    assert "glue" not in out and "myst_nb" not in out
    assert "x = 2.0" in out and "print(x)" in out and "y = k" in out
    compile(out, "<cell>", "exec")


def test_merge_streams_drops_the_copy_myst_nb_leaves_and_merges_the_rest() -> None:
    def stream(text: str) -> dict:
        return {"output_type": "stream", "name": "stdout", "text": text}

    fig = {"output_type": "display_data", "data": {"text/plain": "<Figure>"}}
    assert merge_streams([stream("a\nb\n"), stream("b\n")]) == [stream("a\nb\n")]
    assert merge_streams([stream("a\n"), fig, stream("b\n")]) == [stream("a\nb\n"), fig]
    assert merge_streams([stream("a\nb\nc\n"), stream("b\n"), stream("c\n")]) == [stream("a\nb\nc\n")]


def test_raw_myst_detector_finds_what_a_reader_must_not_see() -> None:
    assert raw_myst("a {glue:text}`x:.2f` b")
    assert raw_myst("```{exercise}\n:label: ex\ntext\n```")
    assert raw_myst("(sec-x)=\n# Heading")
    assert not raw_myst("Eq. (4.7) and (Ioffe and Szegedy, 2015)")
    assert not raw_myst("```python\ndef f():\n    ':math:`x`'\n```")


# --- on the built book -------------------------------------------------------------------------------


@pytest.mark.build
@pytest.mark.parametrize("doc", DOCS)
def test_reader_notebook_has_no_raw_myst(built_book: Build, doc: str) -> None:
    nb = reader_notebook(built_book, doc)
    problems = []
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            problems += [f"cell {i}: {hit!r}" for hit in raw_myst(src)]
        elif "myst_nb" in src or re.search(r"\bglue\(", src):
            problems.append(f"cell {i}: needs the build tools: {src[:80]!r}")
    assert not problems, f"{doc}:\n" + "\n".join(problems[:40])
    assert nb["cells"][0]["metadata"].get("tags") == ["install"], f"{doc}: the first cell is not the install cell"
    assert needs(nb)["nnmath"].startswith("nnmath @ git+https://github.com/")
    assert "jupytext" not in nb["metadata"], f"{doc}: still a paired MyST notebook"


def _venv_with(packages: list[str], where: Path) -> Path:
    """A fresh virtual environment with nnmath from this checkout and ``packages``."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    py = where / "bin" / "python"
    # a copy of the package sources, so that building the wheel leaves nothing in the checkout
    src = where.parent / "nnmath-src"
    shutil.copytree(ROOT / "nnmath", src / "nnmath", ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    cmd = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "-c", str(ROOT / "requirements" / "constraints.txt"), str(src), "ipykernel", *packages]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return py


RUNNER = """
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
src, dest, kernel = sys.argv[1:4]
nb = nbformat.read(src, as_version=4)
for cell in nb.cells:
    if cell.cell_type == "code":
        cell.outputs = []
NotebookClient(nb, kernel_name=kernel, timeout=600, resources={"metadata": {"path": str(Path(dest).parent)}}).execute()
nbformat.write(nb, dest)
"""


def _printed(cell: dict) -> tuple[list[str], list[str]]:
    """The numbers a cell printed (its streams, in order) and displayed (results, in order)."""
    streams, shown = [], []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out.get("name") == "stdout":   # not warnings
            streams.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain", "")
            shown.append("".join(text) if isinstance(text, list) else text)
    return NUMBER.findall("".join(streams)), NUMBER.findall("\n".join(shown))


@pytest.mark.build
def test_reader_notebooks_run_in_a_fresh_venv_and_print_the_books_numbers(
        built_book: Build, tmp_path: Path) -> None:
    notebooks = {doc: reader_notebook(built_book, doc) for doc in DOCS}
    extra = sorted({spec for nb in notebooks.values() for mod, spec in needs(nb).items() if mod != "nnmath"})
    py = _venv_with(extra, tmp_path / "venv")
    kernels = tmp_path / "jupyter" / "kernels" / "reader-venv"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "reader venv", "language": "python"}))
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path / "jupyter"), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("PYTHONPATH", None)

    def run(doc: str) -> tuple[str, subprocess.CompletedProcess[str], Path]:
        work = tmp_path / "run" / doc
        work.mkdir(parents=True)
        dest = work / "out.ipynb"
        src = built_book.outdir / "_sources" / f"{doc}.ipynb"
        proc = subprocess.run([sys.executable, "-c", RUNNER, str(src), str(dest), "reader-venv"],
                              capture_output=True, text=True, env=env, cwd=work, timeout=900)
        return doc, proc, dest

    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for doc, proc, dest in pool.map(run, DOCS):
            if proc.returncode != 0:
                problems.append(f"{doc}: does not run in a fresh venv:\n{proc.stderr[-3000:]}")
                continue
            ran = json.loads(dest.read_text())
            book = notebooks[doc]
            for i, (a, b) in enumerate(zip(book["cells"], ran["cells"], strict=True)):
                if a["cell_type"] != "code":
                    continue
                for what, want, got in zip(("printed", "displayed"), _printed(a), _printed(b)):
                    if want != got:
                        at = next((k for k, (x, y) in enumerate(zip(want, got)) if x != y), min(len(want), len(got)))
                        problems.append(f"{doc}, cell {i}: number {at} {what} differs: the book "
                                        f"{want[at:at + 4]}, the reader's run {got[at:at + 4]} "
                                        f"({len(want)} vs {len(got)} numbers)")
    assert not problems, "\n".join(problems[:30])
