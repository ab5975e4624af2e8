"""Float64 NumPy references of the normalization layers, written from the textbook formulas (not from normcore's code).

Every norm here is "standardize x over some axes, then apply a per-channel or per-element affine map". Inputs are
channels-first (N, C, ...) unless a function says otherwise; the tests move axes for channels-last.
"""

from __future__ import annotations

import numpy as np


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def standardize(x, axes, eps):
    """x̂ = (x − mean)/√(var + eps) over `axes` (biased variance), with mean and rstd kept as broadcastable arrays."""
    x = _f64(x)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    return (x - mean) * rstd, mean, rstd


def _channel_param(p, ndim):
    """A (C,) parameter broadcast against (N, C, ...)."""
    return None if p is None else _f64(p).reshape((1, -1) + (1,) * (ndim - 2))


def _affine(xhat, w, b):
    y = xhat if w is None else xhat * w
    return y if b is None else y + b


def _backward(dy, xhat, rstd, w, axes, param_axes):
    """Gradients of y = x̂·w + b with x̂ standardized over `axes`: the classic
    dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w; dw = Σ dy·x̂ and db = Σ dy over `param_axes`."""
    dy = _f64(dy)
    g = dy if w is None else dy * w
    dx = rstd * (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    dw = (dy * xhat).sum(axis=param_axes)
    db = dy.sum(axis=param_axes)
    return dx, dw, db


# ---- batch norm: per channel over N and the positions ----------------------------------------------------------

def batch_norm(x, weight=None, bias=None, eps=1e-5):
    """→ (y, mean (C,), rstd (C,), biased var (C,), unbiased var (C,))."""
    x = _f64(x)
    axes = (0,) + tuple(range(2, x.ndim))
    xhat, mean, rstd = standardize(x, axes, eps)
    y = _affine(xhat, _channel_param(weight, x.ndim), _channel_param(bias, x.ndim))
    n = x.size // x.shape[1]
    var = ((x - mean) ** 2).sum(axis=axes) / n
    return y, mean.ravel(), rstd.ravel(), var, var * n / (n - 1)


def batch_norm_eval(x, running_mean, running_var, weight=None, bias=None, eps=1e-5):
    x = _f64(x)
    m = _channel_param(running_mean, x.ndim)
    v = _channel_param(running_var, x.ndim)
    return _affine((x - m) / np.sqrt(v + eps), _channel_param(weight, x.ndim), _channel_param(bias, x.ndim))


def batch_norm_backward(dy, x, weight=None, eps=1e-5):
    x = _f64(x)
    axes = (0,) + tuple(range(2, x.ndim))
    xhat, _, rstd = standardize(x, axes, eps)
    return _backward(dy, xhat, rstd, _channel_param(weight, x.ndim), axes, axes)


# ---- group and instance norm: per sample over channel groups and positions ------------------------------------

def _grouped(x, groups):
    x = _f64(x)
    n, c = x.shape[:2]
    return x.reshape((n, groups, c // groups) + x.shape[2:])


def group_norm(x, groups, weight=None, bias=None, eps=1e-5):
    """→ (y, mean (N, G), rstd (N, G))."""
    x = _f64(x)
    xg = _grouped(x, groups)
    xhat, mean, rstd = standardize(xg, tuple(range(2, xg.ndim)), eps)
    y = _affine(xhat.reshape(x.shape), _channel_param(weight, x.ndim), _channel_param(bias, x.ndim))
    return y, mean.reshape(x.shape[0], groups), rstd.reshape(x.shape[0], groups)


def group_norm_backward(dy, x, groups, weight=None, eps=1e-5):
    x = _f64(x)
    xg = _grouped(x, groups)
    axes = tuple(range(2, xg.ndim))
    xhat, _, rstd = standardize(xg, axes, eps)
    w = _channel_param(weight, x.ndim)
    g = _f64(dy) if w is None else _f64(dy) * w
    g = g.reshape(xg.shape)
    dx = rstd * (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    pa = (0,) + tuple(range(2, x.ndim))
    xhat = xhat.reshape(x.shape)
    return dx.reshape(x.shape), (_f64(dy) * xhat).sum(axis=pa), _f64(dy).sum(axis=pa)


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """→ (y, mean (N, C), rstd (N, C), unbiased var (N, C))."""
    x = _f64(x)
    axes = tuple(range(2, x.ndim))
    xhat, mean, rstd = standardize(x, axes, eps)
    y = _affine(xhat, _channel_param(weight, x.ndim), _channel_param(bias, x.ndim))
    s = x[0, 0].size
    unbiased = ((x - mean) ** 2).sum(axis=axes) / (s - 1)
    return y, mean.reshape(x.shape[:2]), rstd.reshape(x.shape[:2]), unbiased


def instance_norm_backward(dy, x, weight=None, eps=1e-5):
    return group_norm_backward(dy, x, np.asarray(x).shape[1], weight, eps)


# ---- layer and RMS norm: per row over the trailing k dimensions -------------------------------------------------

def layer_norm(x, k, weight=None, bias=None, eps=1e-5):
    """→ (y, mean, rstd) with the statistics shaped like the leading dimensions."""
    x = _f64(x)
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat, mean, rstd = standardize(x, axes, eps)
    lead = x.shape[: x.ndim - k]
    return _affine(xhat, _f64(weight), _f64(bias)), mean.reshape(lead), rstd.reshape(lead)


def layer_norm_backward(dy, x, k, weight=None, eps=1e-5):
    x = _f64(x)
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat, _, rstd = standardize(x, axes, eps)
    return _backward(dy, xhat, rstd, _f64(weight), axes, tuple(range(x.ndim - k)))


def rms_norm(x, k, weight=None, eps=None):
    """y = x/√(mean(x²) + eps)·weight → (y, rstd); eps None → machine epsilon of x's dtype (PyTorch)."""
    if eps is None:
        eps = float(np.finfo(np.asarray(x).dtype).eps)
    x = _f64(x)
    axes = tuple(range(x.ndim - k, x.ndim))
    rstd = 1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    y = x * rstd
    if weight is not None:
        y = y * _f64(weight)
    return y, rstd.reshape(x.shape[: x.ndim - k])


def rms_norm_backward(dy, x, k, weight=None, eps=None):
    """dx = rstd·(g − x̂·mean(g·x̂)), g = dy·w, x̂ = x·rstd (the mean subtraction of layer norm is absent)."""
    if eps is None:
        eps = float(np.finfo(np.asarray(x).dtype).eps)
    x, dy = _f64(x), _f64(dy)
    axes = tuple(range(x.ndim - k, x.ndim))
    rstd = 1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    xhat = x * rstd
    g = dy if weight is None else dy * _f64(weight)
    dx = rstd * (g - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    return dx, (dy * xhat).sum(axis=tuple(range(x.ndim - k)))
