"""The extended-precision references (tests/reference.py given np.longdouble input) that tools/accuracy.py
measures normcore's float64 kernels against must themselves be far more accurate than the 1e-12 target: checked
here against mpmath at 40 digits on a few hundred inputs per function (mpmath comes with PyTorch; skipped
without it)."""

from __future__ import annotations

import numpy as np
import pytest

import reference as ref

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp

#: Required accuracy of the long-double references: 1000× below the float64 accuracy target (1e-12).
LIMIT = 1e-15


def _sig(z):
    return 1 / (1 + mpmath.exp(-z))


def _elu(x, a=1.0, s=1.0, c=1.0):
    return s * x if x > 0 else s * a * mpmath.expm1(c * x)


def _elu_grad(x, a=1.0, s=1.0, c=1.0):
    return s if x > 0 else s * a * c * mpmath.exp(c * x)


K, C = mpmath.mpf(ref._K), mpmath.mpf(0.044715)
SA, SS = mpmath.mpf(ref.SELU_ALPHA), mpmath.mpf(ref.SELU_SCALE)


def _gelu_tanh_grad(x):
    s = _sig(2 * K * (x + C * x**3))
    return s + 2 * x * s * (1 - s) * K * (1 + 3 * C * x * x)


def _mish(x):
    return x if x > 20 else x * mpmath.tanh(mpmath.log1p(mpmath.exp(x)))


def _mish_grad(x):
    if x > 20:
        return mpmath.mpf(1)
    t = mpmath.tanh(mpmath.log1p(mpmath.exp(x)))
    return t + x * (1 - t * t) * _sig(x)


def _phi(x):
    return mpmath.erfc(-x / mpmath.sqrt(2)) / 2


def _pdf(x):
    return mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)


# name → (reference, mpmath function, reference of the scale errors are relative to or None for |value|)
CASES = {
    "sigmoid": (ref.sigmoid, _sig, None),
    "sigmoid_grad": (ref.sigmoid_grad, lambda x: _sig(x) * _sig(-x), None),
    "elu": (ref.elu, _elu, None),
    "elu_grad": (ref.elu_grad, _elu_grad, None),
    "selu": (ref.selu, lambda x: _elu(x, SA, SS), None),
    "selu_grad": (ref.selu_grad, lambda x: _elu_grad(x, SA, SS), None),
    "celu": (lambda x: ref.celu(x, 1.5), lambda x: _elu(x, 1.5, 1, 1 / mpmath.mpf(1.5)), None),
    "celu_grad": (lambda x: ref.celu_grad(x, 1.5), lambda x: _elu_grad(x, 1.5, 1, 1 / mpmath.mpf(1.5)), None),
    "gelu": (ref.gelu, lambda x: x * _phi(x), None),
    "gelu_grad": (ref.gelu_grad, lambda x: _phi(x) + x * _pdf(x), ref.gelu_grad_scale),
    "gelu_tanh": (ref.gelu_tanh, lambda x: x * _sig(2 * K * (x + C * x**3)), None),
    "gelu_tanh_grad": (ref.gelu_tanh_grad, _gelu_tanh_grad, ref.gelu_tanh_grad_scale),
    "swish": (lambda x: ref.swish(x, 1.5), lambda x: x * _sig(1.5 * x), None),
    "swish_grad": (lambda x: ref.swish_grad(x, 1.5),
                   lambda x: _sig(1.5 * x) * (1 + 1.5 * x * _sig(-1.5 * x)), lambda x: ref.swish_grad_scale(x, 1.5)),
    "mish": (ref.mish, _mish, None),
    "mish_grad": (ref.mish_grad, _mish_grad, ref.mish_grad_scale),
    "softplus": (ref.softplus, lambda x: x if x > 20 else mpmath.log1p(mpmath.exp(x)), None),
    "softplus_grad": (ref.softplus_grad, lambda x: mpmath.mpf(1) if x > 20 else _sig(x), None),
    "log_sigmoid": (ref.log_sigmoid, lambda x: -mpmath.log1p(mpmath.exp(-x)), None),
    "log_sigmoid_grad": (ref.log_sigmoid_grad, lambda x: _sig(-x), None),
    "tanh": (ref.tanh, mpmath.tanh, None),
    "tanh_grad": (ref.tanh_grad, lambda x: mpmath.sech(x) ** 2, None),
    "softsign": (ref.softsign, lambda x: x / (1 + abs(x)), None),
    "softsign_grad": (ref.softsign_grad, lambda x: 1 / (1 + abs(x)) ** 2, None),
    "isru": (ref.isru, lambda x: x / mpmath.sqrt(1 + x * x), None),
    "isru_grad": (ref.isru_grad, lambda x: (1 + x * x) ** mpmath.mpf(-1.5), None),
    "isrlu": (ref.isrlu, lambda x: x if x >= 0 else x / mpmath.sqrt(1 + x * x), None),
    "isrlu_grad": (ref.isrlu_grad, lambda x: 1 if x >= 0 else (1 + x * x) ** mpmath.mpf(-1.5), None),
    "arctan": (ref.arctan, mpmath.atan, None),
    "arctan_grad": (ref.arctan_grad, lambda x: 1 / (1 + x * x), None),
}


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    """300 float64 inputs from the accuracy tool's sweep (uniform and spread over the binades), and the
    regions where formulas cancel: around 0, the derivatives' zeros, the GELU tail, the softplus threshold."""
    sweep = ref.float64_sweep()
    finite = sweep[np.isfinite(sweep) & (np.abs(sweep) > 1e-300)]
    rng = np.random.default_rng(1)
    picks = rng.choice(finite, 260, replace=False)
    special = [1e-9, -1e-9, 1e-3, -0.7517916, -0.75, -1.1924, -1.2785, -1.2785 / 1.5, -3.0, -5.06, -9.5, -27.0,
               -37.5, 19.999, 20.0, 20.001, 0.5, -0.5, 35.0, -60.0]
    return np.concatenate([picks, np.array(special), -np.array(special)])


@pytest.mark.parametrize("name", list(CASES))
def test_longdouble_reference_against_mpmath(name, inputs):
    fn, exact, scale = CASES[name]
    got = fn(inputs.astype(np.longdouble))
    assert got.dtype == np.longdouble
    den = np.abs(got) if scale is None else scale(inputs.astype(np.longdouble))
    with mp.workdps(40):
        for x, g, d in zip(inputs, got, den):
            want = exact(mpmath.mpf(float(x)))
            if want == 0 and g == 0:
                continue
            d = max(abs(want), mpmath.mpf(str(d))) if scale is not None else abs(want)
            if d < mpmath.mpf("2.2250738585072014e-308"):  # below float64's normal range: not measured
                continue
            err = float(abs(mpmath.mpf(str(g)) - want) / d)
            assert err <= LIMIT, (name, float(x), float(want), str(g), err)


def test_longdouble_special_values():
    """±inf and NaN give the formulas' limits in long double as in float64."""
    x = np.array([np.inf, -np.inf, np.nan])
    for name in ("gelu", "gelu_grad", "gelu_tanh", "mish", "swish", "sigmoid", "tanh_grad", "elu", "softplus"):
        fn = getattr(ref, name)
        want, got = fn(x), fn(x.astype(np.longdouble))
        assert got.dtype == np.longdouble
        np.testing.assert_array_equal(got.astype(np.float64), want, err_msg=name)
