"""The book's figure style: one place that decides how every figure looks.

:func:`use_book_style` is called at the top of every chapter. It makes figures

* crisp on high-DPI screens — inline output is SVG (vector);
* readable in the theme's dark mode — an opaque white figure background with dark ink, so a
  figure never shows black text on a dark page;
* deterministic — a fixed SVG hash salt and no creation date, so two builds write identical files;
* colour-blind safe — the Okabe–Ito palette.

Because this file is part of nnmath, editing it changes the source hash that keys the book's
execution cache: every chapter is re-executed and no figure is stale.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl

__all__ = ["PALETTE", "use_book_style"]

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

BOOK_RC: dict[str, Any] = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.constrained_layout.use": True,
    "savefig.facecolor": "white",
    "savefig.bbox": "tight",
    "axes.facecolor": "white",
    "axes.edgecolor": "#333333",
    "axes.labelcolor": "#111111",
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "font.size": 10,
    "image.cmap": "viridis",
    "svg.hashsalt": "nnmath-book",   # deterministic ids inside SVG files
    "svg.fonttype": "path",          # text as paths: renders the same without the fonts installed
}


def use_book_style(inline_svg: bool = True) -> None:
    """Apply the book's matplotlib style; in IPython, also emit figures as date-free SVG."""
    mpl.rcParams.update(BOOK_RC)
    if not inline_svg:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to configure
        return
    ip = get_ipython()
    if ip is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    # metadata Date=None: no timestamp in the SVG, so rebuilding gives byte-identical figures
    set_matplotlib_formats("svg", metadata={"Date": None})
