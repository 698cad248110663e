"""Small reference architectures that more than one chapter trains.

The convolution chapter introduces this CNN and the capstone compares the Vision Transformer
with it; building it here keeps the two chapters' models identical by construction.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d, Flatten, MaxPool2d
from .activations import ReLU
from .linear import Linear
from .module import Sequential
from .normalization import BatchNorm2d

__all__ = ["digits_cnn"]


def digits_cnn(channels: tuple[int, int] = (8, 16), num_classes: int = 10,
               rng: np.random.Generator | None = None) -> Sequential:
    """Two conv → batch norm → ReLU → 2×2 max-pool blocks and a linear classifier, for 8×8 images.

    Shapes for input ``(N, 1, 8, 8)``: ``(N, c1, 4, 4)`` after the first block, ``(N, c2, 2, 2)``
    after the second, ``(N, 4 c2)`` flattened, ``(N, num_classes)`` logits. 3×3 kernels with
    padding 1 keep the spatial size until each pool halves it.
    """
    c1, c2 = channels
    return Sequential(
        Conv2d(1, c1, 3, padding=1, rng=rng), BatchNorm2d(c1), ReLU(), MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, rng=rng), BatchNorm2d(c2), ReLU(), MaxPool2d(2),
        Flatten(), Linear(4 * c2, num_classes, rng=rng))
