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



# --- convolution geometry and im2col (the convolution chapter) ------------------------------
_WINDOW_TINTS = ["#d6e6f4", "#fbe6c2", "#cfeee4", "#f6d6c6"]   # tints of PALETTE[0..3]


def _grid(ax: Axes, x0: float, y0: float, rows: int, cols: int, *, fill: str = "#ffffff",
          cell: float = 1.0) -> None:
    """``rows x cols`` square cells with their top-left corner at ``(x0, y0)`` (y grows upwards)."""
    from matplotlib.patches import Rectangle

    for i in range(rows):
        for j in range(cols):
            ax.add_patch(Rectangle((x0 + j * cell, y0 - (i + 1) * cell), cell, cell,
                                   facecolor=fill, edgecolor="#999999", linewidth=0.6))


def conv_geometry_diagram(ax: Axes, n: int = 5, k: int = 3, padding: int = 1, stride: int = 2,
                          dilation: int = 1, windows: int = 3) -> Axes:
    r"""Padding, stride and dilation on one axis pair: the padded input and the output grid.

    The input is ``n x n`` (white), surrounded by ``padding`` rings of zeros (grey). The first
    ``windows`` placements of the dilated kernel in reading order are outlined in the palette's
    colours, with a dot on each of the ``k x k`` taps; the output cell that each placement
    computes is filled with the same colour. The output size is ``nnmath.conv_output_size``,
    :math:`\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1`, so the picture is the chapter's formula.
    """
    from matplotlib.patches import Rectangle

    from .conv import conv_output_size

    n_out = conv_output_size(n, k, stride, padding, dilation)
    if not 1 <= windows <= min(4, n_out * n_out):
        raise ValueError(f"windows must be between 1 and min(4, n_out^2) = {min(4, n_out * n_out)}, "
                         f"got {windows}")
    size = n + 2 * padding
    gap = 2.0
    blank(ax, (-0.5, size + gap + n_out + 0.5), (-1.6, size + 1.2))
    top = float(size)
    _grid(ax, 0.0, top, size, size, fill="#e6e6e6")                    # padding ring(s)
    _grid(ax, float(padding), top - padding, n, n, fill="#ffffff")     # the image itself
    span = dilation * (k - 1) + 1
    for w in range(windows):
        i, j = divmod(w, n_out)
        r0, c0 = i * stride, j * stride
        inset = 0.06 + 0.08 * w
        color = PALETTE[w]
        ax.add_patch(Rectangle((c0 + inset, top - r0 - span + inset), span - 2 * inset,
                               span - 2 * inset, fill=False, edgecolor=color, linewidth=1.8))
        for u in range(k):
            for v in range(k):
                ax.add_patch(Circle((c0 + v * dilation + 0.5 + 0.12 * (w - 1),
                                     top - r0 - u * dilation - 0.5), 0.09, color=color))
    x_out = size + gap
    y_out = top - (size - n_out) / 2
    _grid(ax, x_out, y_out, n_out, n_out)
    for w in range(windows):
        i, j = divmod(w, n_out)
        ax.add_patch(Rectangle((x_out + j, y_out - i - 1), 1, 1, facecolor=_WINDOW_TINTS[w],
                               edgecolor=PALETTE[w], linewidth=1.8))
    arrow(ax, (size + 0.3, top - size / 2), (x_out - 0.3, top - size / 2))
    ax.text(size / 2, -0.8, f"input {n}×{n}, padding p = {padding}", ha="center", fontsize=9,
            color=INK)
    ax.text(size / 2, top + 0.6, f"kernel k = {k}, stride s = {stride}, dilation d = {dilation}",
            ha="center", fontsize=9, color=INK)
    ax.text(x_out + n_out / 2, y_out - n_out - 0.8, f"output {n_out}×{n_out}", ha="center",
            fontsize=9, color=INK)
    return ax


def im2col_diagram(ax: Axes, image_size: int = 3, kernel_size: int = 2) -> Axes:
    r"""im2col on a one-channel ``image_size x image_size`` image with entries 1, 2, 3, ...

    Left, the image with every placement of the ``kernel_size x kernel_size`` kernel (stride 1,
    no padding) outlined in its own colour; right, the column matrix that
    ``nnmath.im2col`` returns for it — ``C_in k_h k_w`` rows (the kernel taps), one column per
    output position, each column tinted like its window — and the product that turns it into the
    layer's output, :math:`W_{(C_{out},\,C_{in}k_hk_w)}\,\mathrm{cols} \to (C_{out}, H_{out}W_{out})`.
    The numbers in the matrix are read from ``im2col``'s result, not typed.
    """
    import numpy as np
    from matplotlib.patches import Rectangle

    from .conv import im2col

    n_out = image_size - kernel_size + 1
    if n_out < 1 or n_out * n_out > 4:
        raise ValueError(f"need 1 <= (image_size - kernel_size + 1)^2 <= 4 windows to colour, got "
                         f"image_size={image_size}, kernel_size={kernel_size}")
    image = np.arange(1.0, image_size**2 + 1).reshape(1, 1, image_size, image_size)
    cols = im2col(image, kernel_size)[0]                       # (k*k, n_out*n_out)
    n_rows, n_cols = cols.shape
    gap = 2.2
    x_m = image_size + gap
    height = max(image_size, n_rows)
    blank(ax, (-0.5, x_m + n_cols + 0.5), (-1.8, height + 1.0))
    top = float(height - (height - image_size) / 2)
    _grid(ax, 0.0, top, image_size, image_size)
    for r in range(image_size):
        for c in range(image_size):
            ax.text(c + 0.5, top - r - 0.5, f"{image[0, 0, r, c]:.0f}", ha="center",
                    va="center", fontsize=9, color=INK)
    for w in range(n_cols):
        i, j = divmod(w, n_out)
        inset = 0.05 + 0.07 * w
        ax.add_patch(Rectangle((j + inset, top - i - kernel_size + inset),
                               kernel_size - 2 * inset, kernel_size - 2 * inset, fill=False,
                               edgecolor=PALETTE[w], linewidth=1.8))
    top_m = float(height)
    for w in range(n_cols):
        for t in range(n_rows):
            ax.add_patch(Rectangle((x_m + w, top_m - t - 1), 1, 1, facecolor=_WINDOW_TINTS[w],
                                   edgecolor="#999999", linewidth=0.6))
            ax.text(x_m + w + 0.5, top_m - t - 0.5, f"{cols[t, w]:.0f}", ha="center",
                    va="center", fontsize=9, color=INK)
        ax.add_patch(Rectangle((x_m + w, top_m - n_rows), 1, n_rows, fill=False,
                               edgecolor=PALETTE[w], linewidth=1.8))
    arrow(ax, (image_size + 0.3, top - image_size / 2), (x_m - 0.3, top - image_size / 2))
    ax.text(image_size / 2, top - image_size - 0.7, f"image {image_size}×{image_size}, "
            f"kernel {kernel_size}×{kernel_size}", ha="center", fontsize=9, color=INK)
    ax.text(x_m + n_cols / 2, top_m - n_rows - 0.7,
            r"cols: $C_{in}k_hk_w$ rows $\times$ $H_{out}W_{out}$ columns", ha="center",
            fontsize=9, color=INK)
    ax.text(x_m + n_cols / 2, top_m - n_rows - 1.5,
            r"output $= W\,\mathrm{cols}$, $W$: $C_{out}\times C_{in}k_hk_w$", ha="center",
            fontsize=9, color=PALETTE[0])
    return ax


__all__ += ["conv_geometry_diagram", "im2col_diagram"]
