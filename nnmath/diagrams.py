"""Diagrams drawn by code: data flow and block structure, where a picture explains better than prose.

Each diagram is a function that draws on a matplotlib :class:`~matplotlib.axes.Axes` (and returns
it), in the book's palette (:data:`nnmath.plotting.PALETTE`), with the symbols of the preface's
notation table. The helpers :func:`box`, :func:`arrow` and :func:`node` are the shared vocabulary:
a rounded box with a label and an optional shape line, an arrow between two points, a small circle
with a symbol (⊕ for an addition). Coordinates are data coordinates of an axes whose frame is
switched off by :func:`blank`.

Nothing here is measured; the shapes written into the diagrams are the ones the chapters check on
real forward passes.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .plotting import PALETTE

__all__ = ["blank", "box", "arrow", "node", "multihead_attention_diagram",
           "transformer_layer_diagram"]

#: Fill colours (light tints of the palette) by role.
FILLS = {
    "input": "#ffffff",
    "linear": "#d6e6f4",     # a learned linear map (tint of PALETTE[0])
    "reshape": "#eeeeee",    # no arithmetic, only a view
    "attention": "#fbe6c2",  # scores, softmax, weighted sum (tint of PALETTE[1])
    "norm": "#cfeee4",       # layer normalization (tint of PALETTE[2])
    "mlp": "#f6d6c6",        # position-wise feed-forward network (tint of PALETTE[3])
}
INK = "#222222"


def blank(ax: Axes, xlim: tuple[float, float], ylim: tuple[float, float]) -> Axes:
    """Prepare ``ax`` for a diagram: fixed limits, equal aspect, no frame, ticks or grid."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def box(ax: Axes, x: float, y: float, text: str, *, shape: str | None = None,
        width: float = 2.6, height: float = 0.8, role: str = "linear",
        fontsize: float = 9) -> tuple[float, float, float, float]:
    """Draw a rounded box centred at ``(x, y)`` with ``text`` and, below it, a smaller ``shape``.

    Returns the box's ``(left, bottom, right, top)``, for attaching arrows.
    """
    if role not in FILLS:
        raise ValueError(f"role must be one of {sorted(FILLS)}, got {role!r}")
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=FILLS[role], edgecolor=INK, linewidth=0.9))
    if shape is None:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK)
    else:
        ax.text(x, y + 0.14 * height, text, ha="center", va="center", fontsize=fontsize,
                color=INK)
        ax.text(x, y - 0.25 * height, shape, ha="center", va="center",
                fontsize=fontsize - 1.5, color=PALETTE[0])
    return x - width / 2, y - height / 2, x + width / 2, y + height / 2


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], *,
          color: str = INK, style: str = "-|>", connection: str = "arc3") -> None:
    """Draw an arrow from ``start`` to ``end`` (``connection``: a matplotlib connection style)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9,
                                 color=color, linewidth=0.9, shrinkA=0, shrinkB=0,
                                 connectionstyle=connection))


def node(ax: Axes, x: float, y: float, symbol: str = "+", radius: float = 0.22) -> None:
    """Draw a small circle at ``(x, y)`` with ``symbol`` inside (an addition node by default)."""
    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor=INK, linewidth=0.9))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=10, color=INK)


def multihead_attention_diagram(ax: Axes) -> Axes:
    """Multi-head attention's data flow, from the three inputs to the output, with every shape.

    Notation (the preface's table): batch ``N``, query length ``T``, key length ``S``, model width
    ``d``, heads ``n_h``, per-head widths ``d_k = d_v = d / n_h``, scores
    ``A = Q K^T / sqrt(d_k)`` and weights ``P = softmax(A + M)``. The flow is drawn top to bottom,
    exactly as ``MultiheadAttention.forward`` computes it (batch-first shapes, as in nnmath).
    """
    blank(ax, (-0.2, 10.2), (-0.6, 10.9))
    cols = {"q": 1.6, "k": 5.0, "v": 8.4}
    rows = [10.2, 8.8, 7.4]
    length = {"q": "T", "k": "S", "v": "S"}
    width = {"q": "d_k", "k": "d_k", "v": "d_v"}
    upper = {"q": "Q", "k": "K", "v": "V"}
    for key, x in cols.items():
        n = length[key]
        box(ax, x, rows[0], f"input $X_{key}$", shape=f"$({'N'}, {n}, d)$", role="input")
        box(ax, x, rows[1], f"$X_{key} W^{upper[key]} + b^{upper[key]}$",
            shape=f"$(N, {n}, d)$", role="linear")
        box(ax, x, rows[2], "split heads", shape=f"$(N, n_h, {n}, {width[key]})$",
            role="reshape")
        arrow(ax, (x, rows[0] - 0.4), (x, rows[1] - 0.4 + 0.8))
        arrow(ax, (x, rows[1] - 0.4), (x, rows[2] + 0.4))
    y_a, y_p, y_o, y_m, y_out = 5.9, 4.5, 3.1, 1.7, 0.3
    xa = (cols["q"] + cols["k"]) / 2
    box(ax, xa, y_a, r"$A = QK^\top/\sqrt{d_k}$", shape="$(N, n_h, T, S)$",
        role="attention", width=3.0)
    box(ax, xa, y_p, r"$P = \mathrm{softmax}(A + M)$", shape="$(N, n_h, T, S)$",
        role="attention", width=3.0)
    xo = (xa + cols["v"]) / 2 + 0.6
    box(ax, xo, y_o, r"$O_h = P\,V_h$", shape="$(N, n_h, T, d_v)$", role="attention",
        width=3.0)
    box(ax, xo, y_m, "merge heads", shape=r"$(N, T, n_h d_v) = (N, T, d)$", role="reshape",
        width=3.4)
    box(ax, xo, y_out, r"$[O_1,\dots,O_{n_h}]\,W^O + b^O$", shape="$(N, T, d)$",
        role="linear", width=3.4)
    arrow(ax, (cols["q"], rows[2] - 0.4), (xa - 0.8, y_a + 0.4))
    arrow(ax, (cols["k"], rows[2] - 0.4), (xa + 0.8, y_a + 0.4))
    arrow(ax, (xa, y_a - 0.4), (xa, y_p + 0.4))
    arrow(ax, (xa, y_p - 0.4), (xo - 0.8, y_o + 0.4))
    arrow(ax, (cols["v"], rows[2] - 0.4), (xo + 0.8, y_o + 0.4))
    arrow(ax, (xo, y_o - 0.4), (xo, y_m + 0.4))
    arrow(ax, (xo, y_m - 0.4), (xo, y_out + 0.4))
    ax.text(xa - 1.7, y_p - 0.9, "one attention per\n(example, head)", ha="center",
            va="center", fontsize=7.5, color="#555555")
    return ax


def transformer_layer_diagram(ax: Axes, norm_first: bool = False) -> Axes:
    """One transformer encoder layer, Post-LN (``norm_first=False``) or Pre-LN, bottom to top.

    The residual stream runs up the left; each branch (self-attention SA, feed-forward FF) leaves
    it, and its output is added back at a ⊕. Post-LN normalizes the stream *after* each addition,
    ``LN(x + SA(x))``; Pre-LN normalizes only the branch's input, ``x + SA(LN(x))``, so the stream
    itself is never normalized. Shapes are ``(N, T, d)`` throughout.
    """
    blank(ax, (-0.6, 5.6), (-0.5, 10.6))
    xs, xb = 0.6, 3.3                       # residual stream and branch columns
    box(ax, xs, 0.2, "$x$", shape="$(N, T, d)$", role="input", width=1.8)
    y = 0.6
    for name, role in (("SA", "attention"), ("FF", "mlp")):
        y_branch, y_add = y + 1.6, y + 3.2
        # the stream goes up to the addition; the branch leaves it below
        arrow(ax, (xs, y), (xs, y_add - 0.22), style="-")
        arrow(ax, (xs, y_add - 0.5), (xs, y_add - 0.22))
        if norm_first:
            box(ax, xb, y + 0.8, "LN", role="norm", width=1.6, height=0.6)
            box(ax, xb, y_branch + 0.5, name, role=role, width=1.6, height=0.7)
            arrow(ax, (xs, y + 0.3), (xb, y + 0.5), connection="angle,angleA=0,angleB=90")
            arrow(ax, (xb, y + 1.1), (xb, y_branch + 0.15))
            arrow(ax, (xb, y_branch + 0.85), (xs + 0.22, y_add),
                  connection="angle,angleA=90,angleB=0")
        else:
            box(ax, xb, y_branch, name, role=role, width=1.6, height=0.7)
            arrow(ax, (xs, y + 0.3), (xb, y_branch - 0.35), connection="angle,angleA=0,angleB=90")
            arrow(ax, (xb, y_branch + 0.35), (xs + 0.22, y_add),
                  connection="angle,angleA=90,angleB=0")
        node(ax, xs, y_add)
        if norm_first:
            y = y_add + 0.22
        else:
            box(ax, xs, y_add + 0.9, "LN", role="norm", width=1.2, height=0.6)
            arrow(ax, (xs, y_add + 0.22), (xs, y_add + 0.6))
            y = y_add + 1.2
    arrow(ax, (xs, y), (xs, 9.7))
    ax.text(xs, 10.0, "$y$  $(N, T, d)$", ha="center", va="center", fontsize=9, color=INK)
    ax.set_title("Pre-LN" if norm_first else "Post-LN", fontsize=11)
    return ax

