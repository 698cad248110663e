"""Copy the pinned browser libraries for the hover previews from node_modules into the site's static files.

    npm ci && python tools/vendor_js.py

Popper and Tippy (MIT) are committed under ``conf/_static/vendor`` so that ``make book`` needs no
npm and the site loads nothing from another host; ``package.json``/``package-lock.json`` pin the
versions, and ``tests/test_browser.py`` checks that the committed copies equal the pinned ones
when ``node_modules`` is present.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {
    "node_modules/@popperjs/core/dist/umd/popper.min.js": "popper.min.js",
    "node_modules/tippy.js/dist/tippy-bundle.umd.min.js": "tippy-bundle.umd.min.js",
    "node_modules/tippy.js/LICENSE": "tippy.LICENSE",
    "node_modules/@popperjs/core/LICENSE.md": "popper.LICENSE.md",
}
DEST = ROOT / "conf" / "_static" / "vendor"


def main() -> None:
    DEST.mkdir(parents=True, exist_ok=True)
    for src, name in FILES.items():
        shutil.copyfile(ROOT / src, DEST / name)
        print(f"{src} -> {(DEST / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
