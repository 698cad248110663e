"""A reader's view: headless Chromium opens every page of the built site.

Three passes over every page:

* **desktop, light theme (1280 px)** — MathJax has typeset the math (rendered ``mjx-container``
  elements, no raw ``\\[``/``$$`` left, no MathJax error, assistive MathML present for screen
  readers), the console stays free of errors, no request fails or leaves the local site; no display
  equation is wider than its column and no equation number overlaps its equation; no figure is
  dark; axe-core finds no critical or serious violation; on chapter pages, hovering a reference to
  an equation, a figure and a citation shows its preview;
* **desktop, dark theme** — no figure is a bright rectangle, toggling the theme swaps the figure
  rendering live, and axe-core (colour contrast differs by theme) again finds nothing serious;
  with every folded cell unfolded, no code block scrolls sideways (code and printed output are
  written to 88 columns, which the page's code font fits at 1280 px);
* **phone (390 px)** — no display equation wider than its column, no equation number on its
  equation.

Uses Debian's ``/usr/bin/chromium`` through Playwright (which never downloads a browser here) and
``node_modules/axe-core`` (``npm ci``; pinned in ``package-lock.json``). Without them the test skips
locally; in CI (``CI=true``) a missing browser or axe-core is a failure.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, Build

pytestmark = [pytest.mark.build, pytest.mark.browser]

CHROMIUM = os.environ.get("NNBOOK_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
#: Mean luminance (0 black .. 1 white) a figure may not cross for its theme.
BRIGHT, DARK = 0.55, 0.45

# Raw TeX delimiters that would remain if MathJax did not run (code blocks are excluded).
RAW_MATH_JS = r"""
() => {
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, mjx-container, script, style, .cell_output').forEach(e => e.remove());
  const text = clone.innerText;
  return ['\\[', '\\(', '$$', '\\begin{'].filter(d => text.includes(d));
}
"""

# Display equations wider than the text column, and equation numbers on top of their equation.
EQUATION_LAYOUT_JS = r"""
() => {
  const out = [];
  for (const d of document.querySelectorAll('main div.math')) {
    const mjx = d.querySelector('mjx-container');
    if (!mjx || !d.offsetParent) continue;
    const box = d.getBoundingClientRect();
    const math = (mjx.querySelector('mjx-math') || mjx).getBoundingClientRect();
    const no = d.querySelector('.eqno');
    const name = no ? no.firstChild.textContent.trim() : (d.id || 'unnumbered');
    const tex = (d.querySelector('mjx-assistive-mml') || d).textContent.replace(/\s+/g, ' ').trim().slice(0, 40);
    if (d.scrollWidth > d.clientWidth + 1 || math.right > box.right + 1 || math.left < box.left - 1) {
      out.push(`wide ${name} (${Math.round(math.width)} px in ${Math.round(box.width)} px): ${tex}`);
    }
    if (no) {
      const n = no.getBoundingClientRect();
      if (n.width && n.left < math.right - 1 && n.right > math.left + 1 && n.top < math.bottom && n.bottom > math.top) {
        out.push(`number overlaps ${name}: ${tex}`);
      }
    }
  }
  return out;
}
"""

# Code blocks (code cells, listings, printed output) wider than their box: they would scroll sideways.
CODE_SCROLL_JS = r"""
() => Array.from(document.querySelectorAll('main pre')).filter(p => p.offsetParent && p.scrollWidth > p.clientWidth + 1)
  .map(p => {
    const longest = p.innerText.split('\n').reduce((a, l) => (l.length > a.length ? l : a), '');
    return `code block scrolls sideways (${p.scrollWidth} px in ${p.clientWidth} px): ${longest.trim().slice(0, 60)}`;
  })
"""

VISIBLE_FIGURES_JS = r"""
() => Array.from(document.querySelectorAll('main figure img, main .cell_output img'))
  .map((img, i) => [i, img.getAttribute('src'), !!img.offsetParent && img.getBoundingClientRect().width > 0])
"""


def _browser_or_skip() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no Chromium at {CHROMIUM}: .ci/run must apt-get install chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); browser checks skipped")


def _axe_or_skip() -> Path:
    if AXE.is_file():
        return AXE
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no {AXE}: .ci/run must run npm ci")
    pytest.skip(f"no {AXE.relative_to(ROOT)} (npm ci); accessibility checks skipped")


@pytest.fixture(scope="module")
def site(built_book: Build) -> Iterator[str]:
    directory = str(built_book.outdir)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _pages(build: Build) -> list[str]:
    return sorted(p.relative_to(build.outdir).as_posix() for p in build.outdir.rglob("*.html")
                  if not {"_static", "_sources", "reports"} & set(p.parts))


def _is_chapter(rel: str) -> bool:
    return rel.startswith(("chapters/", "appendix/"))


def _luminance(png: bytes) -> float:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    hist = img.histogram()
    return sum(i * n for i, n in enumerate(hist)) / (255 * max(1, sum(hist)))


def _open(context, site: str, rel: str, events: list[str]):  # noqa: ANN001, ANN202 - Playwright types
    page = context.new_page()
    page.on("console", lambda m: events.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: events.append(f"page error: {e}"))
    page.on("response", lambda r: events.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: events.append(f"failed request: {r.url} ({r.failure})"))
    page.on("request", lambda r: None if r.url.startswith((site, "data:", "blob:", "about:"))
            else events.append(f"external request: {r.url}"))
    page.goto(f"{site}/{rel}", wait_until="networkidle")
    if page.evaluate("() => document.querySelectorAll('main .math').length"):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    return page


def _axe(page, axe: Path) -> list[str]:  # noqa: ANN001
    page.add_script_tag(path=str(axe))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'critical' || v.impact === 'serious')
          .map(v => `${v.impact} ${v.id} (${v.nodes.length}×): ${v.nodes[0].target.join(' ')}`);
    }""")
    return [f"axe {v}" for v in result]


def _figures(page, theme: str) -> list[str]:  # noqa: ANN001
    problems = []
    imgs = page.locator("main figure img, main .cell_output img")
    for i, src, visible in page.evaluate(VISIBLE_FIGURES_JS):
        if not visible:
            continue
        lum = _luminance(imgs.nth(i).screenshot(animations="disabled"))
        if theme == "dark" and lum > BRIGHT:
            problems.append(f"bright figure on the dark page (mean luminance {lum:.2f}): {src}")
        if theme == "light" and lum < DARK:
            problems.append(f"dark figure on the light page (mean luminance {lum:.2f}): {src}")
    return problems


def _hover_previews(page) -> list[str]:  # noqa: ANN001
    problems = []
    kinds = {"equation": "main a.reference.internal[href*='#equation-']",
             "figure": "main a.reference.internal[href*='#fig-']",
             "citation": "main a.reference.internal[href*='bibliography.html#']"}
    for kind, selector in kinds.items():
        link = page.locator(selector).first
        if link.count() == 0:
            continue
        link.scroll_into_view_if_needed()
        link.hover()
        try:
            page.wait_for_function("""() => Array.from(document.querySelectorAll('[data-tippy-root]'))
                .some(r => r.offsetParent !== null && (r.innerText.trim() || r.querySelector('img, mjx-container')))""",
                                   timeout=4000)
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError
            problems.append(f"no hover preview for a {kind} reference ({link.get_attribute('href')})")
        page.mouse.move(0, 0)
        page.wait_for_timeout(250)
    return problems


def test_every_page_reads_well_in_light_dark_and_on_a_phone(built_book: Build, site: str) -> None:
    exe = _browser_or_skip()
    axe = _axe_or_skip()
    from playwright.sync_api import sync_playwright

    pages = _pages(built_book)
    problems: list[str] = []
    previews_checked = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=ARGS)
        contexts = {
            "light": browser.new_context(viewport=DESKTOP, color_scheme="light"),
            "dark": browser.new_context(viewport=DESKTOP, color_scheme="dark"),
            "phone": browser.new_context(viewport=PHONE, device_scale_factor=2, color_scheme="light",
                                         is_mobile=True, has_touch=True),
        }
        for theme in ("light", "dark"):
            contexts[theme].add_init_script(f"localStorage.setItem('theme', '{theme}'); "
                                            f"localStorage.setItem('mode', '{theme}');")
        for rel in pages:
            events: list[str] = []
            page = _open(contexts["light"], site, rel, events)
            if page.evaluate("() => document.querySelectorAll('main .math').length"):
                if page.evaluate("() => document.querySelectorAll('main mjx-container').length") == 0:
                    events.append("math present but nothing typeset")
                if page.evaluate("() => document.querySelectorAll('main mjx-assistive-mml').length") == 0:
                    events.append("no assistive MathML for screen readers")
                if raw := page.evaluate(RAW_MATH_JS):
                    events.append(f"raw TeX left in the text: {raw}")
                if errors := page.evaluate("() => document.querySelectorAll('mjx-merror, .MathJax_Error').length"):
                    events.append(f"{errors} MathJax errors (undefined macro or bad TeX)")
                events += [f"1280 px: {e}" for e in page.evaluate(EQUATION_LAYOUT_JS)]
            elif _is_chapter(rel):
                events.append("chapter page without math")
            events += [f"light: {e}" for e in _figures(page, "light")]
            if _is_chapter(rel):
                found = _hover_previews(page)
                previews_checked += 1
                events += found
            events += [f"light: {e}" for e in _axe(page, axe)]
            page.close()

            page = _open(contexts["dark"], site, rel, events)
            if page.evaluate("() => document.documentElement.dataset.theme") != "dark":
                events.append("the dark theme did not apply")
            events += [f"dark: {e}" for e in _figures(page, "dark")]
            events += [f"dark: {e}" for e in _axe(page, axe)]
            if page.locator("main figure img.only-dark").count():
                page.evaluate("() => document.documentElement.dataset.theme = 'light'")
                shown = page.evaluate("() => Array.from(document.querySelectorAll('main figure img'))"
                                      ".filter(i => i.offsetParent).map(i => i.className)")
                if any("only-dark" in c for c in shown) or not any("only-light" in c for c in shown):
                    events.append(f"switching to light does not swap the figures: {shown[:3]}")
            # code folded behind "show code" counts too: unfold everything, then measure
            page.evaluate("() => document.querySelectorAll('main details').forEach(d => d.open = true)")
            events += [f"1280 px: {e}" for e in page.evaluate(CODE_SCROLL_JS)]
            page.close()

            page = _open(contexts["phone"], site, rel, events)
            events += [f"390 px: {e}" for e in page.evaluate(EQUATION_LAYOUT_JS)]
            page.close()
            problems += [f"{rel}: {e}" for e in events]
        browser.close()
    assert previews_checked > 0
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:200])
