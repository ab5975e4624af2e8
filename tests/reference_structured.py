"""NumPy references for the structured activations, written from the formulas (not from normcore's code).

Everything is computed in float64, softmax's family in long double (x − max is then exact for float64 input and
the reference is more precise than the float64 result it is compared with). Arrays come back as float64.
"""

from __future__ import annotations

import numpy as np


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _per_channel(values, ndim, axis):
    """values (C,) shaped to broadcast along ``axis`` of an ndim-D array."""
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(values).reshape(shape)


def _others(ndim, axis):
    return tuple(d for d in range(ndim) if d != axis % ndim)


# ---- prelu: x > 0 ? x : w·x (PyTorch) ------------------------------------------------------------------------

def _slope(x, weight, axis):
    w = _f64(weight).reshape(-1)
    return w[0] if w.size == 1 else _per_channel(w, x.ndim, axis)


def prelu(x, weight, axis=1):
    x = _f64(x)
    return np.where(x > 0, x, _slope(x, weight, axis) * x)


def prelu_grad(dy, x, weight, axis=1):
    """(dx, dw): dx = x > 0 ? dy : w·dy; dw_c = Σ over channel c of (x > 0 ? 0 : x·dy), shaped like weight."""
    x, dy = _f64(x), _f64(dy)
    dx = np.where(x > 0, dy, _slope(x, weight, axis) * dy)
    with np.errstate(invalid="ignore"):
        term = np.where(x > 0, 0.0, x * dy)
    w = np.asarray(weight)
    dw = term.sum() if w.size == 1 else term.sum(axis=_others(x.ndim, axis))
    return dx, np.asarray(dw, dtype=np.float64).reshape(w.shape)


# ---- rrelu in evaluation: leaky_relu with the mean slope ------------------------------------------------------

def rrelu_eval(x, lower=1 / 8, upper=1 / 3):
    x = _f64(x)
    return np.where(x > 0, x, x * ((lower + upper) / 2))


# ---- bipolar_relu: relu at even indices along axis, min(x, 0) at odd ones -------------------------------------

def _odd(x, axis):
    return _per_channel(np.arange(x.shape[axis]) % 2 == 1, x.ndim, axis)


def bipolar_relu(x, axis=1):
    x = _f64(x)
    return np.where(_odd(x, axis), np.minimum(x, 0.0), np.maximum(x, 0.0))


def bipolar_relu_grad(x, axis=1):
    """relu's subgradient (0 at 0, 1 for NaN: PyTorch's threshold_backward passes the gradient) at x resp. −x."""
    x = _f64(x)
    return np.where(_odd(x, axis), ~(x >= 0), ~(x <= 0)).astype(np.float64)


# ---- abrelu: max(x − α·mean(x[n]), 0), axis 0 the batch (1-D: one sample) -------------------------------------

def _samples(x):
    return x.reshape(1, x.size) if x.ndim < 2 else x.reshape(x.shape[0], int(np.prod(x.shape[1:])))


def abrelu(x, alpha=1.0):
    x = _f64(x)
    s = _samples(x)
    if s.size == 0:
        return x.copy()
    beta = alpha * s.mean(axis=1, keepdims=True)
    return np.maximum(s - beta, 0.0).reshape(x.shape)


def abrelu_grad(dy, x, alpha=1.0):
    """g = dy where x − β > 0; dx = g − (α/M)·Σ g (the path through β = α·mean)."""
    x, dy = _f64(x), _f64(dy)
    s, d = _samples(x), _samples(dy)
    if s.size == 0:
        return dy.copy()
    beta = alpha * s.mean(axis=1, keepdims=True)
    g = np.where(s - beta > 0, d, 0.0)
    return (g - alpha / s.shape[1] * g.sum(axis=1, keepdims=True)).reshape(x.shape)


# ---- maxout: max over groups of `pieces` consecutive channels --------------------------------------------------

def _groups(x, pieces, axis):
    """x with the axis moved last and split into (C/pieces, pieces)."""
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(*moved.shape[:-1], moved.shape[-1] // pieces, pieces)


def maxout(x, pieces, axis=1):
    x = _f64(x)
    if x.size == 0:
        shape = list(x.shape)
        shape[axis] //= pieces
        return np.zeros(shape)
    return np.moveaxis(_groups(x, pieces, axis).max(axis=-1), -1, axis)  # np.max propagates NaN


def maxout_grad(dy, x, pieces, axis=1):
    """dy to the first maximal piece of each group, or to its first NaN."""
    x, dy = _f64(x), _f64(dy)
    if x.size == 0:
        return np.zeros(x.shape)
    g = _groups(x, pieces, axis)
    nan = np.isnan(g)
    first = np.where(nan.any(axis=-1), np.argmax(nan, axis=-1), np.argmax(np.where(nan, -np.inf, g), axis=-1))
    onehot = np.arange(pieces) == first[..., None]
    dx = onehot * np.moveaxis(dy, axis, -1)[..., None]
    moved = dx.reshape(*dx.shape[:-2], -1)
    return np.moveaxis(moved, -1, axis)


# ---- softmax, log_softmax (long double) ------------------------------------------------------------------------

def _ld(x):
    return np.asarray(x).astype(np.longdouble)


def _rows(fn):
    """Empty arrays have nothing to reduce: the result is empty too."""
    def wrapper(*args, **kwargs):
        if np.size(args[0]) == 0:
            return np.zeros(np.shape(args[0]))
        return fn(*args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


def _softmax_ld(x, axis):
    x = _ld(x)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        return e / e.sum(axis=axis, keepdims=True)


@_rows
def softmax(x, axis=-1):
    return _softmax_ld(x, axis).astype(np.float64)


@_rows
def log_softmax(x, axis=-1):
    """(x − m) − log Σ e^(x − m), with log Σ = log k + log1p(rest/k) (k elements equal to m, rest = the others'
    sum): log(1 + small) would lose the small part's relative precision even in long double. Where m is not
    finite, the plain formula (e^(inf − inf) = NaN: PyTorch's NaN rows)."""
    x = _ld(x)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        top = x == m
        k = top.sum(axis=axis, keepdims=True)
        rest = np.where(top, 0, np.exp(x - m)).sum(axis=axis, keepdims=True)
        plain = np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
        lse = np.where(np.isfinite(m), np.log(k.astype(np.longdouble)) + np.log1p(rest / k), plain)
        return ((x - m) - lse).astype(np.float64)


@_rows
def softmax_grad(dy, x, axis=-1):
    """dx = y·(dy − Σ dy·y)."""
    y, dy = _softmax_ld(x, axis), _ld(dy)
    with np.errstate(invalid="ignore"):
        return (y * (dy - (dy * y).sum(axis=axis, keepdims=True))).astype(np.float64)


@_rows
def log_softmax_grad(dy, x, axis=-1):
    """dx = dy − softmax(x)·Σ dy."""
    y, dy = _softmax_ld(x, axis), _ld(dy)
    with np.errstate(invalid="ignore"):
        return (dy - y * dy.sum(axis=axis, keepdims=True)).astype(np.float64)
