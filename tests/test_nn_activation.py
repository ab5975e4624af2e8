"""nc.nn activation layers: PyTorch's names and arguments, forward/backward equal to the functions, modes,
PReLU's parameter and state dict (loaded from PyTorch when installed), RReLU's training noise."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import normcore as nc
from conftest import needs_torch

# layer → (function, positional arguments for the layer, the function's keyword equivalents)
CASES = {
    "Identity": ("identity", (), {}),
    "ReLU": ("relu", (), {}),
    "ReLU6": ("relu6", (), {}),
    "Hardtanh": ("hardtanh", (-2.0, 0.5), {"min_val": -2.0, "max_val": 0.5}),
    "LeakyReLU": ("leaky_relu", (0.2,), {"negative_slope": 0.2}),
    "ELU": ("elu", (0.5,), {"alpha": 0.5}),
    "SELU": ("selu", (), {}),
    "CELU": ("celu", (2.0,), {"alpha": 2.0}),
    "GELU": ("gelu", ("tanh",), {"approximate": "tanh"}),
    "SiLU": ("silu", (), {}),
    "Mish": ("mish", (), {}),
    "Sigmoid": ("sigmoid", (), {}),
    "LogSigmoid": ("log_sigmoid", (), {}),
    "Hardsigmoid": ("hardsigmoid", (), {}),
    "Tanh": ("tanh", (), {}),
    "Hardswish": ("hardswish", (), {}),
    "Softplus": ("softplus", (2.0, 5.0), {"beta": 2.0, "threshold": 5.0}),
    "Softsign": ("softsign", (), {}),
    "Softmax": ("softmax", (1,), {"axis": 1}),
    "LogSoftmax": ("log_softmax", (), {"axis": -1}),
    "BinaryStep": ("binary_step", (0.5,), {"threshold": 0.5}),
    "ThresholdedReLU": ("thresholded_relu", (0.3,), {"alpha": 0.3}),
    "Swish": ("swish", (1.5,), {"beta": 1.5}),
    "ArcTan": ("arctan", (), {}),
    "ISRU": ("isru", (2.0,), {"alpha": 2.0}),
    "ISRLU": ("isrlu", (), {}),
    "SQNL": ("sqnl", (), {}),
    "BipolarReLU": ("bipolar_relu", (), {"axis": 1}),
    "Sinc": ("sinc", (), {}),
    "ABReLU": ("abrelu", (0.5,), {"alpha": 0.5}),
    "Maxout": ("maxout", (2,), {"pieces": 2, "axis": 1}),
}


@pytest.mark.parametrize("layer_name", sorted(CASES))
def test_layer_is_its_function(layer_name, rng):
    fn, args, kwargs = CASES[layer_name]
    layer = getattr(nc.nn, layer_name)(*args)
    x = rng.standard_normal((3, 4, 5)) * 3
    y = layer(x)
    np.testing.assert_array_equal(y, getattr(nc, fn)(x, **kwargs))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(dy), getattr(nc, fn + "_backward")(dy, x, **kwargs))
    assert layer.state_dict() == {} and layer.grads == {}
    assert layer_name in repr(layer)


def test_every_catalog_function_has_a_layer():
    functions = {fn for fn, _, _ in CASES.values()} | {"prelu", "rrelu"}
    assert functions == set(nc.ACTIVATIONS)
    assert {*CASES, "PReLU", "RReLU"} <= set(nc.nn.__all__)


def test_signatures_and_arguments():
    assert str(inspect.signature(nc.nn.LeakyReLU)) == "(negative_slope=0.01, inplace=False)"
    assert str(inspect.signature(nc.nn.Softplus)) == "(beta=1.0, threshold=20.0)"
    with pytest.raises(TypeError):
        nc.nn.ReLU(negative_slope=0.1)
    with pytest.raises(TypeError):
        nc.nn.Maxout()  # pieces is required
    with pytest.raises(TypeError, match="real number"):  # checked by the function, at the first call
        nc.nn.ELU("big")(np.ones(3))
    with pytest.raises(RuntimeError, match="forward first"):
        nc.nn.Tanh().backward(np.ones(3))


def test_inplace_writes_into_x_and_keeps_the_gradient(rng):
    x = rng.standard_normal(100)
    x0 = x.copy()
    layer = nc.nn.ELU(inplace=True)
    y = layer(x)
    assert y is x or np.shares_memory(y, x)
    np.testing.assert_array_equal(x, nc.elu(x0))
    dy = rng.standard_normal(100)
    np.testing.assert_array_equal(layer.backward(dy), nc.elu_backward(dy, x0))


def test_modes():
    layer = nc.nn.ReLU()
    assert layer.training
    assert layer.eval() is layer and not layer.training
    assert layer.train() is layer and layer.training
    with pytest.raises(TypeError):
        layer.train("yes")


def test_prelu_layer(rng):
    layer = nc.nn.PReLU(4, init=0.1)
    assert layer.state_dict()["weight"].shape == (4,)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), nc.prelu(x, np.full(4, 0.1, np.float32)))
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dx = layer.backward(dy)
    want_dx, want_dw = nc.prelu_backward(dy, x, np.full(4, 0.1, np.float32))
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(layer.grads["weight"], want_dw)
    layer.load_state_dict({"weight": np.arange(4.0)})
    np.testing.assert_array_equal(layer.weight, np.arange(4.0, dtype=np.float32))
    with pytest.raises(ValueError, match="missing keys.*weight"):
        layer.load_state_dict({})
    with pytest.raises(ValueError, match="unexpected keys.*bias"):
        layer.load_state_dict({"weight": np.ones(4), "bias": np.ones(4)})
    with pytest.raises(ValueError, match="shape"):
        layer.load_state_dict({"weight": np.ones(3)})
    with pytest.raises(ValueError):
        nc.nn.PReLU(0)


def test_rrelu_layer(rng):
    x = rng.standard_normal(1000)
    train = nc.nn.RReLU(rng=7)
    y = train(x)
    slopes = y[x < 0] / x[x < 0]
    assert np.all((slopes >= 1 / 8) & (slopes <= 1 / 3)) and np.ptp(slopes) > 0.1
    dy = rng.standard_normal(1000)
    dx = train.backward(dy)
    np.testing.assert_allclose(dx[x < 0], dy[x < 0] * slopes, rtol=1e-12)
    np.testing.assert_array_equal(nc.nn.RReLU(rng=7)(x), y)  # same seed, same draws
    ev = nc.nn.RReLU().eval()
    np.testing.assert_array_equal(ev(x), nc.leaky_relu(x, (1 / 8 + 1 / 3) / 2))


@needs_torch
def test_prelu_loads_a_pytorch_state_dict(rng):
    import torch

    tl = torch.nn.PReLU(3)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor([0.1, -0.2, 0.3]))
    layer = nc.nn.PReLU(3)
    layer.load_state_dict({k: v.numpy() for k, v in tl.state_dict().items()})
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(x), tl(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)
