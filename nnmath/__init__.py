"""nnmath: the operations of *Neural Network Mathematics*, with derived backward passes.

Functional ops come in pairs — ``out, cache = op(...)`` and ``grads = op_backward(dout, cache)``
— and thin :class:`Module` classes with PyTorch's names wrap them. Everything is NumPy, float64 by
default. ``import nnmath as nm`` gives the whole public API; ``nm.init``, ``nm.data`` and
``nm.plotting`` are also reachable as submodules.
"""

from . import data, init, plotting
from . import diagrams  # noqa: F401  (after plotting: it uses the palette)
from .activations import *  # noqa: F403
from .attention import *  # noqa: F403
from .autodiff import *  # noqa: F403
from .claims import *  # noqa: F403
from .clipping import *  # noqa: F403
from .conv import *  # noqa: F403
from .diagnostics import *  # noqa: F403
from .dropout import *  # noqa: F403
from .gradcheck import *  # noqa: F403
from .init import *  # noqa: F403
from .linear import *  # noqa: F403
from .losses import *  # noqa: F403
from .models import *  # noqa: F403
from .module import *  # noqa: F403
from .normalization import *  # noqa: F403
from .optim import *  # noqa: F403
from .residual import *  # noqa: F403
from .rng import *  # noqa: F403
from .training import *  # noqa: F403
from .transformer import *  # noqa: F403
from .vit import *  # noqa: F403

__version__ = "0.1.0"
