"""PyTorch parity for the core (float64): same inputs give the same outputs and the same gradients.

nnmath's ``Linear.weight`` is ``(in, out)``, the transpose of ``torch.nn.Linear.weight``; everything
else uses PyTorch's names, defaults and semantics. Skipped when torch is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-12, 1e-14



def T(a: np.ndarray, grad: bool = False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(ours, theirs, rtol: float = RTOL, atol: float = ATOL) -> None:
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=rtol, atol=atol)


ACTIVATIONS = [
    ("sigmoid", nm.sigmoid, nm.sigmoid_backward, {}, torch.sigmoid, {}),
    ("tanh", nm.tanh, nm.tanh_backward, {}, torch.tanh, {}),
    ("relu", nm.relu, nm.relu_backward, {}, F.relu, {}),
    ("leaky_relu", nm.leaky_relu, nm.leaky_relu_backward, {}, F.leaky_relu, {}),
    ("leaky_relu_0.2", nm.leaky_relu, nm.leaky_relu_backward, {"negative_slope": 0.2}, F.leaky_relu,
     {"negative_slope": 0.2}),
    ("gelu", nm.gelu, nm.gelu_backward, {}, F.gelu, {}),
    ("gelu_tanh", nm.gelu, nm.gelu_backward, {"approximate": "tanh"}, F.gelu, {"approximate": "tanh"}),
    ("softmax", nm.softmax, nm.softmax_backward, {}, F.softmax, {"dim": -1}),
    ("softmax_dim0", nm.softmax, nm.softmax_backward, {"axis": 0}, F.softmax, {"dim": 0}),
    ("log_softmax", nm.log_softmax, nm.log_softmax_backward, {}, F.log_softmax, {"dim": -1}),
]


@pytest.mark.parametrize("name,op,back,kw,top,tkw", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_parity(name, op, back, kw, top, tkw, rng):
    x = 3 * rng.standard_normal((5, 4))
    x[0, :2] = [-1000.0, 1000.0]            # extreme values too
    x[1, 0] = 0.0                           # and the kink: both libraries take relu'(0) = 0
    out, cache = op(x, **kw)
    xt = T(x, grad=True)
    yt = top(xt, **tkw)
    close(out, yt)
    dout = rng.standard_normal(out.shape)
    yt.backward(T(dout))
    close(back(dout, cache), xt.grad)


@pytest.mark.parametrize("module,tmodule", [
    (nm.Sigmoid(), torch.nn.Sigmoid()), (nm.Tanh(), torch.nn.Tanh()), (nm.ReLU(), torch.nn.ReLU()),
    (nm.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)), (nm.GELU(), torch.nn.GELU()),
    (nm.GELU("tanh"), torch.nn.GELU("tanh")), (nm.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nm.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
], ids=lambda m: repr(m))
def test_activation_module_parity(module, tmodule, rng):
    x = rng.standard_normal((3, 5))
    close(module(x), tmodule(T(x)))


@pytest.mark.parametrize("xshape", [(1, 4), (6, 4), (2, 3, 4)])
def test_linear_parity_weight_is_transposed(xshape, rng):
    ours = nm.Linear(4, 3, rng=rng)
    theirs = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        theirs.weight.copy_(T(ours.weight.data.T))    # torch stores (out, in)
        theirs.bias.copy_(T(ours.bias.data))
    x = rng.standard_normal(xshape)
    xt = T(x, grad=True)
    yt = theirs(xt)
    y = ours(x)
    close(y, yt)
    dout = rng.standard_normal(y.shape)
    yt.backward(T(dout))
    close(ours.backward(dout), xt.grad)
    close(ours.weight.grad, theirs.weight.grad.T)
    close(ours.bias.grad, theirs.bias.grad)


def test_linear_init_distribution_matches_pytorch_bounds():
    """Not the same numbers (different generators) but the same law: U(+-1/sqrt(in)) for W and b."""
    torch.manual_seed(0)
    tw = torch.nn.Linear(64, 32).weight.detach().numpy()
    ow = nm.Linear(64, 32, rng=np.random.default_rng(0)).weight.data
    assert abs(np.abs(tw).max() - np.abs(ow).max()) < 0.01 and np.abs(ow).max() <= 1 / 8


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_parity(reduction, rng):
    yhat, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    z, p = 4 * rng.standard_normal((5, 3)), rng.random((5, 3))
    z[0, :2] = [1000.0, -1000.0]
    labels = rng.integers(0, 3, size=5)
    soft = rng.random((5, 3))
    soft /= soft.sum(axis=1, keepdims=True)
    cases = [
        (nm.mse_loss, nm.mse_loss_backward, yhat, y, F.mse_loss, T(y)),
        (nm.binary_cross_entropy_with_logits, nm.binary_cross_entropy_with_logits_backward, z, p,
         F.binary_cross_entropy_with_logits, T(p)),
        (nm.cross_entropy, nm.cross_entropy_backward, z, labels, F.cross_entropy, torch.tensor(labels)),
        (nm.cross_entropy, nm.cross_entropy_backward, z, soft, F.cross_entropy, T(soft)),
    ]
    for fn, back, inp, target, tfn, ttarget in cases:
        loss, cache = fn(inp, target, reduction=reduction)
        it = T(inp, grad=True)
        lt = tfn(it, ttarget, reduction=reduction)
        close(loss, lt)
        dout = rng.standard_normal(np.shape(loss))
        lt.backward(T(dout))
        close(back(dout, cache), it.grad)


@pytest.mark.parametrize("loss_name", ["mse", "ce"])
def test_two_layer_network_and_sgd_steps_parity(loss_name, rng):
    """The chapter's network trained for three SGD steps (momentum, Nesterov, weight decay) in both
    libraries: identical losses and parameters."""
    ours = nm.Sequential(nm.Linear(3, 5, rng=rng), nm.Sigmoid(), nm.Linear(5, 2, rng=rng))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 2)).double()
    with torch.no_grad():
        for i in (0, 2):
            theirs[i].weight.copy_(T(ours[i].weight.data.T))
            theirs[i].bias.copy_(T(ours[i].bias.data))
    x = rng.standard_normal((8, 3))
    y = rng.standard_normal((8, 2)) if loss_name == "mse" else rng.integers(0, 2, size=8)
    loss_fn = nm.MSELoss() if loss_name == "mse" else nm.CrossEntropyLoss()
    tloss_fn = torch.nn.MSELoss() if loss_name == "mse" else torch.nn.CrossEntropyLoss()
    ty = T(y) if loss_name == "mse" else torch.tensor(y)
    kw = dict(lr=0.3, momentum=0.9, weight_decay=1e-2, nesterov=True)
    opt, topt = nm.SGD(ours.parameters(), **kw), torch.optim.SGD(theirs.parameters(), **kw)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        loss = loss_fn(ours(x), y)
        ours.backward(loss_fn.backward())
        tloss = tloss_fn(theirs(T(x)), ty)
        tloss.backward()
        close(loss, tloss)
        opt.step()
        topt.step()
    for i in (0, 2):
        close(ours[i].weight.data, theirs[i].weight.T)
        close(ours[i].bias.data, theirs[i].bias)


def test_autodiff_engine_parity_with_torch_autograd(rng):
    """The engine records and differentiates like torch.autograd: a scalar expression with a reused
    node, broadcasting, reductions and a matrix product."""
    a0, b0, W0 = rng.standard_normal((3, 1)), rng.standard_normal(4), rng.standard_normal((4, 2))
    a, b, W = (nm.Tensor(v, requires_grad=True) for v in (a0, b0, W0))
    at, bt, Wt = (T(v, grad=True) for v in (a0, b0, W0))

    def expr(a, b, W, exp, tanh):
        h = tanh(a * b + a)                  # (3, 4): a broadcast and used twice
        return (exp((h @ W) * 0.5) / (h.sum() ** 2 + 1.0)).mean()

    L = expr(a, b, W, lambda t: t.exp(), lambda t: t.tanh())
    Lt = expr(at, bt, Wt, torch.exp, torch.tanh)
    assert L.item() == pytest.approx(Lt.item(), rel=1e-14)
    L.backward()
    Lt.backward()
    for ours, theirs in [(a, at), (b, bt), (W, Wt)]:
        close(ours.grad, theirs.grad)


def test_autodiff_composites_parity(rng):
    z0 = 3 * rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, size=4)
    z, zt = nm.Tensor(z0, requires_grad=True), T(z0, grad=True)
    L = nm.autodiff.cross_entropy(nm.autodiff.gelu(z), labels) + nm.autodiff.sigmoid(z).mean()
    Lt = F.cross_entropy(F.gelu(zt), torch.tensor(labels)) + torch.sigmoid(zt).mean()
    assert L.item() == pytest.approx(Lt.item(), rel=1e-13)
    L.backward()
    Lt.backward()
    close(z.grad, zt.grad)
