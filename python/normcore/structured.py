"""Structured activations — the ones that need an axis, a parameter per channel, a reduction or random draws:
prelu, rrelu, bipolar_relu, abrelu, maxout, softmax and log_softmax, forward and backward.

Arrays are float32 or float64 of any shape, as in :mod:`normcore.activations`; ``out=`` (C-contiguous, the
result's dtype and shape) receives the result and may be the input where the shapes match. ``axis`` may be
negative; an axis the array does not have is a ValueError. ``NAME_backward(grad_output, x, ...)`` returns the
gradient with respect to x (prelu's also the weight's). Names, parameters and defaults follow
``torch.nn.functional``; at kinks the subgradient is PyTorch's; NaN propagates. Sums (prelu's weight gradient,
abrelu's mean, softmax's normalizer) are accumulated in double in a fixed order: the results are bitwise the same
for any number of threads.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from ._checks import integer, one_of_x_y, real

__all__ = [
    "prelu", "rrelu", "bipolar_relu", "abrelu", "maxout", "softmax", "log_softmax",
]
__all__ += [name + "_backward" for name in __all__]

RRELU_LOWER = 1.0 / 8.0
RRELU_UPPER = 1.0 / 3.0


def _flag(value, fname: str, pname: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{fname}: {pname} must be a bool, got {type(value).__name__}")


# ---- prelu ---------------------------------------------------------------------------------------------------

def prelu(x, weight, axis=1, *, out=None):
    """prelu(x) = x if x > 0 else weight[c]·x, with c the index of the element along ``axis``.

    ``weight`` is a scalar or a 1-D array. As in ``torch.nn.functional.prelu``: a weight of one element is
    shared by all elements (any x, ``axis`` unused for x with fewer than 2 dimensions); otherwise it has one
    element per channel along ``axis`` (default 1, PyTorch's channel axis) and x needs at least 2 dimensions —
    a 1-D x has a single channel. PyTorch's rule at zero: ±0 take the slope (prelu(+0) = weight·0)."""
    return _core.prelu(x, weight, integer(axis, "prelu", "axis"), out)


def prelu_backward(grad_output, x, weight, axis=1, *, out=None):
    """(grad_input, grad_weight) of prelu.

    grad_input = grad_output if x > 0 else weight[c]·grad_output;
    grad_weight[c] = Σ over the elements of channel c of (0 if x > 0 else x·grad_output), shaped like weight,
    summed in double in a fixed order (the same bits for any thread count).
    ``out`` is None or a pair (grad_input_out, grad_weight_out), each an array or None."""
    return _core.prelu_backward(grad_output, x, weight, integer(axis, "prelu_backward", "axis"), out)


# ---- rrelu ---------------------------------------------------------------------------------------------------

def _rrelu_bounds(fname, lower, upper):
    lo, hi = real(lower, fname, "lower"), real(upper, fname, "upper")
    if not lo <= hi:
        raise ValueError(f"{fname}: lower ({lo}) must not exceed upper ({hi})")
    return lo, hi


def _generator(rng, fname):
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{fname}: rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def rrelu(x, lower=RRELU_LOWER, upper=RRELU_UPPER, training=False, rng=None, *, noise=None, out=None):
    """Randomized leaky ReLU (Xu et al. 2015), PyTorch's ``rrelu_with_noise``.

    Evaluation (``training=False``): leaky_relu with slope (lower + upper)/2; ``rng`` and ``noise`` are unused.
    Training: noise = r if x ≤ 0 else 1, with r drawn uniformly in [lower, upper] per element
    (r = lower + (upper − lower)·u, u from ``rng.random``), and y = x·noise — PyTorch's sides: x = ±0 draws a
    slope, x > 0 and NaN get 1. ``rng`` is a ``numpy.random.Generator``, an int seed or None (a fresh
    ``default_rng()``); the same seed gives the same result. ``noise=`` (an array shaped like x, same dtype,
    C-contiguous, writable, not sharing memory with x or out) receives the factors for ``rrelu_backward``."""
    lo, hi = _rrelu_bounds("rrelu", lower, upper)
    if not _flag(training, "rrelu", "training"):
        return _core.activation_forward(_core.Activation.leaky_relu, x, out, (lo + hi) / 2)
    gen = _generator(rng, "rrelu")
    return _core.rrelu_with_noise(x, noise, lo, hi, out, lambda a: gen.random(out=a, dtype=a.dtype))


def rrelu_backward(grad_output, x, lower=RRELU_LOWER, upper=RRELU_UPPER, training=False, *, noise=None, out=None):
    """Training: grad_input = grad_output·noise (``noise`` = the factors the forward wrote; required).
    Evaluation: leaky_relu's gradient with slope (lower + upper)/2 (the slope at x = 0, as PyTorch)."""
    lo, hi = _rrelu_bounds("rrelu_backward", lower, upper)
    if not _flag(training, "rrelu_backward", "training"):
        return _core.activation_backward(_core.Activation.leaky_relu, grad_output, x, False, out, (lo + hi) / 2)
    if noise is None:
        raise ValueError("rrelu_backward: training=True needs noise=, the factors the forward used "
                         "(pass an array as rrelu(..., training=True, noise=...) and the same one here)")
    return _core.rrelu_with_noise_backward(grad_output, x, noise, out)


# ---- bipolar_relu, abrelu --------------------------------------------------------------------------------------

def bipolar_relu(x, axis=1, *, out=None):
    """Bipolar ReLU (Eidnes & Nøkland 2017): relu(x) at even indices along ``axis``, −relu(−x) = min(x, 0) at
    odd ones."""
    return _core.bipolar_relu(x, integer(axis, "bipolar_relu", "axis"), out)


def bipolar_relu_backward(grad_output, x, axis=1, *, out=None):
    """grad_input = grad_output where the index's relu is active (x > 0 at even indices, x < 0 at odd ones),
    else 0 (0 at x = 0, as relu)."""
    return _core.bipolar_relu_backward(grad_output, x, integer(axis, "bipolar_relu_backward", "axis"), out)


def abrelu(x, alpha=1.0, *, out=None):
    """Average-biased ReLU: y = max(x − β, 0), β = alpha·mean(x[n]) over all elements of sample n.

    Axis 0 is the batch when x has 2 or more dimensions; a 1-D (or 0-D) x is one sample. The mean is summed in
    double in a fixed order."""
    return _core.abrelu(x, real(alpha, "abrelu", "alpha"), out)


def abrelu_backward(grad_output, x, alpha=1.0, *, out=None):
    """The gradient through x and through β: with g = grad_output where x − β > 0 (else 0) and M elements per
    sample, grad_input = g − (alpha/M)·Σ_sample g."""
    return _core.abrelu_backward(grad_output, x, real(alpha, "abrelu_backward", "alpha"), out)


# ---- maxout ----------------------------------------------------------------------------------------------------

def maxout(x, pieces, axis=1, *, out=None):
    """Maxout (Goodfellow et al. 2013): channel j of the output is the max of input channels
    j·pieces … j·pieces + pieces − 1 along ``axis`` (C channels → C/pieces). A NaN counts as the maximum.
    C not a multiple of pieces, or pieces < 1: ValueError."""
    return _core.maxout(x, integer(pieces, "maxout", "pieces"), integer(axis, "maxout", "axis"), out)


def maxout_backward(grad_output, x, pieces, axis=1, *, out=None):
    """grad_input: grad_output at the first maximal input of each group (the first NaN if any), 0 elsewhere."""
    return _core.maxout_backward(grad_output, x, integer(pieces, "maxout_backward", "pieces"),
                                 integer(axis, "maxout_backward", "axis"), out)


# ---- softmax, log_softmax --------------------------------------------------------------------------------------

def softmax(x, axis=-1, *, out=None):
    """softmax(x) = e^(x − m) / Σ e^(x − m) along ``axis``, m = max x (numerically stable; the rounding of
    x − m is carried into the exponential). A slice holding NaN or +inf, or only −inf, gives NaN (PyTorch)."""
    return _core.softmax(x, integer(axis, "softmax", "axis"), False, out)


def softmax_backward(grad_output, x=None, axis=-1, *, y=None, out=None):
    """grad_input = y·(grad_output − Σ grad_output·y) along ``axis``, y = softmax(x).

    Either the forward's input ``x`` (y recomputed) or its output ``y=`` (PyTorch's form) must be given."""
    xy, from_output = one_of_x_y(x, y, "softmax_backward")
    return _core.softmax_backward(grad_output, xy, integer(axis, "softmax_backward", "axis"), False, from_output, out)


def log_softmax(x, axis=-1, *, out=None):
    """log_softmax(x) = (x − m) − log Σ e^(x − m) along ``axis``, m = max x (the last steps in double for
    float32). A slice holding NaN or +inf, or only −inf, gives NaN (PyTorch)."""
    return _core.softmax(x, integer(axis, "log_softmax", "axis"), True, out)


def log_softmax_backward(grad_output, x=None, axis=-1, *, y=None, out=None):
    """grad_input = grad_output − e^y·Σ grad_output along ``axis``, y = log_softmax(x).

    Either the forward's input ``x`` or its output ``y=`` (PyTorch's form) must be given."""
    xy, from_output = one_of_x_y(x, y, "log_softmax_backward")
    return _core.softmax_backward(grad_output, xy, integer(axis, "log_softmax_backward", "axis"), True, from_output,
                                  out)
