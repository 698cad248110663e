"""The diagrams draw: each function fills an Axes with patches and text, and bad input is rejected."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from nnmath import diagrams


def _drawn(ax):
    return len(ax.patches), [t.get_text() for t in ax.texts]


def test_multihead_attention_diagram_draws_every_shape():
    fig, ax = plt.subplots()
    assert diagrams.multihead_attention_diagram(ax) is ax
    n_patches, texts = _drawn(ax)
    assert n_patches > 15
    joined = " ".join(texts)
    for shape in ("$(N, T, d)$", "$(N, S, d)$", "$(N, n_h, T, S)$", "$(N, n_h, T, d_k)$",
                  "$(N, n_h, T, d_v)$"):
        assert shape in joined
    fig.canvas.draw()
    plt.close(fig)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_layer_diagram_places_layer_norms(norm_first):
    fig, ax = plt.subplots()
    diagrams.transformer_layer_diagram(ax, norm_first=norm_first)
    _, texts = _drawn(ax)
    assert texts.count("LN") == 2 and "SA" in texts and "FF" in texts and texts.count("+") == 2
    assert ax.get_title() == ("Pre-LN" if norm_first else "Post-LN")
    # Pre-LN: the layer norms sit on the branches (right column); Post-LN: on the stream (left)
    ln_x = [t.get_position()[0] for t in ax.texts if t.get_text() == "LN"]
    plus_x = [t.get_position()[0] for t in ax.texts if t.get_text() == "+"]
    assert all((x > plus_x[0]) == norm_first for x in ln_x)
    fig.canvas.draw()
    plt.close(fig)


def test_box_rejects_unknown_role():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="role"):
        diagrams.box(ax, 0, 0, "x", role="nonsense")
    plt.close(fig)


# --- convolution geometry and im2col ---------------------------------------------------------
@pytest.mark.parametrize("n, k, p, s, d", [(5, 3, 1, 2, 1), (7, 3, 0, 1, 2), (4, 2, 0, 1, 1)])
def test_conv_geometry_diagram_draws_the_output_size_of_the_formula(n, k, p, s, d):
    import nnmath as nm

    fig, ax = plt.subplots()
    windows = 2
    assert diagrams.conv_geometry_diagram(ax, n=n, k=k, padding=p, stride=s, dilation=d,
                                          windows=windows) is ax
    n_out = nm.conv_output_size(n, k, s, p, d)
    texts = [t.get_text() for t in ax.texts]
    assert f"output {n_out}×{n_out}" in texts
    # cells: padded input + output grid + the filled output cells; a dot per tap per window
    dots = [q for q in ax.patches if type(q).__name__ == "Circle"]
    assert len(dots) == windows * k * k
    assert len(ax.patches) >= (n + 2 * p) ** 2 + n * n + n_out ** 2 + windows
    fig.canvas.draw()
    plt.close(fig)


def test_conv_geometry_diagram_rejects_too_many_windows():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="windows"):
        diagrams.conv_geometry_diagram(ax, n=3, k=3, padding=0, windows=2)   # one placement
    plt.close(fig)


def test_im2col_diagram_writes_the_columns_of_im2col():
    import numpy as np

    import nnmath as nm

    fig, ax = plt.subplots()
    assert diagrams.im2col_diagram(ax, image_size=3, kernel_size=2) is ax
    numbers = [t.get_text() for t in ax.texts if t.get_text().isdigit()]
    cols = nm.im2col(np.arange(1.0, 10.0).reshape(1, 1, 3, 3), 2)[0]
    # the image's 9 entries, then the matrix column by column
    assert numbers[:9] == [str(v) for v in range(1, 10)]
    assert numbers[9:] == [f"{v:.0f}" for v in cols.T.ravel()]
    fig.canvas.draw()
    plt.close(fig)
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="windows"):
        diagrams.im2col_diagram(ax, image_size=4, kernel_size=2)              # 9 windows
    plt.close(fig)
