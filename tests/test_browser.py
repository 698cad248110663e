"""A reader's view: headless Chromium opens every page of the built site.

On every page MathJax must have typeset the math (rendered ``mjx-container`` elements, no raw
``\\[``/``$$`` left in the text), the console must stay free of errors, no request may fail and no
request may leave the local site. Uses Debian's ``/usr/bin/chromium`` through Playwright (which
never downloads a browser here). Without the browser the test skips locally; in CI (``CI=true``)
a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Build

pytestmark = [pytest.mark.build, pytest.mark.browser]

CHROMIUM = os.environ.get("NNBOOK_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]

# Raw TeX delimiters that would remain if MathJax did not run (code blocks are excluded).
RAW_MATH_JS = r"""
() => {
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, mjx-container, script, style, .cell_output').forEach(e => e.remove());
  const text = clone.innerText;
  return ['\\[', '\\(', '$$', '\\begin{'].filter(d => text.includes(d));
}
"""

# Display equations wider than the text column (they would be cut off or need scrolling).
WIDE_MATH_JS = r"""
() => Array.from(document.querySelectorAll('main div.math')).filter(d => d.scrollWidth > d.clientWidth + 2)
  .map(d => (d.id || '') + ': ' + d.textContent.trim().slice(0, 50))
"""


def _browser_or_skip() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no Chromium at {CHROMIUM}: .ci/run must apt-get install chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); browser checks skipped")


@pytest.fixture(scope="module")
def site(built_book: Build) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book.outdir))

    class Quiet(handler.func):  # type: ignore[name-defined,misc]
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built_book.outdir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_page_typesets_math_offline(built_book: Build, site: str) -> None:
    exe = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    pages = sorted(p.relative_to(built_book.outdir).as_posix() for p in built_book.outdir.rglob("*.html")
                   if "_static" not in p.parts and "_sources" not in p.parts)
    chapters = [p for p in pages if p.startswith(("chapters/", "appendix/"))]
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=ARGS)
        context = browser.new_context(device_scale_factor=2, viewport={"width": 1280, "height": 900})
        for rel in pages:
            page = context.new_page()
            events: list[str] = []
            page.on("console", lambda m, ev=events: ev.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e, ev=events: ev.append(f"page error: {e}"))
            page.on("response", lambda r, ev=events: ev.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
            page.on("requestfailed", lambda r, ev=events: ev.append(f"failed request: {r.url} ({r.failure})"))
            page.on("request", lambda r, ev=events: None if r.url.startswith((site, "data:", "blob:", "about:"))
                    else ev.append(f"external request: {r.url}"))
            page.goto(f"{site}/{rel}", wait_until="networkidle")
            has_math = page.evaluate("() => document.querySelectorAll('main .math').length")
            if has_math:
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
                page.evaluate("() => MathJax.startup.promise")
                rendered = page.evaluate("() => document.querySelectorAll('main mjx-container').length")
                if rendered == 0:
                    events.append("math present but nothing typeset")
                raw = page.evaluate(RAW_MATH_JS)
                if raw:
                    events.append(f"raw TeX left in the text: {raw}")
                wide = page.evaluate(WIDE_MATH_JS)
                if wide:
                    events.append(f"display math wider than the column: {wide}")
                errors = page.evaluate("() => document.querySelectorAll('mjx-merror, .MathJax_Error').length")
                if errors:
                    events.append(f"{errors} MathJax errors (undefined macro or bad TeX)")
            elif rel in chapters:
                events.append("chapter page without math")
            page.close()
            problems += [f"{rel}: {e}" for e in events]
        browser.close()
    assert not problems, "\n".join(problems[:60])
