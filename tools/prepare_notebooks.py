"""Collect the reader notebooks of a built site for the ``notebooks`` branch that Colab and Binder open.

    python tools/prepare_notebooks.py _build/html notebooks

The site's ``_sources/**/*.ipynb`` are already the notebooks for readers (written by
``conf/_ext/nnbook_notebooks.py``: plain Markdown and math, values filled in, a first cell that
installs what is missing). This copies them and writes, for Binder, a ``requirements.txt`` with
what those install cells list (nnmath at the commit the book was built from) under the book's
pinned versions.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def install_needs(nb: dict) -> dict[str, str]:
    """The ``NEEDS`` mapping (import name -> pip requirement) of a reader notebook's first cell."""
    first = "".join(nb["cells"][0]["source"])
    for node in ast.parse(first).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NEEDS":
            return ast.literal_eval(node.value)
    raise ValueError("the first cell of a reader notebook defines NEEDS")


def main(site: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    requirements: set[str] = set()
    for src in sorted((site / "_sources").rglob("*.ipynb")):
        nb = json.loads(src.read_text(encoding="utf-8"))
        requirements |= set(install_needs(nb).values())
        out = dest / src.relative_to(site / "_sources")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
    shutil.copy(ROOT / "requirements" / "constraints.txt", dest / "constraints.txt")
    nnmath = sorted(r for r in requirements if r.startswith("nnmath"))
    others = sorted(r for r in requirements if not r.startswith("nnmath"))
    (dest / "requirements.txt").write_text("-c constraints.txt\n" + "\n".join([*nnmath, *others]) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
