"""Activation functions, forward and backward, named as in ``torch.nn.functional``.

Every function takes float32 or float64 arrays (or array-likes) of any shape and returns an array of the
same dtype and shape; ``out=`` (C-contiguous, same dtype and shape) receives the result and may be the
input itself. ``NAME_backward(grad_output, x, ...)`` returns the gradient with respect to the input; where
PyTorch computes it from the forward's output, ``NAME_backward(grad_output, y=..., ...)`` works too.
At kinks the subgradient is PyTorch's. NaN propagates; ±inf follow the limits of the formula.
"""

from __future__ import annotations

from . import _core
from ._checks import one_of_x_y, real

__all__ = [
    "identity", "binary_step", "relu", "relu6", "hardtanh", "leaky_relu", "thresholded_relu", "elu", "selu",
    "celu", "gelu", "silu", "swish", "mish", "sigmoid", "log_sigmoid", "hardsigmoid", "tanh", "hardswish",
    "softplus", "softsign", "arctan", "isru", "isrlu", "sqnl", "sinc",
]
__all__ += [name + "_backward" for name in __all__]

_A = _core.Activation
_fwd = _core.activation_forward
_bwd = _core.activation_backward


def _from_x(fname, grad_output, x, op, out, a=0.0, b=0.0, c=0.0):
    if x is None:
        raise TypeError(f"{fname}: missing the forward's input x")
    return _bwd(op, grad_output, x, False, out, a, b, c)


def _from_x_or_y(fname, grad_output, x, y, op, out, a=0.0, b=0.0, c=0.0):
    xy, from_output = one_of_x_y(x, y, fname)
    return _bwd(op, grad_output, xy, from_output, out, a, b, c)


# ---- piecewise linear ------------------------------------------------------------------------------------

def identity(x, *, out=None):
    """identity(x) = x."""
    return _fwd(_A.identity, x, out)


def identity_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output."""
    return _from_x("identity_backward", grad_output, x, _A.identity, out)


def binary_step(x, threshold=0.0, *, out=None):
    """binary_step(x) = 1 if x ≥ threshold else 0 (NaN stays NaN)."""
    return _fwd(_A.binary_step, x, out, real(threshold, "binary_step", "threshold"))


def binary_step_backward(grad_output, x=None, threshold=0.0, *, out=None):
    """The step's gradient is 0 everywhere (and undefined at the threshold): grad_input = 0."""
    return _from_x("binary_step_backward", grad_output, x, _A.binary_step, out,
                   real(threshold, "binary_step_backward", "threshold"))


def relu(x, *, out=None):
    """relu(x) = max(0, x). NaN propagates."""
    return _fwd(_A.relu, x, out)


def relu_backward(grad_output, x=None, *, y=None, out=None):
    """grad_input = grad_output where x > 0, else 0 (PyTorch's choice at x = 0: 0).

    Either the forward's input ``x`` or its output ``y=`` may be given (y > 0 exactly where x > 0)."""
    return _from_x_or_y("relu_backward", grad_output, x, y, _A.relu, out)


def _hardtanh_range(fname, min_val, max_val):
    lo, hi = real(min_val, fname, "min_val"), real(max_val, fname, "max_val")
    if not lo <= hi:
        raise ValueError(f"{fname}: min_val ({lo}) must not exceed max_val ({hi})")
    return lo, hi


def hardtanh(x, min_val=-1.0, max_val=1.0, *, out=None):
    """hardtanh(x) = clamp(x, min_val, max_val)."""
    return _fwd(_A.hardtanh, x, out, *_hardtanh_range("hardtanh", min_val, max_val))


def hardtanh_backward(grad_output, x=None, min_val=-1.0, max_val=1.0, *, y=None, out=None):
    """grad_input = grad_output strictly inside (min_val, max_val), else 0 (PyTorch)."""
    lo, hi = _hardtanh_range("hardtanh_backward", min_val, max_val)
    return _from_x_or_y("hardtanh_backward", grad_output, x, y, _A.hardtanh, out, lo, hi)


def relu6(x, *, out=None):
    """relu6(x) = min(max(0, x), 6) = hardtanh(x, 0, 6)."""
    return _fwd(_A.hardtanh, x, out, 0.0, 6.0)


def relu6_backward(grad_output, x=None, *, y=None, out=None):
    """grad_input = grad_output for 0 < x < 6, else 0 (PyTorch: relu6 is hardtanh(0, 6))."""
    return _from_x_or_y("relu6_backward", grad_output, x, y, _A.hardtanh, out, 0.0, 6.0)


def leaky_relu(x, negative_slope=0.01, *, out=None):
    """leaky_relu(x) = x if x > 0 else negative_slope·x."""
    return _fwd(_A.leaky_relu, x, out, real(negative_slope, "leaky_relu", "negative_slope"))


def leaky_relu_backward(grad_output, x=None, negative_slope=0.01, *, y=None, out=None):
    """grad_input = grad_output if x > 0 else negative_slope·grad_output (PyTorch's choice at 0: the slope).

    Either ``x`` or the forward's output ``y=`` (needs negative_slope >= 0, as in PyTorch) may be given."""
    a = real(negative_slope, "leaky_relu_backward", "negative_slope")
    return _from_x_or_y("leaky_relu_backward", grad_output, x, y, _A.leaky_relu, out, a)


def thresholded_relu(x, alpha=1.0, *, out=None):
    """thresholded_relu(x) = x if x > alpha else 0 (ONNX ThresholdedRelu)."""
    return _fwd(_A.thresholded_relu, x, out, real(alpha, "thresholded_relu", "alpha"))


def thresholded_relu_backward(grad_output, x=None, alpha=1.0, *, out=None):
    """grad_input = grad_output where x > alpha, else 0."""
    return _from_x("thresholded_relu_backward", grad_output, x, _A.thresholded_relu, out,
                   real(alpha, "thresholded_relu_backward", "alpha"))


# ---- the ELU family: f(x) = x > 0 ? scale·x : scale·alpha·(e^(input_scale·x) − 1) --------------------------

def elu(x, alpha=1.0, *, out=None):
    """elu(x) = x if x > 0 else alpha·(e^x − 1) (computed with expm1: exact near 0)."""
    return _fwd(_A.elu, x, out, real(alpha, "elu", "alpha"), 1.0, 1.0)


def elu_backward(grad_output, x=None, alpha=1.0, *, y=None, out=None):
    """grad_input = grad_output if x > 0 else grad_output·alpha·e^x; from y: grad_output·(y + alpha) (PyTorch)."""
    return _from_x_or_y("elu_backward", grad_output, x, y, _A.elu, out,
                        real(alpha, "elu_backward", "alpha"), 1.0, 1.0)


SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def selu(x, alpha=SELU_ALPHA, scale=SELU_SCALE, *, out=None):
    """selu(x) = scale·elu(x, alpha) (Klambauer et al. 2017; ONNX exposes alpha and scale)."""
    return _fwd(_A.elu, x, out, real(alpha, "selu", "alpha"), real(scale, "selu", "scale"), 1.0)


def selu_backward(grad_output, x=None, alpha=SELU_ALPHA, scale=SELU_SCALE, *, y=None, out=None):
    """grad_input = grad_output·scale if x > 0 else grad_output·scale·alpha·e^x; from y: grad_output·(y + scale·alpha)."""
    return _from_x_or_y("selu_backward", grad_output, x, y, _A.elu, out, real(alpha, "selu_backward", "alpha"),
                        real(scale, "selu_backward", "scale"), 1.0)


def _celu_alpha(fname, alpha):
    a = real(alpha, fname, "alpha")
    if a == 0:
        raise ValueError(f"{fname}: alpha must not be 0 (celu divides by it)")
    return a


def celu(x, alpha=1.0, *, out=None):
    """celu(x) = max(0, x) + min(0, alpha·(e^(x/alpha) − 1))."""
    a = _celu_alpha("celu", alpha)
    return _fwd(_A.elu, x, out, a, 1.0, 1.0 / a)


def celu_backward(grad_output, x=None, alpha=1.0, *, y=None, out=None):
    """grad_input = grad_output if x > 0 else grad_output·e^(x/alpha); from y: grad_output·(y/alpha + 1)."""
    a = _celu_alpha("celu_backward", alpha)
    return _from_x_or_y("celu_backward", grad_output, x, y, _A.elu, out, a, 1.0, 1.0 / a)


# ---- smooth ------------------------------------------------------------------------------------------------

def _gelu_op(fname, approximate):
    if approximate == "tanh":
        return _A.gelu_tanh
    if approximate == "none":
        return _A.gelu
    raise ValueError(f"{fname}: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu(x, approximate="none", *, out=None):
    """gelu(x) = x·Φ(x) (approximate="none", the negative tail through erfc, not 1 + erf) or
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (approximate="tanh", computed as x·σ(2u): no cancellation)."""
    return _fwd(_gelu_op("gelu", approximate), x, out)


def gelu_backward(grad_output, x=None, approximate="none", *, out=None):
    """grad_input = grad_output·(Φ(x) + x·φ(x)) or the derivative of the tanh form."""
    return _from_x("gelu_backward", grad_output, x, _gelu_op("gelu_backward", approximate), out)


def silu(x, *, out=None):
    """silu(x) = x·σ(x)."""
    return _fwd(_A.swish, x, out, 1.0)


def silu_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output·σ(x)·(1 + x·σ(−x))."""
    return _from_x("silu_backward", grad_output, x, _A.swish, out, 1.0)


def swish(x, beta=1.0, *, out=None):
    """swish(x) = x·σ(beta·x) (Ramachandran et al. 2017; beta = 1 is silu)."""
    return _fwd(_A.swish, x, out, real(beta, "swish", "beta"))


def swish_backward(grad_output, x=None, beta=1.0, *, out=None):
    """grad_input = grad_output·σ(βx)·(1 + βx·σ(−βx))."""
    return _from_x("swish_backward", grad_output, x, _A.swish, out, real(beta, "swish_backward", "beta"))


def mish(x, *, out=None):
    """mish(x) = x·tanh(softplus(x)) (Misra 2019), from one exponential."""
    return _fwd(_A.mish, x, out)


def mish_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output·(tanh(sp) + x·sech²(sp)·σ(x)), sp = softplus(x)."""
    return _from_x("mish_backward", grad_output, x, _A.mish, out)


def sigmoid(x, *, out=None):
    """sigmoid(x) = 1 / (1 + e^(−x)); sigmoid(+inf) = 1, sigmoid(−inf) = 0."""
    return _fwd(_A.sigmoid, x, out)


def sigmoid_backward(grad_output, x=None, *, y=None, out=None):
    """grad_input = grad_output·σ(x)·(1 − σ(x)).

    From ``x`` it is computed as σ(x)·σ(−x), exact in both tails; from the forward's output ``y=`` as
    y·(1 − y), PyTorch's form. Exactly one of ``x`` and ``y`` must be given."""
    return _from_x_or_y("sigmoid_backward", grad_output, x, y, _A.sigmoid, out)


def log_sigmoid(x, *, out=None):
    """log_sigmoid(x) = log σ(x) = min(x, 0) − log1p(e^(−|x|))."""
    return _fwd(_A.log_sigmoid, x, out)


def log_sigmoid_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output·σ(−x)."""
    return _from_x("log_sigmoid_backward", grad_output, x, _A.log_sigmoid, out)


def hardsigmoid(x, alpha=1 / 6, beta=0.5, *, out=None):
    """hardsigmoid(x) = clamp(alpha·x + beta, 0, 1) (PyTorch's defaults; ONNX uses alpha = 0.2)."""
    return _fwd(_A.hardsigmoid, x, out, real(alpha, "hardsigmoid", "alpha"), real(beta, "hardsigmoid", "beta"))


def hardsigmoid_backward(grad_output, x=None, alpha=1 / 6, beta=0.5, *, out=None):
    """grad_input = grad_output·alpha where 0 < alpha·x + beta < 1, else 0."""
    return _from_x("hardsigmoid_backward", grad_output, x, _A.hardsigmoid, out,
                   real(alpha, "hardsigmoid_backward", "alpha"), real(beta, "hardsigmoid_backward", "beta"))


def tanh(x, *, out=None):
    """tanh(x), from expm1: exact near 0, ±1 in the tails."""
    return _fwd(_A.tanh, x, out)


def tanh_backward(grad_output, x=None, *, y=None, out=None):
    """grad_input = grad_output·(1 − tanh²(x)); from x as sech²(x) (exact in the tails), from y as 1 − y² (PyTorch)."""
    return _from_x_or_y("tanh_backward", grad_output, x, y, _A.tanh, out)


def hardswish(x, *, out=None):
    """hardswish(x) = x·relu6(x + 3)/6 (Howard et al. 2019)."""
    return _fwd(_A.hardswish, x, out)


def hardswish_backward(grad_output, x=None, *, out=None):
    """grad_input = 0 for x < −3, grad_output·(x/3 + ½) for −3 ≤ x ≤ 3, grad_output above (PyTorch)."""
    return _from_x("hardswish_backward", grad_output, x, _A.hardswish, out)


def _softplus_params(fname, beta, threshold):
    b = real(beta, fname, "beta")
    if b == 0:
        raise ValueError(f"{fname}: beta must not be 0 (softplus divides by it)")
    return b, real(threshold, fname, "threshold")


def softplus(x, beta=1.0, threshold=20.0, *, out=None):
    """softplus(x) = log(1 + e^(beta·x))/beta, and x where beta·x > threshold (PyTorch)."""
    return _fwd(_A.softplus, x, out, *_softplus_params("softplus", beta, threshold))


def softplus_backward(grad_output, x=None, beta=1.0, threshold=20.0, *, out=None):
    """grad_input = grad_output·σ(beta·x), and grad_output where beta·x > threshold."""
    return _from_x("softplus_backward", grad_output, x, _A.softplus, out,
                   *_softplus_params("softplus_backward", beta, threshold))


def softsign(x, *, out=None):
    """softsign(x) = x / (1 + |x|)."""
    return _fwd(_A.softsign, x, out)


def softsign_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output / (1 + |x|)²."""
    return _from_x("softsign_backward", grad_output, x, _A.softsign, out)


def isru(x, alpha=1.0, *, out=None):
    """Inverse square root unit: isru(x) = x / √(1 + alpha·x²) (Carlile et al. 2017); overflow-free."""
    return _fwd(_A.isru, x, out, real(alpha, "isru", "alpha"))


def isru_backward(grad_output, x=None, alpha=1.0, *, out=None):
    """grad_input = grad_output·(1 / √(1 + alpha·x²))³."""
    return _from_x("isru_backward", grad_output, x, _A.isru, out, real(alpha, "isru_backward", "alpha"))


def isrlu(x, alpha=1.0, *, out=None):
    """Inverse square root linear unit: x if x ≥ 0 else x / √(1 + alpha·x²)."""
    return _fwd(_A.isrlu, x, out, real(alpha, "isrlu", "alpha"))


def isrlu_backward(grad_output, x=None, alpha=1.0, *, out=None):
    """grad_input = grad_output if x ≥ 0 else grad_output·(1 / √(1 + alpha·x²))³."""
    return _from_x("isrlu_backward", grad_output, x, _A.isrlu, out, real(alpha, "isrlu_backward", "alpha"))


def sqnl(x, *, out=None):
    """Square non-linearity (Wuraola & Patel 2018): 1 (x > 2), x − x²/4 (0 ≤ x ≤ 2), x + x²/4 (−2 ≤ x < 0), −1."""
    return _fwd(_A.sqnl, x, out)


def sqnl_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output·(1 − |x|/2) for |x| ≤ 2, else 0."""
    return _from_x("sqnl_backward", grad_output, x, _A.sqnl, out)



def arctan(x, *, out=None):
    """arctan(x) = atan(x), in (−π/2, π/2)."""
    return _fwd(_A.arctan, x, out)


def arctan_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output / (1 + x²)."""
    return _from_x("arctan_backward", grad_output, x, _A.arctan, out)


def sinc(x, *, out=None):
    """sinc(x) = sin(x)/x, 1 at 0 (unnormalized: numpy.sinc and torch.sinc are sin(πx)/(πx)); 0 at ±inf."""
    return _fwd(_A.sinc, x, out)


def sinc_backward(grad_output, x=None, *, out=None):
    """grad_input = grad_output·(cos x − sinc x)/x (0 at x = 0)."""
    return _from_x("sinc_backward", grad_output, x, _A.sinc, out)
