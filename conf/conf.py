"""Sphinx configuration for *Neural Network Mathematics*.

Build with ``sphinx-build -c conf book _build/html`` (``make book`` adds ``-W -n --keep-going -j``).
The book-specific machinery (an execution cache keyed on nnmath's source, MathJax served from the
site, launch buttons that open the generated ``.ipynb``) lives in ``conf/_ext/nnbook.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# --- project -----------------------------------------------------------------------------------
project = "Neural Network Mathematics"
author = "The Neural Network Mathematics authors"
copyright = "2026, " + author
#: Where the sources live; the edit/repository/launch buttons point here. Override for forks.
repository_url = os.environ.get("NNBOOK_REPOSITORY_URL", "https://github.com/nnmath/neural-network-mathematics")
repository_branch = "main"

# --- extensions ----------------------------------------------------------------------------------
extensions = [
    "myst_nb",                  # MyST Markdown notebooks (also provides the MyST parser: do not add myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
    "sphinx_design",
    "sphinx_togglebutton",
    "sphinxcontrib.bibtex",
    "sphinx_exercise",
    "nnbook",                   # conf/_ext/nnbook.py
    "nnbook_notebooks",         # conf/_ext/nnbook_notebooks.py: plain notebooks for readers
    "nnbook_reader",            # conf/_ext/nnbook_reader.py: dark figures, chapter map, status page
    "nnbook_pdf",               # conf/_ext/nnbook_pdf.py: what the LaTeX/PDF edition leaves out
    "sphinx_tippy",             # hover previews of equations, figures, citations (offline, below)
    "sphinx_codeautolink",      # names in code cells link to their API entry, and back
    "sphinxcontrib.rsvgconverter",  # SVG figures -> PDF for the LaTeX builder (rsvg-convert)
    "nnbook_claims",            # conf/_ext/nnbook_claims.py: the {claim} role and the claims page
    "nnbook_bib",               # conf/_ext/nnbook_bib.py: author-year labels in the bibliography
    "nnbook_api_links",         # conf/_ext/nnbook_api_links.py: API entries link to their derivation
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", ".jupyter_cache", "jupyter_execute", "_templates"]
# NNBOOK_ONLY=07_attention builds just that chapter (plus the reference pages): a quick preview
# while writing. The published book never sets it.
if os.environ.get("NNBOOK_ONLY"):
    _only = os.environ["NNBOOK_ONLY"]
    exclude_patterns += [f"chapters/{p.stem}.md" for p in (HERE.parent / "book" / "chapters").glob("*.md")
                         if not p.stem.startswith((_only, "00_"))]   # the preface is listed explicitly
    # links to the chapters left out cannot resolve in a preview; the full build still checks them
    suppress_warnings_preview = ["ref.doc"]
else:
    suppress_warnings_preview = []
root_doc = "index"

# --- MyST ------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_dmath_double_inline = True
myst_heading_anchors = 3
numfig = True
numfig_secnum_depth = 1          # "Figure 3.2", "(3.2)": numbered per chapter
math_numfig = True
math_eqref_format = "({number})"
numfig_format = {"figure": "Figure %s", "table": "Table %s", "code-block": "Listing %s"}

# --- MyST-NB execution -------------------------------------------------------------------------
# "cache": a chapter executes only when its code changed, or when nnmath changed (nnbook keys the
# cache directory on a hash of nnmath's source, and that hash is an env-rebuilding config value).
nb_execution_mode = os.environ.get("NNBOOK_EXECUTION_MODE", "cache")
nb_execution_raise_on_error = False   # reported as a warning naming chapter + cell; -W makes it fatal
nb_execution_show_tb = True           # ... and prints the traceback, chapter and cell
nb_execution_timeout = 600
nb_merge_streams = True
nb_execution_excludepatterns = ["_templates/*"]
# Figures are SVG; MyST-NB's output priority for LaTeX has no SVG entry, so the PDF would show
# "<Figure size ...>" instead. rsvgconverter turns the chosen SVG into a vector PDF.
nb_mime_priority_overrides = [("latex", "image/svg+xml", 15)]

# --- citations -------------------------------------------------------------------------------------
bibtex_bibfiles = ["../book/references.bib"]  # relative to this conf directory
bibtex_default_style = "nnbook"   # conf/_ext/nnbook_bib.py: plain entries, author-year labels
bibtex_reference_style = "author_year_round"   # (Ioffe and Szegedy, 2015)

# --- autodoc (API reference) -------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"          # the numpy-style docstrings state types and shapes
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_param = False          # keep "ndarray of shape (N, D)" as text, not as broken xrefs
napoleon_use_rtype = False
napoleon_use_ivar = True
# Names from outside the book (numpy, typing, builtins) have no inventory offline.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|npt|typing|collections|builtins|matplotlib)(\..*)?"),
    (r"py:.*", r"(ndarray|array_like|ArrayLike|NDArray|Array|callable|optional|mapping|Generator|Any|Literal)"),
    (r"py:.*", r"(int|float|str|bool|tuple|list|dict|None|Sequence|Iterable|Iterator|Callable)"),
    # Napoleon turns the words of a type phrase ("ndarray of shape (N, D)") into class references;
    # undotted words are never nnmath objects, so only dotted targets (nnmath.x.Y) are checked.
    (r"py:class", r"[^.]*"),
]

# --- finding one's way --------------------------------------------------------------------------
# sphinx-tippy: previews built from the site's own pages, scripts served from _static/vendor
# (Popper and Tippy, pinned in package.json); the Wikipedia and DOI tips would fetch from the
# network at build time, so they are off.
tippy_js = ("vendor/popper.min.js", "vendor/tippy-bundle.umd.min.js")
tippy_enable_wikitips = False
tippy_enable_doitips = False
tippy_enable_mathjax = True
tippy_tip_selector = "figure, table, img, p, aside, div.admonition, div.citation, div.math"
tippy_props = {"placement": "auto-start", "maxWidth": 520, "interactive": False}
tippy_anchor_parent_selector = "article.bd-article"   # previews in the text, not in the navigation
# sphinx-codeautolink: cells build on the cells before them; API entries list where they are used.
codeautolink_concat_default = True
codeautolink_autodoc_inject = True
codeautolink_warn_on_failed_resolve = False

# --- HTML ------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "Neural Network Mathematics"
html_static_path = ["_static"]
html_css_files = ["nnbook.css"]
html_favicon = "_static/favicon.svg"
html_last_updated_fmt = None          # no build timestamps: two builds give the same pages
html_copy_source = True
html_show_sourcelink = False
html_theme_options = {
    "repository_url": repository_url,
    "repository_branch": repository_branch,
    "path_to_docs": "book",
    "use_repository_button": True,
    "use_edit_page_button": True,
    "use_issues_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
    "navbar_persistent": [],        # one search box (see html_sidebars)
    # Colab/Binder open the generated .ipynb (nnbook rewrites the .md links the theme builds).
    "launch_buttons": {
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
}
html_context = {"default_mode": "auto"}
# One search box: the theme's header button (visible at every width), not also the sidebar field.
html_sidebars = {"**": ["navbar-logo.html", "icon-links.html", "sbt-sidebar-nav.html"]}
# MathJax 3 is copied from the django-static-mathjax wheel into _static/mathjax by nnbook,
# so math renders with no network access.
mathjax_path = "mathjax/tex-chtml.js"
# Screen readers read the hidden MathML that MathJax puts next to each rendered formula.
mathjax3_config = {"options": {"enableAssistiveMml": True}}

# The site offers the PDF edition when it was built first (make site; the Pages workflow does):
# NNBOOK_PDF names the file, which is copied to the site's root and added to the download menu.
nnbook_pdf = os.environ.get("NNBOOK_PDF", "")
html_extra_path = [str(Path(nnbook_pdf).parent)] if nnbook_pdf else []

# --- LaTeX / PDF (make pdf) ------------------------------------------------------------------------
# (nnbook_pdf.py dates the title page with the commit's date, not the build's.)
latex_engine = "xelatex"
latex_documents = [("index", "neural-network-mathematics.tex", project, author, "manual", False)]
latex_toplevel_sectioning = "chapter"
latex_use_xindy = False        # Debian's xindy is not needed: there is no index, and makeindex ships with TeX Live
latex_show_urls = "no"
latex_elements = {
    "papersize": "a4paper",
    "pointsize": "10pt",
    # Sphinx wraps every display equation in amsmath's split, which allows one alignment column;
    # MathJax accepts more (the web pages use them, e.g. TransformerEncoderLayer's docstring).
    # aligned takes any number of columns and sits in the equation the same way.
    # Code in \footnotesize: a line of 88 columns fits the A4 text width without wrapping.
    "preamble": r"\usepackage{amssymb}\AtBeginDocument{\let\split\aligned\let\endsplit\endaligned}"
                r"\fvset{fontsize=\footnotesize}",
    "sphinxsetup": "verbatimwrapslines=true, verbatimforcewraps=true",
    "printindex": "",
    "makeindex": "",               # no index (and no makeindex run)
}

# --- strictness ------------------------------------------------------------------------------------
nitpicky = True
suppress_warnings = ["mystnb.unknown_mime_type", *suppress_warnings_preview]
