"""Float64 NumPy references for the kernels, written from the formulas (not from normcore's code).

Every function takes and returns float64 arrays; the tests and tools/accuracy.py compare normcore against them.
"""

from __future__ import annotations

import numpy as np


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def relu(x):
    x = _f64(x)
    return np.where(np.isnan(x), x, np.where(x < 0, 0.0, x))


def relu_grad(x):
    """PyTorch's subgradient: 0 at x = 0 (threshold_backward: x <= 0 → 0); NaN x passes the gradient."""
    x = _f64(x)
    return np.where(x <= 0, 0.0, 1.0)


def leaky_relu(x, negative_slope=0.01):
    x = _f64(x)
    return np.where(x > 0, x, x * negative_slope)


def leaky_relu_grad(x, negative_slope=0.01):
    """PyTorch's subgradient: the slope at x = 0."""
    x = _f64(x)
    return np.where(x > 0, 1.0, negative_slope)


def sigmoid(x):
    """1 / (1 + e^(−x)), evaluated without overflow in either tail."""
    x = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x):
    """σ(x)·σ(−x): no 1 − σ cancellation."""
    x = _f64(x)
    return sigmoid(x) * sigmoid(-x)


def ulp_error(got, want, dtype=np.float32):
    """|got − want| in units in the last place of ``dtype`` at ``want`` (subnormal spacing below the
    normal range). NaN where exactly one is NaN counts as inf, both NaN as 0; infinities must match."""
    got = np.asarray(got, dtype=np.float64)
    want = _f64(want)
    info = np.finfo(dtype)
    mag = np.maximum(np.abs(want), info.tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        ulp = np.exp2(np.floor(np.log2(mag)) - info.nmant)
        err = np.abs(got - want) / ulp
    both_nan = np.isnan(got) & np.isnan(want)
    inf_match = np.isinf(want) & (got == want)
    err = np.where(both_nan | inf_match, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def float32_sweep(lo=-90.0, hi=90.0, count=1 << 20):
    """At least ``count`` float32 values spread evenly over the bit patterns of [lo, hi], plus specials."""
    def key(v):  # monotone map float32 → int64 over bit patterns
        b = np.array(v, dtype=np.float32).view(np.int32).astype(np.int64)
        return np.where(b < 0, -(b & 0x7FFFFFFF), b)

    k = np.unique(np.linspace(key(lo), key(hi), count).round().astype(np.int64))
    bits = np.where(k < 0, (-k) | np.int64(0x80000000), k).astype(np.uint32)
    values = bits.view(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40,
                         np.finfo(np.float32).tiny, np.finfo(np.float32).max, -np.finfo(np.float32).max],
                        dtype=np.float32)
    return np.concatenate([values, specials])
