"""Float64 NumPy references for the kernels, written from the formulas (not from normcore's code).

Every function takes and returns float64 arrays; the tests and tools/accuracy.py compare normcore against them.
Given np.longdouble input (80-bit extended on x86-64 Linux, 64-bit mantissa) they compute in np.longdouble
instead: tools/accuracy.py measures normcore's float64 kernels against those, whose own error (~1e-18 relative,
a few ulp of long double; ~1e-15 for the erf-based GELU, see :func:`_erfc`) is far below the 1e-12 target.
"""

from __future__ import annotations

import math

import numpy as np


def _f64(x):
    """float64 array of x; np.longdouble arrays stay np.longdouble (extended-precision references)."""
    a = np.asarray(x)
    return a if a.dtype == np.longdouble else np.asarray(a, dtype=np.float64)


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


def identity(x):
    return _f64(x)


def identity_grad(x):
    return np.ones_like(_f64(x))


def binary_step(x, threshold=0.0):
    x = _f64(x)
    return np.where(np.isnan(x), x, np.where(x >= threshold, 1.0, 0.0))


def binary_step_grad(x, threshold=0.0):
    return np.zeros_like(_f64(x))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    x = _f64(x)
    return np.where(np.isnan(x), x, np.minimum(np.maximum(x, min_val), max_val))


def hardtanh_grad(x, min_val=-1.0, max_val=1.0):
    """PyTorch: 1 strictly inside (min_val, max_val), 0 at and beyond the ends and for NaN."""
    x = _f64(x)
    return np.where((x > min_val) & (x < max_val), 1.0, 0.0)


def relu6(x):
    return hardtanh(x, 0.0, 6.0)


def relu6_grad(x):
    return hardtanh_grad(x, 0.0, 6.0)


def thresholded_relu(x, alpha=1.0):
    x = _f64(x)
    return np.where(x <= alpha, 0.0, x)


def thresholded_relu_grad(x, alpha=1.0):
    return np.where(_f64(x) <= alpha, 0.0, 1.0)


def elu(x, alpha=1.0):
    x = _f64(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_grad(x, alpha=1.0):
    x = _f64(x)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x, alpha=SELU_ALPHA, scale=SELU_SCALE):
    return scale * elu(x, alpha)


def selu_grad(x, alpha=SELU_ALPHA, scale=SELU_SCALE):
    return scale * elu_grad(x, alpha)


def celu(x, alpha=1.0):
    x = _f64(x)
    return np.maximum(0, x) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha))


def celu_grad(x, alpha=1.0):
    x = _f64(x)
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha))


_erfc64 = np.frompyfunc(math.erfc, 1, 1)
_TWO_OVER_SQRT_PI_LD = 2 / np.sqrt(np.longdouble("3.14159265358979323846264338327950288"))
_SQRT2_LD = np.sqrt(np.longdouble(2))


def _erfc(t):
    """erfc(t) from libm's float64 erfc (math.erfc, a few ulp). For np.longdouble t, the argument's rounding to
    float64 is corrected to first order: erfc(t) = erfc(t₀) − (t − t₀)·(2/√π)·e^(−t₀²) with t₀ = float64(t)
    (the dropped term is ~(t − t₀)²·t relative, < 1e-30), so the result is as accurate as libm's erfc
    (~1e-15 relative) instead of losing |2t²|·1e-16 to the argument's rounding (1e-13 at t = 27)."""
    t = np.asarray(t)
    if t.dtype != np.longdouble:
        return _erfc64(t).astype(np.float64)
    t0 = t.astype(np.float64)
    base = _erfc64(t0).astype(np.longdouble)
    t0 = t0.astype(np.longdouble)
    finite = np.isfinite(t)
    delta = np.where(finite, t - np.where(finite, t0, 0), 0)  # no correction at ±inf (nor NaN from inf − inf)
    return base - delta * _TWO_OVER_SQRT_PI_LD * np.exp(-t0 * t0)


def _phi(x):
    """Φ(x) = erfc(−x/√2)/2."""
    x = _f64(x)
    return _erfc(-x / (_SQRT2_LD if x.dtype == np.longdouble else math.sqrt(2))) / 2


def gelu(x):
    x = _f64(x)
    with np.errstate(invalid="ignore"):
        return np.where(x == -np.inf, -0.0, x * _phi(x))


def _pdf(x):
    """φ(x) = e^(−x²/2)/√(2π)."""
    return np.exp(-0.5 * x * x) * (_TWO_OVER_SQRT_PI_LD / (2 * _SQRT2_LD) if x.dtype == np.longdouble
                                   else 1 / math.sqrt(2 * math.pi))


def gelu_grad(x):
    x = _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(np.isinf(x), np.where(x > 0, 1.0, 0.0), _phi(x) + x * _pdf(x))


def gelu_grad_scale(x):
    """Φ(x) + |x|·φ(x): the size of gelu′'s two terms, which cancel at its zero (x ≈ −0.75)."""
    x = _f64(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(np.isinf(x), np.where(x > 0, 1.0, 0.0), _phi(x) + np.abs(x) * _pdf(x))


_K = math.sqrt(2 / math.pi)


def gelu_tanh(x):
    """½x(1 + tanh(u)) = x/(1 + e^(−2u)), u = √(2/π)(x + 0.044715x³) (the second form does not cancel)."""
    x = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        u = _K * (x + 0.044715 * x**3)
        return np.where(x == -np.inf, -0.0, x * sigmoid(2 * u))


def gelu_tanh_grad(x):
    x = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        u = _K * (x + 0.044715 * x**3)
        s, sc = sigmoid(2 * u), sigmoid(-2 * u)
        tail = np.where(s * sc == 0, 0.0, 2 * x * s * sc * _K * (1 + 3 * 0.044715 * x * x))
        return s + tail


def gelu_tanh_grad_scale(x):
    """|σ(2u)| + |tail term| of gelu_tanh′ (the terms cancel at its zero)."""
    x = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        u = _K * (x + 0.044715 * x**3)
        s, sc = sigmoid(2 * u), sigmoid(-2 * u)
        tail = np.where(s * sc == 0, 0.0, 2 * x * s * sc * _K * (1 + 3 * 0.044715 * x * x))
        return s + np.abs(tail)


def silu(x):
    return swish(x, 1.0)


def silu_grad(x):
    return swish_grad(x, 1.0)


def swish(x, beta=1.0):
    """x·σ(βx); the limit 0 where x·σ(βx) is ±inf·0."""
    x = _f64(x)
    y = x * sigmoid(beta * x)
    return np.where(np.isinf(x) & np.isnan(y), np.copysign(0.0, x), y)


def swish_grad(x, beta=1.0):
    x = _f64(x)
    with np.errstate(invalid="ignore"):
        bx = beta * x
        return sigmoid(bx) * (1 + np.where(np.isinf(bx), 0.0, bx * sigmoid(-bx)))


def swish_grad_scale(x, beta=1.0):
    """σ(βx)·(1 + |βx|·σ(−βx)): the size of swish′'s two terms (they cancel at its zero, βx ≈ −1.28)."""
    x = _f64(x)
    with np.errstate(invalid="ignore"):
        bx = beta * x
        return sigmoid(bx) * (1 + np.where(np.isinf(bx), 0.0, np.abs(bx) * sigmoid(-bx)))


def silu_grad_scale(x):
    return swish_grad_scale(x, 1.0)


def softplus(x, beta=1.0, threshold=20.0):
    x = _f64(x)
    with np.errstate(invalid="ignore"):
        return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def softplus_grad(x, beta=1.0, threshold=20.0):
    x = _f64(x)
    return np.where(beta * x > threshold, 1.0, sigmoid(beta * x))


def mish(x):
    x = _f64(x)
    return np.where(x > 20, x, np.where(x == -np.inf, -0.0, x * np.tanh(np.logaddexp(0.0, x))))


def mish_grad(x):
    x = _f64(x)
    sp = np.logaddexp(0.0, x)
    t = np.tanh(sp)
    with np.errstate(invalid="ignore"):
        return np.where(x > 20, 1.0, t + np.where(np.isinf(x), 0.0, x * (1 - t * t) * sigmoid(x)))


def mish_grad_scale(x):
    """|tanh(sp)| + |x·sech²(sp)·σ(x)|: the size of mish′'s two terms (they cancel at its zero, x ≈ −1.19)."""
    x = _f64(x)
    sp = np.logaddexp(0.0, x)
    t = np.tanh(sp)
    with np.errstate(invalid="ignore"):
        return np.where(x > 20, 1.0, t + np.where(np.isinf(x), 0.0, np.abs(x) * (1 - t * t) * sigmoid(x)))


def log_sigmoid(x):
    return -np.logaddexp(0.0, -_f64(x))


def log_sigmoid_grad(x):
    return sigmoid(-_f64(x))


def hardsigmoid(x, alpha=1 / 6, beta=0.5):
    x = _f64(x)
    z = alpha * x + beta
    return np.where(np.isnan(z), z, np.clip(z, 0.0, 1.0))


def hardsigmoid_grad(x, alpha=1 / 6, beta=0.5):
    z = alpha * _f64(x) + beta
    return np.where((z <= 0) | (z >= 1), 0.0, alpha)


def tanh(x):
    return np.tanh(_f64(x))


def tanh_grad(x):
    x = _f64(x)
    with np.errstate(over="ignore"):
        return 1 / np.cosh(x) ** 2


def hardswish(x):
    x = _f64(x)
    return x * np.clip(x + 3, 0, 6) / 6


def hardswish_grad(x):
    x = _f64(x)
    return np.where(x < -3, 0.0, np.where(x <= 3, x / 3 + 0.5, 1.0))


def softsign(x):
    x = _f64(x)
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(x), np.sign(x), x / (1 + np.abs(x)))


def softsign_grad(x):
    return 1 / (1 + np.abs(_f64(x))) ** 2


def isru(x, alpha=1.0):
    x = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        big = np.abs(x) > 1e100
        return np.where(big, np.sign(x) / np.sqrt(alpha + 1 / np.where(big, x, 1) ** 2),
                        x / np.sqrt(1 + alpha * np.where(big, 0, x) ** 2))


def isru_grad(x, alpha=1.0):
    x = _f64(x)
    with np.errstate(over="ignore"):
        return (1 / np.sqrt(1 + alpha * x * x)) ** 3


def isrlu(x, alpha=1.0):
    x = _f64(x)
    return np.where(x >= 0, x, isru(x, alpha))


def isrlu_grad(x, alpha=1.0):
    x = _f64(x)
    return np.where(x >= 0, 1.0, isru_grad(x, alpha))


# ---- derivatives as functions of the forward's output y (PyTorch's backward form for these) ------------------
# Exact functions of y: tools/accuracy.py evaluates them at the very y handed to normcore, so they measure the
# backward kernel alone, not the rounding of y.


def sigmoid_grad_from_y(y):
    y = _f64(y)
    return y * (1 - y)


def tanh_grad_from_y(y):
    y = _f64(y)
    return (1 - y) * (1 + y)


def elu_grad_from_y(y, alpha=1.0, scale=1.0, input_scale=1.0):
    """PyTorch's is_result form: scale for y > 0, else input_scale·(y + scale·alpha)."""
    y = _f64(y)
    return np.where(y > 0, scale, input_scale * (y + scale * alpha))


def selu_grad_from_y(y, alpha=SELU_ALPHA, scale=SELU_SCALE):
    return elu_grad_from_y(y, alpha, scale)


def celu_grad_from_y(y, alpha=1.0):
    """y/alpha + 1 = (y + alpha)/alpha for y <= 0."""
    y = _f64(y)
    return np.where(y > 0, 1.0, (y + alpha) / alpha)


def sqnl(x):
    x = _f64(x)
    return np.where(x > 2, 1.0, np.where(x >= 0, x - x * x / 4, np.where(x >= -2, x + x * x / 4,
                                                                             np.where(x < -2, -1.0, x))))


def sqnl_grad(x):
    x = _f64(x)
    return np.where(np.abs(x) > 2, 0.0, 1 - np.abs(x) / 2)


def arctan(x):
    return np.arctan(_f64(x))


def arctan_grad(x):
    x = _f64(x)
    return 1 / (1 + x * x)


def sinc(x):
    """sin(x)/x in 80-bit long double, 1 at 0, 0 at ±inf."""
    x = _f64(x)
    xl = x.astype(np.longdouble)
    safe = np.where((x == 0) | np.isinf(x), 1, xl)
    return np.where(x == 0, 1.0, np.where(np.isinf(x), 0.0, (np.sin(safe) / safe).astype(np.float64)))


def sinc_grad(x):
    """(x·cos x − sin x)/x² in long double; below |x| = 0.05 by its series to x^9 (cancellation)."""
    x = _f64(x)
    xl = x.astype(np.longdouble)
    safe = np.where((x == 0) | np.isinf(x), 1, xl)
    direct = (safe * np.cos(safe) - np.sin(safe)) / (safe * safe)
    z = xl * xl
    series = xl * (-np.longdouble(1) / 3 + z / 30 - z * z / 840 + z**3 / 45360 - z**4 / 3991680)
    out = np.where(np.abs(x) < 0.05, series, direct).astype(np.float64)
    return np.where(np.isinf(x), 0.0, out)


def _quiet(fn):
    """References evaluate their formulas at ±inf and NaN too: no floating-point warnings."""
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def ulp_error(got, want, dtype=np.float32):
    """|got − want| in units in the last place of ``dtype`` at ``want`` (subnormal spacing below the
    normal range). NaN where exactly one is NaN counts as inf, both NaN as 0; infinities must match."""
    got = np.asarray(got, dtype=np.float64)
    want = _f64(want)
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        want = np.where(np.abs(want) > info.max, want.astype(dtype).astype(np.float64), want)  # overflows to ±inf
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
    return np.concatenate([values, specials, table_edges()])


def table_edges():
    """The interval ends of the kernels' piecewise tables (cpp/src/simd/special_tables.inc: widths 0.3125, 0.5, 1
    and 2.5, ends at (i + ½)·width, where the index rounds to the next interval, the last end being a table's limit)
    and the kernels' caps, with their float32 neighbours two either side, both signs."""
    ends = [(i + 0.5) * w for w in (0.3125, 0.5, 1.0, 2.5) for i in range(32)]
    ends += [9.0, 14.0, 14.484375, 19.1, 20.0, 38.7109375]
    v = np.array(ends, dtype=np.float32)
    near = [v]
    for direction in (np.inf, 0.0):
        w = v
        for _ in range(2):
            w = np.nextafter(w, np.float32(direction)).astype(np.float32)
            near.append(w)
    edges = np.concatenate(near)
    return np.concatenate([edges, -edges])


def float64_sweep(lo=-90.0, hi=90.0, count=1 << 20, seed=0):
    """``count`` float64 values: half uniform in [lo, hi] (where the values of the functions are), half spread
    evenly over the float64 bit patterns of [lo, hi] (every binade down to the subnormals), plus specials."""
    def key(v):  # monotone map float64 → int64 over bit patterns (sign-magnitude → two's complement)
        b = np.array(v, dtype=np.float64).view(np.int64)
        return np.where(b < 0, -(b & 0x7FFFFFFFFFFFFFFF), b)

    half = count // 2
    k = np.unique(np.linspace(float(key(lo)), float(key(hi)), half).round().astype(np.int64))
    bits = np.where(k < 0, (-k) | np.int64(-0x8000000000000000), k)
    spread = bits.view(np.float64)
    uniform = np.random.default_rng(seed).uniform(lo, hi, count - half)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, np.finfo(np.float64).tiny,
                         np.finfo(np.float64).max, -np.finfo(np.float64).max])
    return np.concatenate([uniform, spread, specials])


for _name, _fn in list(globals().items()):
    if callable(_fn) and not _name.startswith("_") and _name not in ("ulp_error", "float32_sweep", "float64_sweep") \
            and getattr(_fn, "__module__", None) == __name__:
        globals()[_name] = _quiet(_fn)
