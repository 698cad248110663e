"""nnmath: the operations of *Neural Network Mathematics*, with derived backward passes.

Functional ops come in pairs — ``out, cache = op(...)`` and ``grads = op_backward(dout, cache)``
— and thin :class:`Module` classes with PyTorch's names wrap them. Everything is NumPy, float64 by
default. ``import nnmath as nm`` gives the whole public API.
"""

from . import plotting
from .activations import *  # noqa: F403
from .gradcheck import *  # noqa: F403
from .linear import *  # noqa: F403
from .losses import *  # noqa: F403
from .module import *  # noqa: F403
from .optim import *  # noqa: F403
from .rng import *  # noqa: F403

__version__ = "0.1.0"
