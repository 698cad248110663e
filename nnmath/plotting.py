"""The book's figure style: one place that decides how every figure looks.

:func:`use_book_style` is called at the top of every chapter. It makes figures

* crisp on high-DPI screens — inline output is SVG (vector);
* readable in the theme's dark mode — an opaque white figure background with dark ink, so a
  figure never shows black text on a dark page;
* deterministic — a fixed SVG hash salt and no creation date, so two builds write identical files;
* colour-blind safe — the Okabe–Ito palette.

It also draws the graphs recorded by :mod:`nnmath.autodiff` (:func:`export_graph`,
:func:`draw_graph`), so that the engine's module holds the engine alone.

Because this file is part of nnmath, editing it changes the source hash that keys the book's
execution cache: every chapter is re-executed and no figure is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import matplotlib as mpl
import numpy as np

from .autodiff import Grad, Tensor, _topological_order

__all__ = ["PALETTE", "use_book_style", "export_graph", "draw_graph"]

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


# --- graph export and drawing ---------------------------------------------------------------
def export_graph(root: Tensor) -> dict[str, list[dict[str, Any]]]:
    """The recorded graph of ``root`` as plain data, for drawing or inspection.

    Returns
    -------
    dict
        ``"nodes"``: one dict per tensor, in topological order (parents first), with ``id``
        (its index in that order), ``name``, ``op`` (``""`` for a leaf), ``shape``, ``value`` and
        ``grad`` (copies; ``grad`` is ``None`` before ``backward``).
        ``"edges"``: one dict per (parent, child) use, with ``source`` and ``target`` ids,
        ``value`` (the parent's value, flowing forwards) and ``grad`` (the contribution this use
        sends back to the parent: the child's VJP applied to ``child.grad``; ``None`` before
        ``backward``). A parent's edge gradients sum to its ``grad`` — after *one* ``backward``.
    """
    order = _topological_order(root)
    ids = {id(n): i for i, n in enumerate(order)}
    nodes, edges = [], []
    for node in order:
        nodes.append(dict(id=ids[id(node)], name=node.name or "", op=node.op, shape=node.shape,
                          value=node.data.copy(), grad=None if node.grad is None else node.grad.copy()))
        if not node.parents:
            continue
        contrib: Sequence[Grad] = [None] * len(node.parents)
        if node.grad is not None and node._vjp is not None:
            contrib = node._vjp(node.grad)
        for parent, pg in zip(node.parents, contrib):
            edges.append(dict(source=ids[id(parent)], target=ids[id(node)], value=parent.data.copy(),
                              grad=None if (pg is None or not parent.requires_grad) else np.array(pg)))
    return {"nodes": nodes, "edges": edges}


_OP_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "/", "matmul": "@"}


def _fmt(a: np.ndarray | None, fmt: str) -> str:
    """A scalar as a number, an array by its shape (``3×4``)."""
    if a is None:
        return "–"
    a = np.asarray(a)
    return format(float(a.reshape(())), fmt) if a.size == 1 else "×".join(map(str, a.shape)) or "()"


def _label(node: dict[str, Any], parents: list[dict[str, Any]], fmt: str) -> str:
    """``name = expression`` for an operation (``u = a × b``), the name or value for a leaf."""
    if not node["op"]:
        return node["name"] or "const"
    short = [p["name"] or (p["op"] if p["op"] else _fmt(p["value"], fmt)) for p in parents]
    if node["op"] in _OP_SYMBOLS and len(short) == 2:
        expr = f"{short[0]} {_OP_SYMBOLS[node['op']]} {short[1]}"
    else:
        expr = f"{node['op']}({', '.join(short)})"
    if len(expr) > 16:
        expr = node["op"]
    return f"{node['name']} = {expr}" if node["name"] else expr


def _layout(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[int, tuple[int, float]]:
    """Columns and rows for a layered drawing: (column, row) per node id.

    An operation's column is one more than its parents' largest; a leaf sits just before its first
    consumer, so that no edge from a leaf passes through a column of boxes needlessly. Rows are
    ordered by a few sweeps of the barycentre heuristic (mean row of the neighbours), which removes
    most edge crossings in small graphs.
    """
    parents: dict[int, list[int]] = {n["id"]: [] for n in nodes}
    children: dict[int, list[int]] = {n["id"]: [] for n in nodes}
    for e in edges:
        parents[e["target"]].append(e["source"])
        children[e["source"]].append(e["target"])
    col: dict[int, int] = {}
    for n in nodes:   # topological order: parents first
        col[n["id"]] = 1 + max((col[p] for p in parents[n["id"]]), default=-1)
    for n in nodes:
        i = n["id"]
        if not parents[i] and children[i]:
            col[i] = min(col[c] for c in children[i]) - 1
    columns: dict[int, list[int]] = {}
    for n in nodes:
        columns.setdefault(col[n["id"]], []).append(n["id"])
    row = {i: float(k) for ids in columns.values() for k, i in enumerate(ids)}
    for sweep in range(4):
        for c in sorted(columns, reverse=bool(sweep % 2)):
            ids = columns[c]
            nbrs = {i: (parents[i] if sweep % 2 == 0 else children[i]) or parents[i] + children[i] for i in ids}
            key = {i: (float(np.mean([row[j] for j in nbrs[i]])) if nbrs[i] else row[i]) for i in ids}
            ids.sort(key=lambda i: key[i])
            for k, i in enumerate(ids):
                row[i] = float(k)
    return {i: (col[i], (len(columns[col[i]]) - 1) / 2.0 - row[i]) for i in col}


def _clip_to_box(center: np.ndarray, toward: np.ndarray, w: float, h: float) -> np.ndarray:
    """Where the segment from a box's centre towards ``toward`` leaves the box (w x h, a margin added)."""
    d = toward - center
    scale = [(w / 2 + 0.03) / abs(d[0]) if d[0] else np.inf, (h / 2 + 0.03) / abs(d[1]) if d[1] else np.inf]
    return center + min(min(scale), 1.0) * d


def draw_graph(root: Tensor, ax: Any = None, *, fmt: str = ".3g", rankdir: Literal["LR", "TB"] = "LR",
               node_color: str = "#F2F2F2", grad_color: str = "#D55E00") -> Any:
    """Draw ``root``'s recorded graph with matplotlib (no graphviz needed).

    Each tensor is a box with its name, the operation that made it (``u = a × b``) and its value;
    its gradient :math:`\\partial L/\\partial u` is written under the box in ``grad_color``. Each edge
    (parent → child) carries the parent's value flowing forwards (above the edge, dark) and the
    gradient that this use sends back (below, in ``grad_color``), as :func:`export_graph` computes
    them; a node used twice has two outgoing edges whose gradients add up to its own. Arrays that
    are not scalars are shown by their shape. Edges that skip columns are drawn as arcs.

    Parameters
    ----------
    root : Tensor
        Usually a scalar loss, after ``root.backward()`` so that the gradients are known.
    ax : matplotlib Axes, optional
        Drawn into a new figure when omitted.
    fmt : str
        Format spec for the numbers.
    rankdir : {"LR", "TB"}
        Inputs on the left and the output on the right (default), or inputs at the top.
    node_color, grad_color : str
        Fill of the boxes; colour of everything that is a gradient.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    g = export_graph(root)
    nodes, edges = g["nodes"], g["edges"]
    by_id = {n["id"]: n for n in nodes}
    grid = _layout(nodes, edges)
    pos = {i: ((float(c), r) if rankdir == "LR" else (r, -float(c))) for i, (c, r) in grid.items()}
    if ax is None:
        n_cols = 1 + max(c for c, _ in grid.values())
        n_rows = max(sum(1 for c2, _ in grid.values() if c2 == c) for c in range(n_cols))
        size = (1.8 * n_cols, 1.2 * n_rows + 0.8) if rankdir == "LR" else (1.8 * n_rows + 0.8, 1.2 * n_cols)
        _, ax = plt.subplots(figsize=(max(size[0], 4.0), max(size[1], 2.0)))
    ax.set_axis_off()
    w, h = 0.62, 0.34   # box size in data units (columns are 1 apart)
    for n in nodes:
        x, y = pos[n["id"]]
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=node_color,
                             ec="#333333", lw=0.8, zorder=2)
        ax.add_patch(box)
        parents = [by_id[e["source"]] for e in edges if e["target"] == n["id"]]
        ax.text(x, y, f"{_label(n, parents, fmt)}\n{_fmt(n['value'], fmt)}", ha="center", va="center",
                fontsize=8.5, color="#111111", zorder=3)
        if n["grad"] is not None:
            ax.text(x, y - h / 2 - 0.04, f"∂ {_fmt(n['grad'], fmt)}", ha="center", va="top", fontsize=8,
                    color=grad_color, zorder=3)
    for e in edges:
        p0, p1 = np.array(pos[e["source"]]), np.array(pos[e["target"]])
        span = abs(grid[e["target"]][0] - grid[e["source"]][0])
        # an edge that skips columns arcs around the boxes in between (away from the middle): a
        # quadratic Bezier curve in data coordinates, so that its midpoint is known exactly
        bend = 0.0 if span <= 1 else (0.25 if (p0[1] >= p1[1]) == (rankdir == "LR") else -0.25)
        d = p1 - p0
        ctrl = (p0 + p1) / 2 + bend * np.array([-d[1], d[0]]) * (1 if rankdir == "LR" else -1)
        start, end = _clip_to_box(p0, ctrl, w, h), _clip_to_box(p1, ctrl, w, h)
        path = Path([start, ctrl, end], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=11, color="#555555",
                                     lw=1.0, zorder=1))
        xm, ym = 0.25 * start + 0.5 * ctrl + 0.25 * end
        ax.text(xm, ym + 0.03, _fmt(e["value"], fmt), ha="center", va="bottom", fontsize=8, color="#111111")
        if e["grad"] is not None:
            ax.text(xm, ym - 0.03, _fmt(e["grad"], fmt), ha="center", va="top", fontsize=8, color=grad_color)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.55, max(ys) + 0.55 + (0.35 if rankdir == "LR" else 0.0))
    return ax
