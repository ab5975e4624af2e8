"""Activation functions, forward and backward, named as in ``torch.nn.functional``.

Every function takes float32 or float64 arrays (or array-likes) of any shape and returns an array of the
same dtype and shape; ``out=`` (C-contiguous, same dtype and shape) receives the result and may be the
input itself. Backward functions return the gradient with respect to the input, ``grad_input``.
"""

from __future__ import annotations

from . import _core
from ._checks import one_of_x_y, real

_A = _core.Activation
_fwd = _core.activation_forward
_bwd = _core.activation_backward


def relu(x, *, out=None):
    """relu(x) = max(0, x). NaN propagates."""
    return _fwd(_A.relu, x, out)


def relu_backward(grad_output, x=None, *, y=None, out=None):
    """grad_input = grad_output where x > 0, else 0 (PyTorch's choice at x = 0: 0).

    Either the forward's input ``x`` or its output ``y=`` may be given (y > 0 exactly where x > 0)."""
    xy, from_output = one_of_x_y(x, y, "relu_backward")
    return _bwd(_A.relu, grad_output, xy, from_output, out)


def leaky_relu(x, negative_slope=0.01, *, out=None):
    """leaky_relu(x) = x if x > 0 else negative_slope·x."""
    return _fwd(_A.leaky_relu, x, out, real(negative_slope, "leaky_relu", "negative_slope"))


def leaky_relu_backward(grad_output, x=None, negative_slope=0.01, *, y=None, out=None):
    """grad_input = grad_output if x > 0 else negative_slope·grad_output (PyTorch's choice at x = 0: the slope).

    Either ``x`` or the forward's output ``y=`` (needs negative_slope >= 0, as in PyTorch) may be given."""
    xy, from_output = one_of_x_y(x, y, "leaky_relu_backward")
    a = real(negative_slope, "leaky_relu_backward", "negative_slope")
    return _bwd(_A.leaky_relu, grad_output, xy, from_output, out, a)


def sigmoid(x, *, out=None):
    """sigmoid(x) = 1 / (1 + e^(−x)); sigmoid(+inf) = 1, sigmoid(−inf) = 0. At most 4 ulp from exact in float32."""
    return _fwd(_A.sigmoid, x, out)


def sigmoid_backward(grad_output, x=None, *, y=None, out=None):
    """grad_input = grad_output·σ(x)·(1 − σ(x)).

    From ``x`` it is computed as σ(x)·σ(−x), exact in both tails; from the forward's output ``y=`` as
    y·(1 − y), PyTorch's form. Exactly one of ``x`` and ``y`` must be given."""
    xy, from_output = one_of_x_y(x, y, "sigmoid_backward")
    return _bwd(_A.sigmoid, grad_output, xy, from_output, out)
