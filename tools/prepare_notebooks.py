"""Collect the executed chapter notebooks for the ``notebooks`` branch that Colab and Binder open.

    python tools/prepare_notebooks.py _build/html notebooks "owner/repo" <commit>

Copies every ``_sources/**/*.ipynb`` of the built site and prepends one cell that installs nnmath
at the commit the book was built from — only when the notebook runs outside this repository's
environment (Colab has no nnmath); in Binder the branch's ``requirements.txt`` does it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

INSTALL = """# Colab and other fresh kernels: install nnmath at the commit this book was built from.
try:
    import nnmath  # noqa: F401
except ImportError:
    %pip install --quiet "nnmath @ git+https://github.com/{repo}@{commit}" scikit-learn"""


def main(site: Path, dest: Path, repo: str, commit: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted((site / "_sources").rglob("*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        cell = nbformat.v4.new_code_cell(INSTALL.format(repo=repo, commit=commit))
        cell.metadata["tags"] = ["remove-cell"]
        nb.cells.insert(0, cell)
        out = dest / src.relative_to(site / "_sources")
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    root = Path(__file__).resolve().parent.parent
    shutil.copy(root / "requirements" / "constraints.txt", dest / "constraints.txt")
    (dest / "requirements.txt").write_text(
        f"-c constraints.txt\nnnmath @ git+https://github.com/{repo}@{commit}\nscikit-learn\nmatplotlib\n")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4])
