"""nnmath: the operations of *Neural Network Mathematics*, with derived backward passes.

Functional ops come in pairs — ``out, cache = op(...)`` and ``grads = op_backward(dout, cache)``
— and thin :class:`Module` classes with PyTorch's names wrap them. Everything is NumPy, float64 by
default. ``import nnmath as nm`` gives the whole public API; ``nm.init``, ``nm.data`` and
``nm.plotting`` are also reachable as submodules.

The backward convention, the same for every op:

* ``op_backward`` returns **one gradient per differentiable positional input of** ``op``, **in
  input order**. An op with one differentiable input (every activation, pooling, every loss —
  targets are data — ``embedding``'s table, ``patchify``) returns that gradient as a bare array;
  an op with several returns a tuple of exactly that length — ``linear(x, W, b)`` gives
  ``(dx, dW, db)``, ``batch_norm(x, gamma, beta)`` gives ``(dx, dgamma, dbeta)``,
  ``scaled_dot_product_attention(q, k, v)`` gives ``(dq, dk, dv)`` — whichever of the optional
  inputs were passed.
* An optional input that was omitted (``b``, ``gamma``, ``beta``, ``bias``) gets ``None`` in its
  place: never a shorter tuple. Masks, indices, targets and hyper-parameters are not
  differentiable inputs and get no entry.
* Caches with more than one field are NamedTuples (``cache.p``, ``cache.xhat``), and a module's
  ``backward`` returns the gradient w.r.t. its input(s) and *adds* (``+=``) its parameters'
  gradients into ``Parameter.grad`` (:class:`FunctionalModule` does this for every wrapper).
"""

from . import data, init, plotting, precision
from . import diagrams  # noqa: F401  (after plotting: it uses the palette)
from .activations import *  # noqa: F403
from .amp import *  # noqa: F403
from .attention import *  # noqa: F403
from .autodiff import *  # noqa: F403
from .calibration import *  # noqa: F403
from .claims import *  # noqa: F403
from .clipping import *  # noqa: F403
from .conv import *  # noqa: F403
from .counting import *  # noqa: F403
from .diagnostics import *  # noqa: F403
from .dropout import *  # noqa: F403
from .ensemble import *  # noqa: F403
from .flash import *  # noqa: F403
from .gradcheck import *  # noqa: F403
from .init import *  # noqa: F403
from .linear import *  # noqa: F403
from .lm import *  # noqa: F403
from .losses import *  # noqa: F403
from .meanfield import *  # noqa: F403
from .opcount import *  # noqa: F403
from .models import *  # noqa: F403
from .module import *  # noqa: F403
from .normalization import *  # noqa: F403
from .optim import *  # noqa: F403
from .plotting import draw_graph, export_graph
from .residual import *  # noqa: F403
from .recurrent import *  # noqa: F403
from .rmsnorm import *  # noqa: F403
from .rng import *  # noqa: F403
from .rope import *  # noqa: F403
from .training import *  # noqa: F403
from .transformer import *  # noqa: F403
from .vit import *  # noqa: F403

__version__ = "0.1.0"
