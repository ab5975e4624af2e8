"""Normalization layers in functional form — batch, layer, group, instance and RMS norm — named as in
``torch.nn.functional``.

Each norm has three functions: the PyTorch-compatible one returning ``y``; ``NAME_forward`` returning ``y`` and the
statistics the backward needs (``mean`` and ``rstd = 1/√(var + eps)``, biased variance, in x's dtype); and
``NAME_backward`` taking them and recomputing x̂ = (x − mean)·rstd (llm.c style).

Layouts: batch, group and instance norm take x of shape (N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W), ... with
``channel_axis=1``, or channels-last (N, ..., C) with ``channel_axis=-1``; both are direct fast paths (no transpose).
``weight`` / ``bias`` may be None (then the backward's grad_weight is None; grad_bias = Σ grad_output is always
returned, since the backward does not see the bias). Arrays are float32 or float64 and every array argument must
have x's dtype.

Numerics: statistics in double over cache-sized blocks merged with Chan's formula (float32: one pass per block
of ≤ 8192 values shifted by its first value, variance error ≤ 7e-9 relative; float64: two passes), the mean kept
to twice x's precision when subtracting it, so an input like 1e4 + N(0, 1) in float32 normalizes to float32
accuracy; constant channels give y = bias (never NaN, for eps > 0). The backward's sums over a span of ≥ 128
float32 values (Σg, Σg·x̂, and the parameter gradients' terms) add float terms x̂ = (x − mean)·rstd, 8 to a
partial, into double (about half the instructions of widening every value; on random data dx and the parameter
gradients stay within 1 float32 ulp of the float64 result's largest value; spans whose float terms overflow are
summed again in double). Results are
bitwise identical for any number of threads (``normcore.set_num_threads``).
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from . import _core
from ._checks import real

__all__ = [
    "batch_norm", "batch_norm_forward", "batch_norm_backward",
    "layer_norm", "layer_norm_forward", "layer_norm_backward",
    "group_norm", "group_norm_forward", "group_norm_backward",
    "instance_norm", "instance_norm_forward", "instance_norm_backward",
    "rms_norm", "rms_norm_forward", "rms_norm_backward",
]


# ---- argument checks -------------------------------------------------------------------------------------------

def _eps(fname, eps):
    e = real(eps, fname, "eps")
    if not (e >= 0.0 and math.isfinite(e)):
        raise ValueError(f"{fname}: eps must be a finite number >= 0, got {eps!r}")
    return e


def _int(fname, pname, value):
    if isinstance(value, bool):
        raise TypeError(f"{fname}: {pname} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{fname}: {pname} must be an int, got {type(value).__name__}") from None


def _momentum(fname, momentum, updates):
    """The momentum as a float. momentum=None means a cumulative moving average, which needs the number of batches
    seen (a layer's num_batches_tracked): the functional form refuses it when running statistics are updated."""
    if momentum is None:
        if updates:
            raise ValueError(f"{fname}: momentum=None (cumulative moving average) needs the number of batches "
                             "tracked, which only a layer keeps; pass momentum=1/(num_batches_tracked + 1) instead")
        return 0.0
    m = real(momentum, fname, "momentum")
    if not math.isfinite(m):
        raise ValueError(f"{fname}: momentum must be finite, got {momentum!r}")
    return m


def _array(x):
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def _normalized_ndim(fname, x, normalized_shape):
    """The number of trailing dimensions of x that normalized_shape names (they must match exactly)."""
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        shape = (int(normalized_shape),)
    else:
        try:
            shape = tuple(_int(fname, "normalized_shape", d) for d in normalized_shape)
        except TypeError:
            raise TypeError(f"{fname}: normalized_shape must be an int or a sequence of ints, "
                            f"got {normalized_shape!r}") from None
    if len(shape) == 0:
        raise ValueError(f"{fname}: normalized_shape must have at least one dimension, got ()")
    k = len(shape)
    if k > x.ndim or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"{fname}: normalized_shape {shape} does not match the trailing dimensions of x with shape "
                         f"{tuple(x.shape)}")
    return k


def _rms_eps(fname, x, eps):
    if eps is not None:
        return _eps(fname, eps)
    dt = x.dtype
    return float(np.finfo(dt).eps) if dt.kind == "f" and dt.itemsize in (4, 8) else 0.0  # other dtypes fail below


# ---- batch norm ------------------------------------------------------------------------------------------------

def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5, *,
               channel_axis=1, unbiased_running_var=True, out=None):
    """Batch normalization, per channel over the batch and spatial positions (``torch.nn.functional.batch_norm``).

    y = (x − mean)/√(var + eps)·weight + bias, with the batch's mean and biased variance when ``training`` (the
    running statistics, when given, are then updated in place: r ← (1 − momentum)·r + momentum·batch, running_var
    with the unbiased batch variance, or the biased one when ``unbiased_running_var=False`` as in ONNX/Keras), and
    with ``running_mean`` / ``running_var`` otherwise. Running statistics must be C-contiguous writeable arrays of
    x's dtype and shape (C,). ``momentum=None`` (cumulative average) needs a layer's batch count: ValueError here
    when statistics would be updated. Training with one value per channel is a ValueError, as in PyTorch.
    In eval mode it is the fused pass of ``nc.scale_shift_act`` (identity activation) centred on the running mean,
    (x − running_mean)·(weight/√(running_var + eps)) + bias: unlike the folded x·scale + (bias − mean·scale) (what
    PyTorch computes), it does not cancel when |mean| ≫ std.
    """
    f = "batch_norm"
    e = _eps(f, eps)
    axis = _int(f, "channel_axis", channel_axis)
    if training:
        m = _momentum(f, momentum, running_mean is not None or running_var is not None)
        return _core.batch_norm_forward(x, weight, bias, e, axis, running_mean, running_var, m,
                                        bool(unbiased_running_var), out)[0]
    return _core.batch_norm_inference(x, running_mean, running_var, weight, bias, e, axis, out)


def batch_norm_forward(x, weight, bias, eps=1e-5, *, channel_axis=1, running_mean=None, running_var=None,
                       momentum=0.1, unbiased_running_var=True):
    """Training-mode batch norm returning ``(y, mean, rstd)``, mean and rstd = 1/√(var + eps) of shape (C,).

    Running statistics, when given, are updated in place as in :func:`batch_norm`."""
    f = "batch_norm_forward"
    m = _momentum(f, momentum, running_mean is not None or running_var is not None)
    return _core.batch_norm_forward(x, weight, bias, _eps(f, eps), _int(f, "channel_axis", channel_axis),
                                    running_mean, running_var, m, bool(unbiased_running_var))


def batch_norm_backward(grad_output, x, mean, rstd, weight, *, channel_axis=1):
    """Gradients of training-mode batch norm → ``(grad_input, grad_weight, grad_bias)`` (grad_weight None when
    weight is None). With M = N·S values per channel and x̂ = (x − mean)·rstd:
    grad_bias = Σ dy, grad_weight = Σ dy·x̂, grad_input = weight·rstd·(dy − grad_bias/M − x̂·grad_weight/M)."""
    f = "batch_norm_backward"
    return _core.batch_norm_backward(grad_output, x, mean, rstd, weight, _int(f, "channel_axis", channel_axis))


# ---- layer norm ------------------------------------------------------------------------------------------------

def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, *, out=None):
    """Layer normalization over the trailing dimensions ``normalized_shape`` (``torch.nn.functional.layer_norm``):
    y = (x − mean)/√(var + eps)·weight + bias, weight and bias of shape normalized_shape."""
    f = "layer_norm"
    x = _array(x)
    k = _normalized_ndim(f, x, normalized_shape)
    return _core.layer_norm_forward(x, k, weight, bias, _eps(f, eps), out)[0]


def layer_norm_forward(x, normalized_shape, weight, bias, eps=1e-5):
    """Layer norm returning ``(y, mean, rstd)``, mean and rstd shaped like x's leading dimensions."""
    f = "layer_norm_forward"
    x = _array(x)
    k = _normalized_ndim(f, x, normalized_shape)
    return _core.layer_norm_forward(x, k, weight, bias, _eps(f, eps))


def layer_norm_backward(grad_output, x, normalized_shape, mean, rstd, weight):
    """Gradients of layer norm → ``(grad_input, grad_weight, grad_bias)``. With g = dy·weight and D elements per row:
    grad_input = rstd·(g − Σg/D − x̂·Σ(g·x̂)/D), grad_weight = Σ_rows dy·x̂, grad_bias = Σ_rows dy."""
    f = "layer_norm_backward"
    x = _array(x)
    k = _normalized_ndim(f, x, normalized_shape)
    return _core.layer_norm_backward(grad_output, x, k, mean, rstd, weight)


# ---- group norm ------------------------------------------------------------------------------------------------

def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5, *, channel_axis=1):
    """Group normalization (``torch.nn.functional.group_norm``): statistics per sample over each group of
    C/num_groups consecutive channels and all positions; weight and bias per channel."""
    return group_norm_forward(x, num_groups, weight, bias, eps, channel_axis=channel_axis)[0]


def group_norm_forward(x, num_groups, weight, bias, eps=1e-5, *, channel_axis=1):
    """Group norm returning ``(y, mean, rstd)``, mean and rstd of shape (N, num_groups)."""
    f = "group_norm"
    return _core.group_norm_forward(x, _int(f, "num_groups", num_groups), weight, bias, _eps(f, eps),
                                    _int(f, "channel_axis", channel_axis))


def group_norm_backward(grad_output, x, num_groups, mean, rstd, weight, *, channel_axis=1):
    """Gradients of group norm → ``(grad_input, grad_weight, grad_bias)``. Per (sample, group) of M values, with
    g = dy·weight[c]: grad_input = rstd·(g − Σg/M − x̂·Σ(g·x̂)/M); grad_weight[c] = Σ dy·x̂, grad_bias[c] = Σ dy."""
    f = "group_norm_backward"
    return _core.group_norm_backward(grad_output, x, _int(f, "num_groups", num_groups), mean, rstd, weight,
                                     _int(f, "channel_axis", channel_axis))


# ---- instance norm ---------------------------------------------------------------------------------------------

def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5, *, channel_axis=1):
    """Instance normalization (``torch.nn.functional.instance_norm``): statistics per (sample, channel) over the
    positions. With ``use_input_stats`` the running statistics, when given, are updated in place with the batch
    average of the per-instance mean and unbiased variance (PyTorch); otherwise they normalize x (both required)."""
    f = "instance_norm"
    e = _eps(f, eps)
    axis = _int(f, "channel_axis", channel_axis)
    if use_input_stats:
        m = _momentum(f, momentum, running_mean is not None or running_var is not None)
        return _core.instance_norm_forward(x, weight, bias, e, axis, running_mean, running_var, m, True)[0]
    if running_mean is None or running_var is None:
        raise ValueError(f"{f}: running_mean and running_var must be given when use_input_stats=False")
    return _core.batch_norm_inference(x, running_mean, running_var, weight, bias, e, axis)


def instance_norm_forward(x, weight, bias, eps=1e-5, *, channel_axis=1):
    """Instance norm returning ``(y, mean, rstd)``, mean and rstd of shape (N, C)."""
    f = "instance_norm_forward"
    return _core.instance_norm_forward(x, weight, bias, _eps(f, eps), _int(f, "channel_axis", channel_axis))


def instance_norm_backward(grad_output, x, mean, rstd, weight, *, channel_axis=1):
    """Gradients of instance norm → ``(grad_input, grad_weight, grad_bias)`` (group norm with one channel per
    group)."""
    f = "instance_norm_backward"
    return _core.instance_norm_backward(grad_output, x, mean, rstd, weight, _int(f, "channel_axis", channel_axis))


# ---- RMS norm --------------------------------------------------------------------------------------------------

def rms_norm(x, normalized_shape, weight=None, eps=None):
    """RMS normalization over the trailing dimensions (``torch.nn.functional.rms_norm``):
    y = x/√(mean(x²) + eps)·weight; eps=None means the machine epsilon of x's dtype, as in PyTorch."""
    return rms_norm_forward(x, normalized_shape, weight, eps)[0]


def rms_norm_forward(x, normalized_shape, weight, eps=None):
    """RMS norm returning ``(y, rstd)``, rstd = 1/√(mean(x²) + eps) shaped like x's leading dimensions."""
    f = "rms_norm"
    x = _array(x)
    k = _normalized_ndim(f, x, normalized_shape)
    return _core.rms_norm_forward(x, k, weight, _rms_eps(f, x, eps))


def rms_norm_backward(grad_output, x, normalized_shape, rstd, weight):
    """Gradients of RMS norm → ``(grad_input, grad_weight)``. With g = dy·weight, x̂ = x·rstd and D elements per row:
    grad_input = rstd·(g − x̂·Σ(g·x̂)/D), grad_weight = Σ_rows dy·x̂."""
    f = "rms_norm_backward"
    x = _array(x)
    k = _normalized_ndim(f, x, normalized_shape)
    return _core.rms_norm_backward(grad_output, x, k, rstd, weight)
