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
